// actc plot: the SVG renderer (no dependencies: the document is written as text).
#include "Plot.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

using namespace actc;

namespace {

// Okabe-Ito colours (readable with colour-blindness), then a few more.
const char *kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                         "#56B4E9", "#000000", "#F0E442", "#882255", "#44AA99"};
constexpr int kNumColors = 10;

constexpr double kWidth = 900, kPlotLeft = 70, kPlotWidth = 560, kPanelHeight = 230,
                 kPanelGap = 50, kTop = 50, kLegendLeft = 660;

std::string esc(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string num(double v) { return fmt::format("{:.2f}", v); }

/// Tick values: 1, 2 or 5 times a power of ten, about `target` of them over [lo, hi].
std::vector<double> niceTicks(double lo, double hi, int target = 6) {
  double span = hi - lo, raw = span / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string tickLabel(double v) { return fmt::format("{:g}", v); }

std::string orderLabel(unsigned k) {
  if (k == 0)
    return "f(x)";
  if (k <= 3)
    return "f" + std::string(k, '\'') + "(x)";
  return fmt::format("f^({})(x)", k);
}

/// The value range a panel shows: all finite values, unless a few extreme ones (a
/// pole) would flatten the rest; then the 0.5%..99.5% quantiles (lines are clipped).
std::pair<double, double> valueRange(const std::vector<const std::vector<double> *> &all) {
  std::vector<double> v;
  for (const auto *ys : all)
    for (double y : *ys)
      if (std::isfinite(y))
        v.push_back(y);
  if (v.empty())
    return {-1, 1};
  std::sort(v.begin(), v.end());
  double lo = v.front(), hi = v.back();
  double qlo = v[v.size() / 200], qhi = v[v.size() - 1 - v.size() / 200];
  if (hi - lo > 50 * (qhi - qlo) && qhi > qlo) {
    lo = qlo;
    hi = qhi;
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    double pad = std::max(1.0, std::fabs(hi) * 0.1);
    return {lo - pad, hi + pad};
  }
  double pad = 0.06 * (hi - lo);
  return {lo - pad, hi + pad};
}

} // namespace

std::vector<bool> actc::findJumps(const std::vector<double> &ys, double scale) {
  size_t n = ys.size();
  std::vector<bool> jump(n > 0 ? n - 1 : 0, false);
  auto step = [&](long i) -> double { // |y[i+1] - y[i]|, 0 outside or non-finite
    if (i < 0 || (size_t)i + 1 >= n || !std::isfinite(ys[i]) || !std::isfinite(ys[i + 1]))
      return 0;
    return std::fabs(ys[i + 1] - ys[i]);
  };
  for (long i = 0; i + 1 < (long)n; ++i) {
    double d = step(i);
    // Compared with the steps two away, so a lone sample at a jump (f'(0) = 0.5 of
    // ReLU's convention) splits it into two jumps instead of hiding it.
    if (d > 1e-3 * scale && d > 10 * std::max(step(i - 2), step(i + 2)))
      jump[i] = true;
  }
  return jump;
}

std::string actc::renderSvg(const PlotData &data) {
  size_t panels = data.orders.size(), n = data.xs.size();
  double height = kTop + panels * (kPanelHeight + kPanelGap) + 10;
  size_t legendRows = data.series.size() + 4;
  height = std::max(height, kTop + legendRows * 22.0 + 20);
  double xlo = data.xs.front(), xhi = data.xs.back();
  auto px = [&](double x) { return kPlotLeft + (x - xlo) / (xhi - xlo) * kPlotWidth; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{3}</text>\n",
      kWidth, num(height), kPlotLeft, esc(data.title));

  for (size_t p = 0; p < panels; ++p) {
    double top = kTop + p * (kPanelHeight + kPanelGap), bottom = top + kPanelHeight;
    std::vector<const std::vector<double> *> all;
    for (const PlotSeries &s : data.series)
      all.push_back(&s.ys[p]);
    auto [ylo, yhi] = valueRange(all);
    auto py = [&](double y) { return bottom - (y - ylo) / (yhi - ylo) * kPanelHeight; };
    std::string clip = fmt::format("clip{}", p);
    svg += fmt::format("<clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" "
                       "height=\"{}\"/></clipPath>\n",
                       clip, kPlotLeft, num(top), kPlotWidth, kPanelHeight);

    // Non-finite x-ranges first, under everything else: a band per series.
    for (size_t s = 0; s < data.series.size(); ++s) {
      const std::vector<double> &ys = data.series[s].ys[p];
      for (size_t i = 0; i < n;) {
        if (std::isfinite(ys[i])) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j + 1 < n && !std::isfinite(ys[j + 1]))
          ++j;
        double step = n > 1 ? (xhi - xlo) / double(n - 1) : 1;
        double x0 = std::max(xlo, data.xs[i] - step / 2), x1 = std::min(xhi, data.xs[j] + step / 2);
        const char *what = std::isnan(ys[i]) ? "NaN" : ys[i] > 0 ? "+inf" : "-inf";
        svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" "
                           "fill-opacity=\"0.18\"><title>{}: {} for x in [{:g}, {:g}]"
                           "</title></rect>\n",
                           num(px(x0)), num(top), num(std::max(1.0, px(x1) - px(x0))),
                           kPanelHeight, kColors[s % kNumColors],
                           esc(data.series[s].label), what, data.xs[i], data.xs[j]);
        if (px(x1) - px(x0) > 40)
          svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\" "
                             "font-size=\"11\">{}</text>\n",
                             num((px(x0) + px(x1)) / 2), num(top + 14 + 13 * s),
                             kColors[s % kNumColors], what);
        i = j + 1;
      }
    }

    // Grid, axes and tick labels.
    for (double t : niceTicks(xlo, xhi)) {
      svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\"/>\n",
                         num(px(t)), num(top), num(bottom), t == 0 ? "#999" : "#e4e4e4");
      svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                         num(px(t)), num(bottom + 15), tickLabel(t));
    }
    for (double t : niceTicks(ylo, yhi, 5)) {
      svg += fmt::format("<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"{3}\"/>\n",
                         kPlotLeft, kPlotLeft + kPlotWidth, num(py(t)),
                         t == 0 ? "#999" : "#e4e4e4");
      svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                         kPlotLeft - 6, num(py(t) + 4), tickLabel(t));
    }
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                       "stroke=\"#333\"/>\n",
                       kPlotLeft, num(top), kPlotWidth, kPanelHeight);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">x</text>\n",
                       num(kPlotLeft + kPlotWidth / 2), num(bottom + 32));
    svg += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" "
                       "text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                       kPlotLeft - 48, num((top + bottom) / 2), orderLabel(data.orders[p]));

    // The curves: polylines broken at non-finite values and jumps.
    svg += fmt::format("<g clip-path=\"url(#{})\" fill=\"none\" stroke-width=\"1.8\" "
                       "stroke-linejoin=\"round\">\n",
                       clip);
    std::string marks;
    // Marks only where the value is in view (a pole's off-scale side gets none).
    auto inView = [&](double y) { return std::isfinite(y) && y >= ylo && y <= yhi; };
    for (size_t s = 0; s < data.series.size(); ++s) {
      const char *color = kColors[s % kNumColors];
      const std::vector<double> &ys = data.series[s].ys[p];
      double scale = yhi - ylo;
      std::vector<bool> jump = findJumps(ys, scale);
      std::string points;
      size_t run = 0; // points in the current run
      auto flush = [&](size_t last) {
        if (run == 1 && inView(ys[last])) // a lone sample between two breaks: a dot
          marks += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.6\" fill=\"{}\"/>\n",
                               num(px(data.xs[last])), num(py(ys[last])), color);
        else if (run > 1)
          svg += fmt::format("<polyline stroke=\"{}\" points=\"{}\"/>\n", color, points);
        points.clear();
        run = 0;
      };
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(ys[i])) {
          if (run)
            flush(i - 1);
          continue;
        }
        points += num(px(data.xs[i])) + "," + num(std::clamp(py(ys[i]), -1e4, 1e4)) + " ";
        ++run;
        if (i + 1 < n && jump[i]) {
          bool loneBefore = run == 1;
          flush(i);
          // Open circles at both sides of the jump.
          for (size_t k : {i, i + 1})
            if (!(k == i && loneBefore) && inView(ys[k]))
              marks += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.2\" fill=\"white\" "
                                   "stroke=\"{}\" stroke-width=\"1.4\"/>\n",
                                   num(px(data.xs[k])), num(py(ys[k])), color);
        }
      }
      if (run)
        flush(n - 1);
      // Kinks: jumps of the next derivative, marked between the two samples.
      const std::vector<double> &next = data.series[s].next[p];
      if (!next.empty()) {
        auto [nlo, nhi] = valueRange({&next});
        std::vector<bool> kinks = findJumps(next, nhi - nlo);
        for (size_t i = 0; i + 1 < n; ++i)
          if (kinks[i] && !jump[i] && inView(ys[i]) && inView(ys[i + 1])) {
            double cx = px((data.xs[i] + data.xs[i + 1]) / 2), cy = py((ys[i] + ys[i + 1]) / 2);
            marks += fmt::format("<path d=\"M{},{} l4,4 l-4,4 l-4,-4 z\" fill=\"{}\" "
                                 "stroke=\"white\" stroke-width=\"0.8\"/>\n",
                                 num(cx), num(cy - 4), color);
          }
      }
    }
    svg += marks + "</g>\n";
  }

  // Legend: one entry per series, then what the marks mean.
  double ly = kTop + 6;
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-weight=\"bold\">legend</text>\n",
                     kLegendLeft, num(ly));
  for (size_t s = 0; s < data.series.size(); ++s) {
    ly += 22;
    std::string label = data.series[s].label;
    if (label.size() > 34)
      label = label.substr(0, 31) + "...";
    svg += fmt::format("<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"{3}\" "
                       "stroke-width=\"2.5\"/><text x=\"{4}\" y=\"{5}\">{6}</text>\n",
                       kLegendLeft, kLegendLeft + 24, num(ly - 4), kColors[s % kNumColors],
                       kLegendLeft + 30, num(ly), esc(label));
  }
  ly += 30;
  svg += fmt::format(
      "<circle cx=\"{0}\" cy=\"{1}\" r=\"3.2\" fill=\"white\" stroke=\"#333\"/>"
      "<text x=\"{2}\" y=\"{3}\">jump (line broken)</text>\n"
      "<path d=\"M{0},{4} l4,4 l-4,4 l-4,-4 z\" fill=\"#333\"/>"
      "<text x=\"{2}\" y=\"{5}\">kink (next derivative jumps)</text>\n"
      "<rect x=\"{6}\" y=\"{7}\" width=\"16\" height=\"12\" fill=\"#333\" fill-opacity=\"0.18\"/>"
      "<text x=\"{2}\" y=\"{8}\">non-finite (NaN or inf)</text>\n",
      kLegendLeft + 12, num(ly - 4), kLegendLeft + 30, num(ly), num(ly + 22 - 8),
      num(ly + 22), kLegendLeft + 4, num(ly + 44 - 10), num(ly + 44));
  svg += "</svg>\n";
  return svg;
}

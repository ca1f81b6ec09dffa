// actc tour: compile every examples/*.act and print a table of the activations.
#include "Actc.h"
#include "CpuTiming.h"
#include "Plot.h"

#include "act/act.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

using namespace actc;
namespace fs = std::filesystem;

namespace {

const std::vector<double> kPoints = {-3, -1, -0.5, 0, 0.5, 1, 3};

std::string paramSummary(const act::Activation &a) {
  std::string out;
  for (const act::ParamInfo &p : a.params()) {
    if (!out.empty())
      out += " ";
    out += (p.isConst ? "const " : "") + p.name + p.shape();
    if (p.init.size() == 1)
      out += fmt::format("={:g}", p.init[0]);
  }
  return out.empty() ? "-" : out;
}

/// The body of a definition's text: what follows the '=' after its header.
std::string bodyOf(const std::string &text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(')
      ++depth;
    else if (text[i] == ')' && --depth == 0) {
      size_t eq = text.find('=', i);
      return eq == std::string::npos ? text : text.substr(eq + 1);
    }
  }
  return text;
}

std::string oneLine(std::string s, size_t width) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::string out;
  for (char c : s) // squeeze runs of spaces from multi-line definitions
    if (!(c == ' ' && !out.empty() && out.back() == ' '))
      out += c;
  while (!out.empty() && out.front() == ' ')
    out.erase(out.begin());
  if (out.size() > width)
    out = out.substr(0, width - 3) + "...";
  return out;
}

/// f at kPoints in float32 with initial parameter values (1.0 where the source gives
/// none, marked with '*') and extra inputs at 0.
std::string sampleValues(const act::Activation &a, bool &usedDefault) {
  act::TensorShape shape{1, 1, (int64_t)kPoints.size(), act::Layout::NCS};
  std::vector<std::vector<float>> inputs(a.inputs().size(),
                                         std::vector<float>(kPoints.size(), 0.0f));
  inputs[0].assign(kPoints.begin(), kPoints.end());
  std::vector<std::vector<float>> params;
  for (const act::ParamInfo &p : a.params()) {
    if (p.init.empty()) {
      usedDefault = true;
      params.emplace_back((size_t)p.numValues(shape), 1.0f);
    } else {
      std::vector<double> init = p.initialValues(shape);
      params.emplace_back(init.begin(), init.end());
    }
  }
  std::vector<const float *> in, pp;
  for (auto &v : inputs)
    in.push_back(v.data());
  for (auto &v : params)
    pp.push_back(v.data());
  std::vector<float> y(kPoints.size());
  a.forward(shape, in.data(), y.data(), pp.data());
  std::string out;
  for (float v : y)
    out += fmt::format("{:>8.4g}", v);
  return out;
}

/// Elements the tour times each activation on: enough to leave the caches, small
/// enough to keep the tour fast.
constexpr int64_t kTimedChannels = 16, kTimedPositions = 65536;

/// Forward and backward time over memcpy of the forward's bytes (inputs read + output
/// written), measured together on 1M float32 elements, as `actc bench` does.
std::string speedRatios(const act::Activation &a) {
  CpuRun run(a, act::TensorShape{1, kTimedChannels, kTimedPositions, act::Layout::NCS}, -6, 6);
  RoundTimes t = run.measure(/*reps=*/5);
  return fmt::format("{:>7.2f}x {:>7.2f}x", t.forwardMs / t.copyMs,
                     t.backwardMs / t.copyMs);
}

/// f, f', f'' on [-6, 6] in float64, parameters as in sampleValues, extra inputs at 0.
PlotData plotData(const act::Activation &a, const std::string &file) {
  std::map<std::string, std::vector<double>> params;
  std::string label = a.name();
  for (const act::ParamInfo &p : a.params())
    if (p.init.empty()) {
      params[p.name] = {1.0};
      label += " (" + p.name + "=1)";
    }
  for (size_t i = 1; i < a.inputs().size(); ++i)
    label += " (" + a.inputs()[i] + "=0)";
  PlotData data;
  data.title = a.name() + " (" + file + ", f64 kernels)";
  data.xs = linspace(-6, 6, 801);
  data.orders = {0, 1, 2};
  data.series.push_back(samplePlot(a, data.xs, data.orders, params, {}, false, label));
  return data;
}

} // namespace

int actc::runTour(Args &args) {
  std::string dir, plotDir = "act-plots";
  bool plots = true, png = true;
  while (!args.empty()) {
    std::string v;
    if (args.option("--plots", v))
      plotDir = v;
    else if (args.flag("--no-plots"))
      plots = false;
    else if (args.flag("--no-png"))
      png = false;
    else
      args.fileOrError(dir, "tour");
  }
  if (dir.empty())
    dir = "examples";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw UsageError{"'" + dir + "' is not a directory (actc tour [DIR])"};
  std::vector<fs::path> files;
  for (const auto &entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".act")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw UsageError{"no .act files in '" + dir + "'"};

  std::string header = "";
  for (double p : kPoints)
    header += fmt::format("{:>8}", fmt::format("f({:g})", p));
  if (plots) {
    fs::create_directories(plotDir, ec);
    if (!fs::is_directory(plotDir))
      throw UsageError{"cannot create the plot folder '" + plotDir + "'" +
                       (ec ? ": " + ec.message() : "")};
  }
  size_t count = 0, pngs = 0;
  std::string noPng;
  auto start = std::chrono::steady_clock::now();
  bool usedDefault = false;
  for (const fs::path &path : files) {
    act::Module module = act::Module::compileFile(path.string());
    std::cout << fmt::format("\n== {} ({} activations)\n\n", path.string(),
                             module.names().size());
    std::cout << fmt::format("{:<16} {:<40} {:<30}{}  {:<12} {:>8} {:>8}\n", "name", "f(x) =",
                             "parameters", header, "gradcheck", "fwd", "bwd");
    for (const std::string &name : module.names()) {
      const act::Activation &a = module.get(name);
      GradcheckResult g = gradcheck(a);
      double worst = std::max(g.worstInput, g.worstParam);
      std::cout << fmt::format("{:<16} {:<40} {:<30}{}  {:<12} {}\n", name,
                               oneLine(bodyOf(a.formula()), 40),
                               oneLine(paramSummary(a), 30), sampleValues(a, usedDefault),
                               fmt::format("{:.1e} {}", worst, worst <= 1e-5 ? "ok" : "FAIL"),
                               speedRatios(a));
      ++count;
      if (plots) {
        std::string svg = (fs::path(plotDir) / (path.stem().string() + "-" + name + ".svg"))
                              .string();
        if (!writePlotFiles(svg, renderSvg(plotData(a, path.filename().string())), png,
                            noPng)
                 .empty())
          ++pngs;
      }
    }
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                        start)
                  .count();
  std::cout << fmt::format("\n{} activations from {} files compiled and run in {:.0f} ms "
                           "(float32; parameters at their initial values{}).\n"
                           "gradcheck: worst relative error of float64 derivatives (input and "
                           "every parameter) against central differences.\n"
                           "fwd, bwd: float32 forward and backward time over memcpy of the "
                           "forward's bytes, measured together on {} elements\n"
                           "(`actc bench FILE` for the full benchmark against peers).\n",
                           count, files.size(), ms,
                           usedDefault ? ", 1.0 where none is declared" : "",
                           kTimedChannels * kTimedPositions);
  if (plots)
    std::cout << fmt::format("plots: f, f', f'' of each activation on [-6, 6] in {}/ ({} "
                             "SVG{}){}\n",
                             plotDir, count, pngs ? fmt::format(" + {} PNG", pngs) : "",
                             pngs || !png ? "" : " (" + noPng + ")");
  return 0;
}

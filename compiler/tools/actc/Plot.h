// actc plot: f, f', f'' of activations, sampled by act's compiled kernels and drawn
// as SVG (and PNG when rsvg-convert is installed).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace act {
class Activation;
}

namespace actc {

/// One curve: an activation at one parameter setting, sampled at PlotData::xs.
struct PlotSeries {
  std::string label;
  /// ys[k]: the orders[k]-th derivative at each x. next[k]: the next derivative when
  /// it was computed (empty otherwise); a jump there marks a kink in ys[k].
  std::vector<std::vector<double>> ys, next;
};

struct PlotData {
  std::string title;
  std::vector<double> xs;
  std::vector<unsigned> orders;
  std::vector<PlotSeries> series;
};

/// The plot as an SVG document: one panel per order, stacked, with labelled axes and
/// a legend. Lines break at non-finite values and at jumps (open circles mark both
/// sides), kinks get a diamond, non-finite x-ranges a shaded band.
std::string renderSvg(const PlotData &data);

/// Where `x` jumps between samples i and i+1 (both finite): result[i] is true.
/// `scale` is the panel's value range; steps below 1e-3 of it never count.
std::vector<bool> findJumps(const std::vector<double> &ys, double scale);

/// Samples `a` at `xs` in float64 (`f32`: float32 kernels) for derivative `orders`
/// (0 = f), plus the order after the highest for kink marks (up to 8). `params`:
/// values by name (one value, or a whole table); others take their initial values.
/// Extra inputs are held at `inputs[name]` (default 0).
PlotSeries samplePlot(const act::Activation &a, const std::vector<double> &xs,
                      const std::vector<unsigned> &orders,
                      const std::map<std::string, std::vector<double>> &params,
                      const std::map<std::string, double> &inputs, bool f32,
                      const std::string &label);

/// Evenly spaced points from lo to hi, both included.
std::vector<double> linspace(double lo, double hi, size_t count);

/// Writes `svg` to `path`; with `png`, also PATH.png (extension replaced) through
/// rsvg-convert when it is on PATH. Returns the PNG path written, or "" (`why` says
/// why not).
std::string writePlotFiles(const std::string &path, const std::string &svg, bool png,
                           std::string &why);

} // namespace actc

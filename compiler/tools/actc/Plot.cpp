// actc plot: sample activations and their derivatives with the compiled kernels and
// write the picture (renderer in PlotSvg.cpp).
#include "Plot.h"
#include "Actc.h"

#include "act/act.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

using namespace actc;

std::vector<double> actc::linspace(double lo, double hi, size_t count) {
  std::vector<double> xs(count);
  for (size_t i = 0; i < count; ++i) // lo + span * i / (count - 1): hits 0 exactly on -a:a
    xs[i] = count == 1 ? lo : lo + (hi - lo) * double(i) / double(count - 1);
  return xs;
}

namespace {

template <typename T>
void sampleAs(const act::Activation &a, const std::vector<double> &xs, unsigned order,
              const std::vector<std::vector<double>> &inputs,
              const std::vector<std::vector<double>> &params,
              std::vector<std::vector<double>> &outs) {
  act::TensorShape shape{1, 1, (int64_t)xs.size(), act::Layout::NCS};
  std::vector<std::vector<T>> in, pp, out(order + 1, std::vector<T>(xs.size()));
  for (const auto &v : inputs)
    in.emplace_back(v.begin(), v.end());
  for (const auto &v : params)
    pp.emplace_back(v.begin(), v.end());
  std::vector<const T *> inPtrs, paramPtrs;
  std::vector<T *> outPtrs;
  for (auto &v : in)
    inPtrs.push_back(v.data());
  for (auto &v : pp)
    paramPtrs.push_back(v.data());
  for (auto &v : out)
    outPtrs.push_back(v.data());
  a.derivatives(order, shape, inPtrs.data(), outPtrs.data(), paramPtrs.data());
  outs.clear();
  for (auto &v : out)
    outs.emplace_back(v.begin(), v.end());
}

std::string paramNames(const act::Activation &a) {
  std::string out;
  for (const act::ParamInfo &p : a.params())
    out += (out.empty() ? "" : ", ") + p.name + p.shape();
  return out.empty() ? "none" : out;
}

} // namespace

PlotSeries actc::samplePlot(const act::Activation &a, const std::vector<double> &xs,
                            const std::vector<unsigned> &orders,
                            const std::map<std::string, std::vector<double>> &params,
                            const std::map<std::string, double> &inputs, bool f32,
                            const std::string &label) {
  act::TensorShape shape{1, 1, (int64_t)xs.size(), act::Layout::NCS};
  std::vector<std::vector<double>> in{xs}, pp;
  for (size_t i = 1; i < a.inputs().size(); ++i) {
    auto it = inputs.find(a.inputs()[i]);
    in.emplace_back(xs.size(), it == inputs.end() ? 0.0 : it->second);
  }
  for (const act::ParamInfo &p : a.params())
    pp.push_back(paramValuesFor(a, p, shape, params));
  unsigned top = *std::max_element(orders.begin(), orders.end());
  unsigned order = std::min(top + 1, 8u); // one more for the kink marks
  std::vector<std::vector<double>> outs;
  if (f32)
    sampleAs<float>(a, xs, order, in, pp, outs);
  else
    sampleAs<double>(a, xs, order, in, pp, outs);
  PlotSeries s;
  s.label = label;
  for (unsigned k : orders) {
    s.ys.push_back(outs[k]);
    s.next.push_back(k + 1 <= order ? outs[k + 1] : std::vector<double>{});
  }
  return s;
}

std::string actc::writePlotFiles(const std::string &path, const std::string &svg, bool png,
                                 std::string &why) {
  {
    std::ofstream out(path, std::ios::binary);
    if (!out || !(out << svg) || !(out.flush()))
      throw UsageError{"cannot write '" + path + "': " + std::strerror(errno)};
  }
  if (!png)
    return "";
  // rsvg-convert (Debian: librsvg2-bin) is optional: look for it on PATH.
  std::string tool;
  const char *env = std::getenv("PATH");
  std::string dirs = env ? env : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size() && tool.empty();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    std::string candidate = (end > start ? dirs.substr(start, end - start) : ".") +
                            "/rsvg-convert";
    if (::access(candidate.c_str(), X_OK) == 0)
      tool = candidate;
    start = end + 1;
  }
  if (tool.empty()) {
    why = "rsvg-convert not found (Debian package librsvg2-bin); SVG only";
    return "";
  }
  std::string pngPath = path;
  size_t dot = pngPath.rfind('.'), slash = pngPath.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash))
    pngPath.resize(dot);
  pngPath += ".png";
  pid_t pid = ::fork();
  if (pid == 0) {
    const char *argv[] = {tool.c_str(), "-o", pngPath.c_str(), path.c_str(), nullptr};
    ::execv(tool.c_str(), const_cast<char *const *>(argv));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    why = "rsvg-convert failed on '" + path + "'";
    return "";
  }
  return pngPath;
}

namespace {

const char *kPlotUsage = R"(actc plot: f and its derivatives, computed by act's kernels, as SVG

Usage:
  actc plot FILE --fn NAME[,NAME...] -o OUT.svg [options]
  actc plot -e 'act f(x) = ...' -o OUT.svg [options]

Options:
  --fn A,B,...          activations to overlay (optional when FILE defines one)
  --param NAME=V        set a parameter for every plotted activation that has it;
                        repeat a name for several settings (--param beta=0.5
                        --param beta=4: one curve each); a table takes all its
                        values (--param y=0,0.1,...) or one for every entry
  --input NAME=V        value of an extra input (default 0)
  --range LO:HI         x range (default -6:6)
  --order LIST          derivatives to draw, one panel each (default 0,1,2; 0 is f)
  --points N            samples over the range (default 801)
  --dtype f64|f32       kernels to sample (default f64)
  -o, --output PATH     the SVG to write; PATH.png too when rsvg-convert (Debian
                        package librsvg2-bin) is installed
  --no-png              never write the PNG

Lines break at NaN/inf and at jumps (open circles on both sides); a diamond marks
a kink (a jump of the next derivative); shaded bands mark non-finite x-ranges.
)";

std::vector<unsigned> parseOrders(const std::string &text) {
  std::vector<unsigned> orders;
  for (double v : parseNumberList(text, "--order")) {
    if (v != std::floor(v) || v < 0 || v > 7)
      throw UsageError{fmt::format("--order takes derivative orders from 0 (f) to 7 (got "
                                   "'{}')",
                                   text)};
    if (std::find(orders.begin(), orders.end(), (unsigned)v) == orders.end())
      orders.push_back((unsigned)v);
  }
  return orders;
}

std::pair<double, double> parseRange(const std::string &text) {
  size_t sep = text.find(':', 1); // LO:HI; LO,HI as in actc bench
  if (sep == std::string::npos)
    sep = text.find(',', 1);
  if (sep == std::string::npos)
    throw UsageError{"--range expects LO:HI such as -6:6 (got '" + text + "')"};
  double lo = parseNumberList(text.substr(0, sep), "--range")[0];
  double hi = parseNumberList(text.substr(sep + 1), "--range")[0];
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi) || !std::isfinite(hi - lo))
    throw UsageError{"--range needs finite LO < HI, HI - LO finite too (got '" + text + "')"};
  return {lo, hi};
}

std::vector<std::string> splitNames(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string name = text.substr(start, end - start);
    if (name.empty())
      throw UsageError{"--fn expects NAME[,NAME...] (got '" + text + "')"};
    out.push_back(name);
    start = end + 1;
  }
  return out;
}

std::pair<std::string, std::vector<double>> parseAssignment(const std::string &text,
                                                            const std::string &opt) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError{opt + " expects NAME=VALUE, got '" + text + "'"};
  return {text.substr(0, eq), parseNumberList(text.substr(eq + 1), opt + " " + text.substr(0, eq))};
}

std::string valueText(const std::vector<double> &v) {
  return v.size() == 1 ? fmt::format("{:g}", v[0]) : fmt::format("[{} values]", v.size());
}

} // namespace

int actc::runPlot(Args &args) {
  std::string path, source, fnList, output, dtype = "f64";
  std::vector<std::pair<std::string, std::vector<double>>> paramArgs;
  std::map<std::string, double> inputs;
  std::pair<double, double> range{-6, 6};
  std::vector<unsigned> orders{0, 1, 2};
  long points = 801;
  bool png = true;
  while (!args.empty()) {
    std::string v;
    if (args.flag("--help") || args.flag("-h")) {
      std::cout << kPlotUsage;
      return 0;
    }
    if (args.option("-e", v)) {
      source = v;
      path = "<command line>";
    } else if (args.option("--fn", v)) {
      fnList = v;
    } else if (args.option("--param", v)) {
      paramArgs.push_back(parseAssignment(v, "--param"));
    } else if (args.option("--input", v)) {
      auto [name, values] = parseAssignment(v, "--input");
      if (values.size() != 1)
        throw UsageError{"--input " + name + " takes one value (the input is held constant)"};
      if (inputs.count(name))
        throw UsageError{"--input " + name + " given twice (an extra input takes one value "
                         "per plot)"};
      inputs[name] = values[0];
    } else if (args.option("--range", v)) {
      range = parseRange(v);
    } else if (args.option("--order", v)) {
      orders = parseOrders(v);
    } else if (args.option("--points", v)) {
      char *end = nullptr;
      points = std::strtol(v.c_str(), &end, 10);
      if (*end || points < 2 || points > 100000)
        throw UsageError{"--points must be an integer from 2 to 100000 (got '" + v + "')"};
    } else if (args.option("--dtype", v)) {
      if (v != "f64" && v != "f32")
        throw UsageError{"--dtype must be f64 or f32 (got '" + v + "')"};
      dtype = v;
    } else if (args.option("-o", v) || args.option("--output", v)) {
      output = v;
    } else if (args.flag("--no-png")) {
      png = false;
    } else if (source.empty()) {
      args.fileOrError(path, "plot");
      source = readFile(path);
    } else {
      args.fileOrError(path, "plot"); // throws: unknown option or second file
    }
  }
  if (path.empty())
    throw UsageError{"plot needs a FILE or -e 'act f(x) = ...' (see actc plot --help)"};
  if (output.empty())
    throw UsageError{"plot needs the output file: -o OUT.svg"};

  act::Module module = act::Module::compile(source, path);
  std::vector<std::string> fns;
  if (fnList.empty()) {
    if (module.names().size() != 1) {
      std::string names;
      for (const std::string &n : module.names())
        names += (names.empty() ? "" : ", ") + n;
      throw UsageError{"choose activations with --fn A,B (" + names + ")"};
    }
    fns = module.names();
  } else {
    fns = splitNames(fnList);
  }
  // Parameter settings: the values given for each name, names in first-use order.
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::vector<double>>> settings;
  for (const auto &[name, values] : paramArgs) {
    if (!settings.count(name))
      names.push_back(name);
    settings[name].push_back(values);
  }
  for (const std::string &name : names) {
    bool used = false;
    for (const std::string &fn : fns)
      used |= module.get(fn).findParam(name) != nullptr;
    if (!used)
      throw UsageError{"--param " + name + ": no plotted activation has a parameter named '" +
                       name + "' (" + fns[0] + " has: " + paramNames(module.get(fns[0])) +
                       ")"};
  }
  for (const auto &[name, _] : inputs) {
    bool used = false;
    for (const std::string &fn : fns) {
      const auto &in = module.get(fn).inputs();
      used |= std::find(in.begin() + 1, in.end(), name) != in.end();
    }
    if (!used)
      throw UsageError{"--input " + name + ": no plotted activation has an extra input named '" +
                       name + "'"};
  }

  PlotData data;
  data.xs = linspace(range.first, range.second, (size_t)points);
  data.orders = orders;
  for (const std::string &fn : fns) {
    const act::Activation &a = module.get(fn);
    // Every combination of the settings of the parameters this activation has.
    std::vector<std::string> mine;
    for (const std::string &name : names)
      if (a.findParam(name))
        mine.push_back(name);
    std::vector<size_t> pick(mine.size(), 0);
    for (;;) {
      std::map<std::string, std::vector<double>> values;
      std::string label;
      for (size_t i = 0; i < mine.size(); ++i) {
        values[mine[i]] = settings[mine[i]][pick[i]];
        label += (label.empty() ? "" : ", ") + mine[i] + "=" + valueText(values[mine[i]]);
      }
      for (size_t i = 1; i < a.inputs().size(); ++i) {
        auto it = inputs.find(a.inputs()[i]);
        label += (label.empty() ? "" : ", ") +
                 fmt::format("{}={:g}", a.inputs()[i], it == inputs.end() ? 0.0 : it->second);
      }
      data.series.push_back(samplePlot(a, data.xs, orders, values, inputs, dtype == "f32",
                                       label.empty() ? fn : fn + " (" + label + ")"));
      if (data.series.size() > 10)
        throw UsageError{"more than 10 curves in one plot; plot fewer functions or settings"};
      size_t i = 0;
      while (i < pick.size() && ++pick[i] == settings[mine[i]].size())
        pick[i++] = 0;
      if (i == pick.size())
        break;
    }
  }
  std::string fnText;
  for (const std::string &fn : fns)
    fnText += (fnText.empty() ? "" : ", ") + fn;
  data.title = fmt::format("{} ({}, {} kernels)", fnText,
                           path == "<command line>" ? "-e" : path, dtype);
  std::string why;
  std::string pngPath = writePlotFiles(output, renderSvg(data), png, why);
  std::cout << "wrote " << output << " (" << data.series.size() << " curve"
            << (data.series.size() == 1 ? "" : "s") << ", " << orders.size() << " panel"
            << (orders.size() == 1 ? "" : "s") << ", " << points << " points)\n";
  if (!pngPath.empty())
    std::cout << "wrote " << pngPath << "\n";
  else if (png)
    std::cout << "no PNG: " << why << "\n";
  return 0;
}

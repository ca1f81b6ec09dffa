// actc accuracy: float32 forward and first derivative against the float64 kernels of
// the same activation, over a dense grid and the extremes (docs/numerics.md).
#include "Actc.h"
#include "CpuTiming.h"

#include "act/act.h"

#include <fmt/core.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <iostream>
#include <limits>

using namespace actc;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// The inputs: a dense grid on [-100, 100] and the extremes, all float32 values.
std::vector<float> accuracyPoints() {
  std::vector<float> xs;
  for (int i = 0; i <= 40000; ++i)
    xs.push_back((float)(-100.0 + 200.0 * i / 40000.0));
  for (float x : {1e30f, 88.7f, 1e4f, 1e-3f, 1e-20f, FLT_MIN, 1e-40f, FLT_TRUE_MIN, 0.0f})
    xs.insert(xs.end(), {x, -x});
  xs.insert(xs.end(), {(float)kInf, -(float)kInf, std::numeric_limits<float>::quiet_NaN()});
  return xs;
}

/// A float32 ulp at the magnitude of `r` (subnormal spacing below FLT_MIN).
double ulpOf(double r) {
  double a = std::fabs(r);
  if (a < FLT_MIN)
    return std::ldexp(1.0, -149);
  return std::ldexp(1.0, std::ilogb(a) - 23);
}

} // namespace

AccuracyStats::Point AccuracyStats::add(double x, double got, double ref, double dref) {
  ++count;
  Point p;
  if (std::isnan(ref)) {
    if (!std::isnan(got))
      fail(x, got, ref, "NaN expected");
    return p;
  }
  if (std::isnan(got)) {
    fail(x, got, ref, "NaN");
    return p;
  }
  float rounded = (float)ref;
  if (std::isinf(rounded)) { // beyond float32: the correctly signed infinity
    if (got != (double)rounded)
      fail(x, got, ref, "overflow");
    return p;
  }
  if (std::isinf(got)) {
    fail(x, got, ref, "not finite");
    return p;
  }
  double err = std::fabs(got - ref);
  double tol = std::max(4 * ulpOf(ref), 1e-6 * std::fabs(ref));
  p.ulps = err / ulpOf(ref);
  p.ratio = err / tol;
  // The condition number |x f'(x) / f(x)|: how much a relative change of the input
  // changes the result. A float32 kernel cannot beat tol * cond in general.
  double cond = 1;
  if (std::isfinite(x) && x != 0 && std::isfinite(dref)) {
    double num = std::fabs(x * dref);
    cond = ref != 0 ? num / std::fabs(ref) : (num == 0 ? 1 : kInf);
  }
  p.condRatio = p.ratio / std::max(1.0, cond);
  if (p.ulps > worstUlps) {
    worstUlps = p.ulps;
    worstX = x;
  }
  if (std::fabs(ref) >= FLT_MIN)
    worstRel = std::max(worstRel, err / std::fabs(ref));
  worstCondRatio = std::max(worstCondRatio, p.condRatio);
  if (p.ratio > 1) {
    if (p.condRatio <= 1)
      ++conditioned;
    else
      fail(x, got, ref, fmt::format("{:.1f} ulp", p.ulps));
  }
  return p;
}

void AccuracyStats::fail(double x, double got, double ref, const std::string &why) {
  ++failures;
  if (examples.size() < 4)
    examples.push_back(fmt::format("x={:g}: got {:g}, float64 {:.17g} ({})", x, got, ref, why));
}

std::string AccuracyStats::status() const {
  if (failures)
    return "FAIL";
  return conditioned ? "ok (cond)" : "ok";
}

AccuracyResult actc::accuracy(const act::Activation &a) {
  AccuracyResult result;
  std::vector<float> xs = accuracyPoints();
  const int64_t n = (int64_t)xs.size();
  act::TensorShape shape{1, 1, n, act::Layout::NCS};

  // Parameters at their initial values (1 where the source gives none), rounded to
  // float32 so both kernels compute the same function.
  std::vector<std::vector<float>> pf = defaultParams(a, shape);
  std::vector<std::vector<double>> pd;
  for (const std::vector<float> &v : pf)
    pd.emplace_back(v.begin(), v.end());
  std::vector<const float *> ppf;
  std::vector<const double *> ppd;
  for (size_t k = 0; k < pf.size(); ++k) {
    ppf.push_back(pf[k].data());
    ppd.push_back(pd[k].data());
  }

  // Extra inputs (FReLU's t): a smooth function crossing x, the same in both types.
  std::vector<std::vector<float>> inf(a.inputs().size(), xs);
  for (size_t i = 1; i < inf.size(); ++i)
    for (int64_t j = 0; j < n; ++j)
      inf[i][(size_t)j] = std::isfinite(xs[(size_t)j])
                              ? (float)(3.0 * std::sin(1.3 * xs[(size_t)j] + (double)i))
                              : 0.5f;
  std::vector<std::vector<double>> ind;
  std::vector<const float *> inpf;
  std::vector<const double *> inpd;
  for (auto &v : inf) {
    ind.emplace_back(v.begin(), v.end());
    inpf.push_back(v.data());
  }
  for (auto &v : ind)
    inpd.push_back(v.data());

  std::vector<std::vector<float>> of(2, std::vector<float>((size_t)n));
  std::vector<std::vector<double>> od(3, std::vector<double>((size_t)n));
  float *outf[] = {of[0].data(), of[1].data()};
  double *outd[] = {od[0].data(), od[1].data(), od[2].data()};
  a.derivatives(1, shape, inpf.data(), outf, ppf.empty() ? nullptr : ppf.data());
  a.derivatives(2, shape, inpd.data(), outd, ppd.empty() ? nullptr : ppd.data());
  // f from the forward kernel, what forward() gives (a body of its own); f' from the
  // derivative kernel.
  std::vector<float> yf((size_t)n);
  a.forward(shape, inpf.data(), yf.data(), ppf.empty() ? nullptr : ppf.data());
  for (int64_t j = 0; j < n; ++j) {
    size_t i = (size_t)j;
    result.forward.add(xs[i], yf[i], od[0][i], od[1][i]);
    result.derivative.add(xs[i], of[1][i], od[1][i], od[2][i]);
  }
  return result;
}

int actc::runAccuracy(Args &args) {
  std::string path, fn;
  bool verbose = false;
  while (!args.empty()) {
    std::string v;
    if (args.option("--fn", v))
      fn = v;
    else if (args.flag("--verbose") || args.flag("-v"))
      verbose = true;
    else
      args.fileOrError(path, "accuracy");
  }
  if (path.empty())
    throw UsageError{"accuracy needs a FILE"};
  act::Module module = act::Module::compileFile(path);
  std::vector<std::string> names = module.names();
  if (!fn.empty()) {
    module.get(fn); // throws with a suggestion when unknown
    names = {fn};
  }
  std::cout << fmt::format("{:<18} {:>9} {:>9} {:>10} {:>9} {:>9} {:>10}  {}\n", "activation",
                           "f ulp", "f rel", "f status", "f' ulp", "f' rel", "f' status",
                           "");
  bool ok = true;
  for (const std::string &name : names) {
    AccuracyResult r = accuracy(module.get(name));
    ok &= !r.forward.failures && !r.derivative.failures;
    std::cout << fmt::format("{:<18} {:>9.3g} {:>9.2e} {:>10} {:>9.3g} {:>9.2e} {:>10}\n", name,
                             r.forward.worstUlps, r.forward.worstRel, r.forward.status(),
                             r.derivative.worstUlps, r.derivative.worstRel,
                             r.derivative.status());
    for (auto [what, s] : {std::pair{"f", &r.forward}, std::pair{"f'", &r.derivative}}) {
      if (verbose)
        std::cout << fmt::format("  {}: worst {:.3g} ulp at x={:g}; {} of {} points "
                                 "within the budget only after the condition number\n",
                                 what, s->worstUlps, s->worstX, s->conditioned, s->count);
      for (const std::string &e : s->examples)
        std::cout << "  " << what << " " << e << "\n";
    }
  }
  std::cout << "float32 against the float64 kernels at the same inputs, on [-100, 100] "
               "and the extremes;\nbudget: max(4 ulp, 1e-6 relative); 'ok (cond)': "
               "within budget * condition number where\nthe function is ill-conditioned "
               "(docs/numerics.md)\n";
  return ok ? 0 : 1;
}

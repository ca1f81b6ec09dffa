// actc gradcheck: compiled derivatives against float64 central differences.
#include "Actc.h"

#include "act/act.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

using namespace actc;

namespace {

/// One evaluation context: a single element, the activation's parameters at fixed
/// values (each parameter a vector of numValues for a 1x1x1 tensor).
struct Point {
  std::vector<double> inputs;
  std::vector<std::vector<double>> params;
};

const act::TensorShape kOne{1, 1, 1, act::Layout::NCS};

double forward(const act::Activation &a, const Point &p) {
  std::vector<const double *> in, pp;
  for (const double &v : p.inputs)
    in.push_back(&v);
  for (const auto &v : p.params)
    pp.push_back(v.data());
  double y = 0;
  a.forward(kOne, in.data(), &y, pp.data());
  return y;
}

/// Central difference of f in the value `*slot` points at, and the two one-sided
/// ones (to recognise kinks, where the derivative is a convention, not a limit).
struct Difference {
  double central, left, right;
};
Difference difference(const act::Activation &a, Point &p, double *slot) {
  double v = *slot, h = 1e-6 * std::max(1.0, std::fabs(v));
  double f0 = forward(a, p);
  *slot = v + h;
  double fp = forward(a, p);
  *slot = v - h;
  double fm = forward(a, p);
  *slot = v;
  return {(fp - fm) / (2 * h), (f0 - fm) / h, (fp - f0) / h};
}

double relError(double got, double want) {
  if (std::isnan(got) || std::isnan(want))
    return std::isnan(got) && std::isnan(want) ? 0 : INFINITY;
  return std::fabs(got - want) / std::max(1.0, std::fabs(want));
}

} // namespace

GradcheckResult actc::gradcheck(const act::Activation &a, unsigned seed) {
  GradcheckResult result;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> wide(-10, 10), jitter(-0.5, 0.5), pos(0.5, 1.5);

  std::vector<double> xs;
  for (int i = 0; i <= 240; ++i)
    xs.push_back(-6 + 0.05 * i + 1e-4); // a dense grid, off the usual kinks
  for (int i = 0; i < 60; ++i)
    xs.push_back(wide(rng));

  for (int set = 0; set < 3; ++set) { // initial values, then two random settings
    Point p;
    for (const act::ParamInfo &info : a.params()) {
      std::vector<double> v = info.init.empty() ? std::vector<double>((size_t)info.numValues(kOne), 1.0)
                                                : info.initialValues(kOne);
      if (set > 0)
        for (double &e : v)
          e = info.init.empty() ? pos(rng) : e + jitter(rng);
      if (info.tableLength && set > 0) // keep tables' bounds ordered
        std::sort(v.begin(), v.end());
      p.params.push_back(v);
    }
    // pwl bounds (bl < br) stay ordered: nudge parameters named like bounds apart.
    for (double x : xs) {
      p.inputs.assign(a.inputs().size(), 0.0);
      p.inputs[0] = x;
      for (size_t i = 1; i < p.inputs.size(); ++i)
        p.inputs[i] = 0.3 * wide(rng);

      // Compiled gradients at this point (dy = 1, a one-element tensor).
      std::vector<const double *> in, pp;
      for (const double &v : p.inputs)
        in.push_back(&v);
      for (const auto &v : p.params)
        pp.push_back(v.data());
      double dy = 1;
      std::vector<double> din(p.inputs.size());
      std::vector<double *> dinPtrs;
      for (double &d : din)
        dinPtrs.push_back(&d);
      std::vector<std::vector<double>> dp(p.params.size());
      std::vector<double *> dpPtrs;
      for (size_t k = 0; k < p.params.size(); ++k) {
        dp[k].resize(p.params[k].size());
        dpPtrs.push_back(dp[k].data());
      }
      a.backward(kOne, in.data(), &dy, dinPtrs.data(), dpPtrs.data(), pp.data());

      auto check = [&](double got, double *slot, double &worst) {
        Difference d = difference(a, p, slot);
        if (!std::isfinite(d.central))
          return;
        // A kink: one-sided slopes disagree, so the derivative is a convention.
        if (relError(d.left, d.right) > 1e-3) {
          ++result.kinks;
          return;
        }
        ++result.checked;
        worst = std::max(worst, relError(got, d.central));
      };
      for (size_t i = 0; i < p.inputs.size(); ++i)
        check(din[i], &p.inputs[i], result.worstInput);
      for (size_t k = 0; k < p.params.size(); ++k) {
        if (a.params()[k].isConst)
          continue;
        for (size_t e = 0; e < p.params[k].size(); ++e)
          check(dp[k][e], &p.params[k][e], result.worstParam);
      }
    }
  }
  return result;
}

int actc::runGradcheck(Args &args) {
  std::string path, fn;
  double tolerance = 1e-5;
  while (!args.empty()) {
    std::string v;
    if (args.option("--fn", v))
      fn = v;
    else if (args.option("--tol", v))
      tolerance = parseNumberList(v, "--tol").at(0);
    else
      args.fileOrError(path, "gradcheck");
  }
  if (path.empty())
    throw UsageError{"gradcheck needs a FILE"};
  act::Module module = act::Module::compileFile(path);
  std::vector<std::string> names = module.names();
  if (!fn.empty()) {
    module.get(fn); // throws with a suggestion when unknown
    names = {fn};
  }
  std::cout << fmt::format("{:<18} {:>12} {:>12} {:>8} {:>6}  {}\n", "activation",
                           "worst dx", "worst dparam", "checked", "kinks", "status");
  bool ok = true;
  for (const std::string &name : names) {
    GradcheckResult r = gradcheck(module.get(name));
    bool pass = r.worstInput <= tolerance && r.worstParam <= tolerance;
    ok &= pass;
    std::cout << fmt::format("{:<18} {:>12.2e} {:>12.2e} {:>8} {:>6}  {}\n", name,
                             r.worstInput, r.worstParam, r.checked, r.kinks,
                             pass ? "ok" : "FAIL");
  }
  std::cout << fmt::format("relative error of float64 derivatives against central "
                           "differences (tolerance {:g}); kinks are skipped\n",
                           tolerance);
  return ok ? 0 : 1;
}

// The accuracy budget (docs/numerics.md): float32 forward and first derivative of
// every seed against independent long-double references (Reference.h,
// ReferenceDerivatives.h) at the float inputs and float parameters the kernel gets,
// over a dense grid on [-100, 100] plus -1e30, -88.7, 88.7, 1e30, subnormals, +-0,
// +-inf and NaN.
//
// Budget: |got - ref| <= max(4 ulp(ref), 1e-6 |ref|) (ulp of float32; subnormal
// spacing below FLT_MIN). Results must be finite wherever the reference is finite and
// representable, and NaN in gives NaN out (forward). The documented exceptions
// (kExceptions, docs/numerics.md) are measured against the condition-number bound
// budget * max(1, |x f'(x) / f(x)|) instead. An activation not listed must meet the
// plain budget.
#include "ReferenceDerivatives.h"
#include "TestSupport.h"
#include "act/act.h"

#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>

using namespace act_ref;

namespace {
using act_test::seeds;

enum class Allow { Budget, Cond };

/// Parameters flattened in declaration order (a table contributes its entries).
using Params = std::vector<LD>;
using Fn = std::function<LD(LD x, LD t, const Params &p)>;

struct Seed {
  const char *name;
  Fn f, df;
  Allow fAllow = Allow::Budget, dfAllow = Allow::Budget;
};

Fn one(LD (*g)(LD)) {
  return [g](LD x, LD, const Params &) { return g(x); };
}
Fn withP0(LD (*g)(LD, LD)) {
  return [g](LD x, LD, const Params &p) { return g(x, p[0]); };
}
std::vector<LD> table(const Params &p) { return std::vector<LD>(p.begin(), p.begin() + 17); }

const std::vector<Seed> &seedTable() {
  static const std::vector<Seed> seeds = {
      {"sigmoid_", one(sigm), one(dSigmoidRef)},
      {"hard_sigmoid_", one(hardSigmoidRef), one(dHardSigmoidRef)},
      {"tanh_", one([](LD x) { return std::tanh(x); }), one(dTanhRef)},
      {"relu_", one(reluRef), one(dReluRef)},
      {"softplus_", one(softplusRef), one(dSoftplusRef)},
      {"relu6_", one(relu6Ref), one(dRelu6Ref)},
      {"leaky_relu", withP0(leakyReluRef), withP0(dLeakyReluRef)},
      {"prelu", withP0(preluRef), withP0(dPreluRef)},
      {"elu", withP0(eluRef), withP0(dEluRef)},
      {"selu", one(seluRef), one(dSeluRef)},
      {"swish", withP0(swishRef), withP0(dSwishRef), Allow::Cond, Allow::Cond},
      {"hard_swish_", one(hardSwishRef), one(dHardSwishRef)},
      {"mish", one(mishRef), one(dMishRef), Allow::Cond, Allow::Cond},
      {"gelu_", one(geluRef), one(dGeluRef), Allow::Budget, Allow::Cond},
      {"gelu_tanh_", one(geluTanhRef), one(dGeluTanhRef), Allow::Cond, Allow::Cond},
      {"acon_a", [](LD x, LD, const Params &p) { return smoothMax2(x, 0, p[0]); },
       [](LD x, LD, const Params &p) { return dSmoothMaxLinear(x, 1, 0, p[0]); }, Allow::Cond,
       Allow::Cond},
      {"acon_b", [](LD x, LD, const Params &p) { return aconBRef(x, p[0], p[1]); },
       [](LD x, LD, const Params &p) { return dAconBRef(x, p[0], p[1]); }},
      {"acon_c", [](LD x, LD, const Params &p) { return aconCRef(x, p[0], p[1], p[2]); },
       [](LD x, LD, const Params &p) { return dAconCRef(x, p[0], p[1], p[2]); }, Allow::Cond,
       Allow::Cond},
      {"meta_acon_c", [](LD x, LD, const Params &p) { return aconCRef(x, p[0], p[1], p[2]); },
       [](LD x, LD, const Params &p) { return dAconCRef(x, p[0], p[1], p[2]); }, Allow::Cond,
       Allow::Cond},
      {"pwlu",
       [](LD x, LD, const Params &p) { return pwlKnotRef(x, table(p), p[17], p[18], p[19], p[20]); },
       [](LD x, LD, const Params &p) {
         return dPwlRef(x, table(p), p[17], p[18], p[19], p[20]);
       }},
      {"frelu", [](LD x, LD t, const Params &) { return freluRef(x, t); },
       [](LD x, LD t, const Params &) { return dFreluRef(x, t); }},
      {"max_x_sigmoid", one(maxXSigmoidRef), one(dMaxXSigmoidRef)},
      {"cos_minus_x", one(cosMinusXRef), one(dCosMinusXRef), Allow::Cond},
      {"min_x_sin", one(minXSinRef), one(dMinXSinRef)},
      {"atan_sq_minus_x", one(atanSqMinusXRef), one(dAtanSqMinusXRef)},
      {"x_asinh_sq", one(xAsinhSqRef), one(dXAsinhSqRef)},
  };
  return seeds;
}

std::vector<float> points() {
  std::vector<float> xs;
  for (int i = 0; i <= 40000; ++i)
    xs.push_back((float)(-100.0 + 200.0 * i / 40000.0));
  for (float x : {1e30f, 88.7f, 1e4f, 1e-3f, 1e-20f, FLT_MIN, 1e-40f, FLT_TRUE_MIN, 0.0f})
    xs.insert(xs.end(), {x, -x});
  float inf = std::numeric_limits<float>::infinity();
  xs.insert(xs.end(), {inf, -inf, std::numeric_limits<float>::quiet_NaN()});
  return xs;
}

double ulpOf(double r) {
  double a = std::fabs(r);
  return a < FLT_MIN ? std::ldexp(1.0, -149) : std::ldexp(1.0, std::ilogb(a) - 23);
}

/// Worst error and failures of one quantity of one seed.
struct Tally {
  double worstUlps = 0, worstCond = 0;
  int64_t failures = 0;
  std::vector<std::string> first;

  void fail(float x, double got, double ref, const std::string &why) {
    ++failures;
    if (first.size() < 6) {
      std::ostringstream os;
      os.precision(9);
      os << "x=" << x << " got=" << got << " ref=" << ref << " (" << why << ")";
      first.push_back(os.str());
    }
  }

  /// `cond`: |x f'/f| at x (1 where undefined).
  void check(float x, double got, LD refL, double cond, Allow allow) {
    double ref = (double)refL;
    if (std::isnan(ref)) {
      if (!std::isnan(got))
        fail(x, got, ref, "NaN expected");
      return;
    }
    if (std::isnan(got))
      return fail(x, got, ref, "NaN");
    if (std::isinf((float)ref)) {
      if (got != (double)(float)ref)
        fail(x, got, ref, "overflow");
      return;
    }
    if (std::isinf(got))
      return fail(x, got, ref, "not finite");
    double err = std::fabs(got - ref);
    double tol = std::max(4 * ulpOf(ref), 1e-6 * std::fabs(ref));
    double ulps = err / ulpOf(ref);
    worstUlps = std::max(worstUlps, ulps);
    if (err <= tol)
      return;
    double condTol = tol * std::max(1.0, cond);
    worstCond = std::max(worstCond, err / condTol);
    if (allow == Allow::Budget || err > condTol)
      fail(x, got, ref, std::to_string(ulps) + " ulp, cond " + std::to_string(cond));
  }
};

double condition(LD x, LD f, LD df) {
  if (!std::isfinite((double)x) || x == 0 || !std::isfinite((double)df))
    return 1;
  LD num = std::fabs(x * df);
  if (f == 0)
    return num == 0 ? 1 : std::numeric_limits<double>::infinity();
  return (double)(num / std::fabs(f));
}

/// The reference at x; at +-inf an indeterminate form (NaN) is replaced by the limit,
/// taken at +-1e4000 (long double), which kernels may return instead of NaN.
LD at(const Fn &g, float x, LD t, const Params &p, bool &limit) {
  LD r = g((LD)x, t, p);
  limit = std::isinf(x) && std::isnan(r);
  return limit ? g(x > 0 ? 1e4000L : -1e4000L, t, p) : r;
}

void checkSeed(const Seed &s) {
  const act::Activation &a = seeds().get(s.name);
  std::vector<float> xs = points();
  const int64_t n = (int64_t)xs.size();
  act::TensorShape shape{1, 1, n, act::Layout::NCS};
  std::vector<std::vector<float>> pf;
  std::vector<const float *> pp;
  Params pr;
  for (const act::ParamInfo &info : a.params()) {
    std::vector<double> v = info.init.empty()
                                ? std::vector<double>((size_t)info.numValues(shape), 1.0)
                                : info.initialValues(shape);
    pf.emplace_back(v.begin(), v.end());
    for (float e : pf.back())
      pr.push_back((LD)e);
  }
  for (auto &v : pf)
    pp.push_back(v.data());
  std::vector<float> ts(xs.size(), 0.5f);
  for (size_t i = 0; i < xs.size(); ++i)
    if (std::isfinite(xs[i]))
      ts[i] = (float)(3.0 * std::sin(1.3 * xs[i] + 1.0));
  std::vector<const float *> in{xs.data()};
  if (a.inputs().size() == 2)
    in.push_back(ts.data());
  std::vector<float> f((size_t)n), df((size_t)n);
  float *outs[] = {f.data(), df.data()};
  a.derivatives(1, shape, in.data(), outs, pp.empty() ? nullptr : pp.data());
  // The forward kernel (a body of its own, without the derivative's sigmoid(-z)) must
  // give bitwise the same f, so the budget below holds for forward() too.
  std::vector<float> y((size_t)n);
  a.forward(shape, in.data(), y.data(), pp.empty() ? nullptr : pp.data());
  size_t differ = 0;
  for (size_t i = 0; i < y.size(); ++i)
    if (std::memcmp(&y[i], &f[i], sizeof(float)) != 0 && !(std::isnan(y[i]) && std::isnan(f[i])))
      ++differ;
  INFO(s.name << ": forward() differs from derivatives(1)'s f at " << differ << " points");
  CHECK(differ == 0);

  Tally tf, td;
  for (size_t i = 0; i < xs.size(); ++i) {
    float x = xs[i];
    LD t = ts[i];
    bool limit = false;
    LD rf = at(s.f, x, t, pr, limit), rd = at(s.df, x, t, pr, limit);
    if (std::isnan(x)) {
      if (!std::isnan(f[i]))
        tf.fail(x, f[i], NAN, "NaN must propagate");
      continue; // f' at NaN: docs/numerics.md (branch conventions may give a number)
    }
    // f'' for the condition of f': a central difference of the reference f'.
    LD h = 1e-7L * std::max<LD>(1, std::fabs((LD)x));
    LD d2 = std::isfinite(x) ? (s.df(x + h, t, pr) - s.df(x - h, t, pr)) / (2 * h) : 0;
    // At +-inf a formula with inf - inf or 0 * inf in it (acon_b's x - p x) gives NaN;
    // a number there must be the limit.
    if (!(std::isinf(x) && std::isnan(f[i])))
      tf.check(x, f[i], rf, condition(x, rf, s.df(x, t, pr)), s.fAllow);
    if (!(std::isinf(x) && std::isnan(df[i])))
      td.check(x, df[i], rd, condition(x, rd, d2), s.dfAllow);
  }
  auto report = [&](const char *what, const Tally &k) {
    std::ostringstream os;
    os << s.name << " " << what << ": worst " << k.worstUlps << " ulp, " << k.failures
       << " points over the budget";
    for (const std::string &e : k.first)
      os << "\n  " << e;
    INFO(os.str());
    CHECK(k.failures == 0);
  };
  report("f", tf);
  report("f'", td);
}

} // namespace

TEST_CASE("accuracy: float32 forward and derivative of every seed within budget",
          "[accuracy]") {
  std::set<std::string> covered;
  for (const Seed &s : seedTable()) {
    SECTION(s.name) { checkSeed(s); }
    covered.insert(s.name);
  }
  for (const std::string &name : seeds().names()) {
    INFO("seed without an accuracy reference: " << name);
    CHECK(covered.count(name) == 1);
  }
}

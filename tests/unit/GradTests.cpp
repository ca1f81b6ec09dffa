// Derivative tests of Activation::backward.
//
// Gradcheck: every definition in examples/seeds.act, float64 and float32, NCS and NSC,
// non-default parameter values, against central finite differences of the independent
// references in Reference.h (not of the compiler's own lowering):
//   dx (and FReLU's dt):  dy * (f(x + h) - f(x - h)) / 2h
//   learnable parameter:  sum over the elements an entry affects of dy * FD of the
//                         reference in that entry (perturb one entry, recompute),
//                         i.e. [C] summed over N and S, [N,C] over S, a scalar over
//                         everything, a table [C,17] per entry.
// The difference quotients are taken in long double with h = 1e-6 * max(1, |v|)
// (truncation error ~1e-12 |f'''|, rounding ~1e-13), at the inputs and parameter values
// the kernel actually received (rounded to float for f32), with x kept at least 1e-3
// away from every kink so that neither the FD stencil nor a float rounding crosses one.
// Tolerances, with scale = max(1, |expected|) for dx and max(1, sum |dy * FD|) for a
// reduced parameter gradient:
//   float64: |got - expected| <= 1e-6 * scale
//   float32: |got - expected| <= 1e-4 * scale
//
// Also: the fused variant (y non-null) writes forward's y and the same gradients.
// The edge cases (untaken branches, kinks, knots, determinism, errors) are in
// GradEdgeTests.cpp.
#include "Reference.h"
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

using act::DType;
using act::Layout;
using act::TensorShape;
using namespace act_ref;

namespace {
using act_test::fmt;
using act_test::layoutName;
using act_test::offsetOf;
using act_test::sameBits;
using act_test::seeds;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Parameter values at one (n, c) position, as the reference sees them.
struct PView {
  const std::vector<act::ParamInfo> *infos;
  const std::vector<std::vector<LD>> *vals; // per parameter, numValues entries
  int64_t n, c, C;

  /// Index into parameter k's values of entry j (table index) at (n, c).
  size_t index(size_t k, int64_t j = 0) const {
    const act::ParamInfo &info = (*infos)[k];
    int64_t row =
        (info.perSample ? n : 0) * (info.perChannel ? C : 1) + (info.perChannel ? c : 0);
    return (size_t)(row * std::max<int64_t>(info.tableLength, 1) + j);
  }
  LD p(size_t k, int64_t j = 0) const { return (*vals)[k][index(k, j)]; }
  std::vector<LD> table(size_t k) const {
    std::vector<LD> t((size_t)(*infos)[k].tableLength);
    for (size_t j = 0; j < t.size(); ++j)
      t[j] = p(k, (int64_t)j);
    return t;
  }
};

using RefFn = std::function<LD(LD x, LD t, const PView &)>;
/// True when (x, t) is within `margin` of a kink of the function.
using KinkFn = std::function<bool(LD x, LD t, const PView &, LD margin)>;
/// A custom input value for element (n, c, s) (PWLU places x in every region).
using XGen = std::function<double(int64_t n, int64_t c, int64_t s, const PView &)>;

struct GradCase {
  std::string fn;
  /// Values per declared parameter (numValues for kN x kC), all passed to the kernel.
  std::vector<std::vector<double>> params;
  RefFn ref;
  KinkFn nearKink; // may be empty: smooth
  XGen xgen;       // may be empty: the common grid over [-6, 6]
};

constexpr int64_t kN = 2, kC = 3, kS = 20;
constexpr LD kMargin = 1e-3L;

KinkFn kinksAt(std::vector<LD> ks) {
  return [ks](LD x, LD, const PView &, LD margin) {
    for (LD k : ks)
      if (std::fabs(x - k) < margin)
        return true;
    return false;
  };
}

/// The second input of FReLU: differs per (n, c), crosses x several times.
double secondInput(double x, int64_t n, int64_t c) {
  return 3.0 * std::sin(1.3 * x + (double)c) - 0.5 * (double)n;
}

/// The common grid: all kN*kC*kS elements take distinct points on [-6, 6], every
/// channel and sample spread over the whole range.
double gridX(int64_t n, int64_t c, int64_t s) {
  const int64_t M = kN * kC * kS;
  const int64_t k = s * (kN * kC) + n * kC + c;
  return -6.0 + 12.0 * ((double)k + 0.5) / (double)M;
}

LD fdStep(LD v) { return 1e-6L * std::max<LD>(1.0L, std::fabs(v)); }

/// Accumulates failures of one gradient and the worst one, for the report.
struct Tally {
  std::string what;
  int64_t failures = 0, count = 0;
  double worstRatio = -1;
  std::string worst;
  std::vector<std::string> first;

  void add(double got, double expected, double tol, const std::string &where) {
    ++count;
    double err = std::fabs(got - expected);
    if (std::isnan(got) || std::isnan(err))
      err = std::numeric_limits<double>::infinity();
    double ratio = err / tol;
    std::string msg = where + " expected=" + fmt(expected) + " got=" + fmt(got) +
                      " |err|=" + fmt(err) + " tol=" + fmt(tol);
    if (ratio > 1) {
      ++failures;
      if (first.size() < 8)
        first.push_back(msg);
    }
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = msg;
    }
  }
  void check() const {
    std::ostringstream os;
    os << what << ": " << failures << " of " << count << " out of tolerance; worst "
       << worst << " (err/tol=" << fmt(worstRatio) << ")";
    for (const std::string &f : first)
      os << "\n  FAIL " << f;
    INFO(os.str());
    CHECK(failures == 0);
  }
};

//===----------------------------------------------------------------------===//
// Gradcheck of one case, one element type, one layout
//===----------------------------------------------------------------------===//

template <typename T> void gradcheck(const GradCase &k, Layout layout) {
  constexpr bool f32 = std::is_same<T, float>::value;
  const double tolRel = f32 ? 1e-4 : 1e-6;
  const act::Activation &a = seeds().get(k.fn);
  const std::vector<act::ParamInfo> &infos = a.params();
  INFO(k.fn << " " << (f32 ? "f32" : "f64") << " " << layoutName(layout));
  REQUIRE(infos.size() == k.params.size());
  const size_t nin = a.inputs().size();
  REQUIRE((nin == 1 || nin == 2));

  TensorShape sh{kN, kC, kS, layout};
  const int64_t count = sh.numElements();

  // Parameters: the kernel's (type T) and the reference's (the same values, exactly).
  std::vector<std::vector<T>> pk(infos.size());
  std::vector<std::vector<LD>> pr(infos.size());
  std::vector<const T *> pptr(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    REQUIRE((int64_t)k.params[i].size() == infos[i].numValues(sh));
    for (double v : k.params[i]) {
      pk[i].push_back((T)v);
      pr[i].push_back((LD)(T)v);
    }
    pptr[i] = pk[i].data();
  }

  // Inputs and dy, logical (n, c, s) -> memory offset by layout.
  std::vector<T> x((size_t)count), t((size_t)count, (T)0), dy((size_t)count);
  std::mt19937_64 rng(0x5eed0001u);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t c = 0; c < kC; ++c) {
      PView pv{&infos, &pr, n, c, kC};
      for (int64_t s = 0; s < kS; ++s) {
        size_t o = (size_t)offsetOf(sh, n, c, s);
        double xv = k.xgen ? k.xgen(n, c, s, pv) : gridX(n, c, s);
        T tv = (T)secondInput(gridX(n, c, s), n, c);
        T xt = (T)xv;
        // Keep x away from kinks (at the value the kernel sees).
        for (int guard = 0; k.nearKink && k.nearKink((LD)xt, (LD)tv, pv, kMargin); ++guard) {
          REQUIRE(guard < 100);
          xv += 2.5e-3;
          xt = (T)xv;
        }
        x[o] = xt;
        t[o] = tv;
        double r = u01(rng);
        dy[o] = (T)((u01(rng) < 0.5 ? -1.0 : 1.0) * (0.25 + 0.75 * r));
      }
    }
  const T *inputs[2] = {x.data(), t.data()};

  // Backward, plain.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<std::vector<T>> din(nin, std::vector<T>((size_t)count, nan));
  std::vector<T *> dinPtr;
  for (auto &d : din)
    dinPtr.push_back(d.data());
  std::vector<std::vector<T>> dp(infos.size());
  std::vector<T *> dpPtr(infos.size(), nullptr);
  for (size_t i = 0; i < infos.size(); ++i)
    if (!infos[i].isConst) {
      dp[i].assign((size_t)infos[i].numValues(sh), nan);
      dpPtr[i] = dp[i].data();
    }
  REQUIRE_NOTHROW(a.backward(sh, inputs, dy.data(), dinPtr.data(), dpPtr.data(), pptr.data()));

  // Fused: y as forward writes it, bitwise the same gradients.
  {
    std::vector<T> yf((size_t)count, nan), yb((size_t)count, nan);
    REQUIRE_NOTHROW(a.forward(sh, inputs, yf.data(), pptr.data()));
    std::vector<std::vector<T>> din2(nin, std::vector<T>((size_t)count, nan));
    std::vector<T *> din2Ptr;
    for (auto &d : din2)
      din2Ptr.push_back(d.data());
    std::vector<std::vector<T>> dp2(infos.size());
    std::vector<T *> dp2Ptr(infos.size(), nullptr);
    for (size_t i = 0; i < infos.size(); ++i)
      if (!infos[i].isConst) {
        dp2[i].assign((size_t)infos[i].numValues(sh), nan);
        dp2Ptr[i] = dp2[i].data();
      }
    REQUIRE_NOTHROW(a.backward(sh, inputs, dy.data(), din2Ptr.data(), dp2Ptr.data(),
                               pptr.data(), yb.data()));
    {
      size_t diff = 0;
      double worst = 0;
      for (size_t i = 0; i < yf.size(); ++i)
        if (std::memcmp(&yf[i], &yb[i], sizeof(T)) != 0) {
          ++diff;
          worst = std::max(worst, std::fabs((double)yf[i] - (double)yb[i]));
        }
      INFO("fused y differs from forward's y at " << diff << " elements, max |diff| "
                                                  << fmt(worst));
      CHECK(diff == 0);
    }
    for (size_t i = 0; i < nin; ++i) {
      INFO("fused d" << a.inputs()[i] << " bitwise equal to the plain backward's");
      CHECK(sameBits(din[i], din2[i]));
    }
    for (size_t i = 0; i < infos.size(); ++i) {
      INFO("fused d" << infos[i].name << " bitwise equal to the plain backward's");
      CHECK(sameBits(dp[i], dp2[i]));
    }
  }

  // Reference value at element (n, c, s) with parameter values `vals`.
  auto refAt = [&](int64_t n, int64_t c, int64_t s, const std::vector<std::vector<LD>> &vals,
                   LD dxShift, LD dtShift) {
    PView pv{&infos, &vals, n, c, kC};
    size_t o = (size_t)offsetOf(sh, n, c, s);
    return k.ref((LD)x[o] + dxShift, (LD)t[o] + dtShift, pv);
  };

  // dx and dt.
  for (size_t in = 0; in < nin; ++in) {
    Tally tally;
    tally.what = "d" + a.inputs()[in];
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t c = 0; c < kC; ++c)
        for (int64_t s = 0; s < kS; ++s) {
          size_t o = (size_t)offsetOf(sh, n, c, s);
          LD v = in == 0 ? (LD)x[o] : (LD)t[o];
          LD h = fdStep(v);
          LD hp = (v + h) - v, hm = v - (v - h);
          LD fp = in == 0 ? refAt(n, c, s, pr, hp, 0) : refAt(n, c, s, pr, 0, hp);
          LD fm = in == 0 ? refAt(n, c, s, pr, -hm, 0) : refAt(n, c, s, pr, 0, -hm);
          double expected = (double)((LD)dy[o] * (fp - fm) / (hp + hm));
          std::ostringstream where;
          where << "n=" << n << " c=" << c << " s=" << s << " x=" << fmt((double)x[o]);
          if (nin == 2)
            where << " t=" << fmt((double)t[o]);
          where << " dy=" << fmt((double)dy[o]);
          tally.add((double)din[in][o], expected,
                    tolRel * std::max(1.0, std::fabs(expected)), where.str());
        }
    tally.check();
  }

  // Learnable parameters: one entry at a time.
  for (size_t pi = 0; pi < infos.size(); ++pi) {
    const act::ParamInfo &info = infos[pi];
    if (info.isConst)
      continue;
    Tally tally;
    tally.what = "d" + info.name + " " + info.shape();
    const int64_t entries = info.numValues(sh);
    for (int64_t e = 0; e < entries; ++e) {
      std::vector<std::vector<LD>> plus = pr, minus = pr;
      LD v = pr[pi][(size_t)e];
      LD h = fdStep(v);
      plus[pi][(size_t)e] = v + h;
      minus[pi][(size_t)e] = v - h;
      LD den = (v + h) - (v - h);
      LD sum = 0, mag = 0;
      int64_t used = 0;
      for (int64_t n = 0; n < kN; ++n)
        for (int64_t c = 0; c < kC; ++c) {
          PView pv{&infos, &pr, n, c, kC};
          // Does (n, c) use entry e? (any table index of its row)
          size_t first = pv.index(pi, 0);
          size_t len = (size_t)std::max<int64_t>(info.tableLength, 1);
          if ((size_t)e < first || (size_t)e >= first + len)
            continue;
          for (int64_t s = 0; s < kS; ++s) {
            size_t o = (size_t)offsetOf(sh, n, c, s);
            LD term = (LD)dy[o] * (refAt(n, c, s, plus, 0, 0) - refAt(n, c, s, minus, 0, 0)) /
                      den;
            sum += term;
            mag += std::fabs(term);
            ++used;
          }
        }
      REQUIRE(used > 0);
      std::ostringstream where;
      where << "entry " << e;
      if (info.tableLength)
        where << " (c=" << e / info.tableLength << ", j=" << e % info.tableLength << ")";
      where << " value=" << fmt((double)v) << " over " << used << " elements";
      tally.add((double)dp[pi][(size_t)e], (double)sum,
                tolRel * std::max<double>(1.0, (double)mag), where.str());
    }
    tally.check();
  }
}

void gradcheckAll(const GradCase &k) {
  SECTION("f64 NCS") { gradcheck<double>(k, Layout::NCS); }
  SECTION("f64 NSC") { gradcheck<double>(k, Layout::NSC); }
  SECTION("f32 NCS") { gradcheck<float>(k, Layout::NCS); }
  SECTION("f32 NSC") { gradcheck<float>(k, Layout::NSC); }
}

std::vector<double> pwluTable() {
  std::vector<double> y;
  for (int64_t c = 0; c < kC; ++c)
    for (int i = 0; i <= 16; ++i)
      y.push_back(0.5 * (double)(c + 1) * std::sin(0.6 * i + (double)c) + 0.1 * i -
                  0.3 * (double)c);
  return y;
}

/// PWLU inputs: per channel two points left of bl, one point in every segment per
/// sample (at 0.3 or 0.7 of it, away from the knots), two right of br.
double pwluX(int64_t n, int64_t c, int64_t s, const PView &p) {
  (void)c;
  double bl = (double)p.p(1), br = (double)p.p(2);
  double d = (br - bl) / 16.0;
  if (s == 0)
    return bl - 2.0 - 0.37 * (double)n;
  if (s == 1)
    return bl - 0.4 - 0.1 * (double)n;
  if (s == kS - 2)
    return br + 0.4 + 0.1 * (double)n;
  if (s == kS - 1)
    return br + 2.0 + 0.37 * (double)n;
  return bl + ((double)(s - 2) + (n == 0 ? 0.3 : 0.7)) * d;
}

GradCase seedCase(const std::string &fn) {
  auto x1 = [](LD (*f)(LD)) { return [f](LD x, LD, const PView &) { return f(x); }; };
  const std::vector<double> p1 = {1.5, -0.5, 0.8}, p2 = {0.25, 0.7, -1.2},
                            betaC = {1.0, 0.5, 3.0};
  if (fn == "sigmoid_")
    return {fn, {}, x1(sigm), {}, {}};
  if (fn == "hard_sigmoid_")
    return {fn, {}, x1(hardSigmoidRef), kinksAt({-3, 3}), {}};
  if (fn == "tanh_")
    return {fn, {}, x1([](LD x) { return std::tanh(x); }), {}, {}};
  if (fn == "relu_")
    return {fn, {}, x1(reluRef), kinksAt({0}), {}};
  if (fn == "softplus_")
    return {fn, {}, x1(softplusRef), {}, {}};
  if (fn == "relu6_")
    return {fn, {}, x1(relu6Ref), kinksAt({0, 6}), {}};
  if (fn == "leaky_relu") // const alpha, passed non-default
    return {fn, {{0.2}},
            [](LD x, LD, const PView &p) { return leakyReluRef(x, p.p(0)); }, kinksAt({0}),
            {}};
  if (fn == "prelu")
    return {fn, {{0.1, -0.5, 2.0}},
            [](LD x, LD, const PView &p) { return preluRef(x, p.p(0)); }, kinksAt({0}), {}};
  if (fn == "elu") // const alpha, passed non-default
    return {fn, {{0.5}}, [](LD x, LD, const PView &p) { return eluRef(x, p.p(0)); },
            kinksAt({0}), {}};
  if (fn == "selu")
    return {fn, {}, x1(seluRef), kinksAt({0}), {}};
  if (fn == "swish")
    return {fn, {{1.7}}, [](LD x, LD, const PView &p) { return swishRef(x, p.p(0)); }, {}, {}};
  if (fn == "hard_swish_")
    return {fn, {}, x1(hardSwishRef), kinksAt({-3, 3}), {}};
  if (fn == "mish")
    return {fn, {}, x1(mishRef), {}, {}};
  if (fn == "gelu_")
    return {fn, {}, x1(geluRef), {}, {}};
  if (fn == "gelu_tanh_")
    return {fn, {}, x1(geluTanhRef), {}, {}};
  if (fn == "acon_a")
    return {fn, {{0.6}}, [](LD x, LD, const PView &p) { return swishRef(x, p.p(0)); }, {}, {}};
  if (fn == "acon_b")
    return {fn, {{0.1, -0.75, 2.0}, betaC},
            [](LD x, LD, const PView &p) { return aconBRef(x, p.p(0), p.p(1)); }, {}, {}};
  if (fn == "acon_c")
    return {fn, {p1, p2, betaC},
            [](LD x, LD, const PView &p) { return aconCRef(x, p.p(0), p.p(1), p.p(2)); }, {},
            {}};
  if (fn == "meta_acon_c")
    return {fn, {p1, p2, {0.5, 1.0, 2.0, 3.0, -1.0, 0.0}},
            [](LD x, LD, const PView &p) { return aconCRef(x, p.p(0), p.p(1), p.p(2)); }, {},
            {}};
  if (fn == "pwlu")
    return {fn,
            {pwluTable(), {-3.0, -1.0, -5.5}, {3.0, 2.5, 0.75}, {0.0, -0.5, 1.25},
             {1.0, 2.0, -0.3}},
            [](LD x, LD, const PView &p) {
              return pwlRef(x, p.table(0), p.p(1), p.p(2), p.p(3), p.p(4));
            },
            [](LD x, LD, const PView &p, LD margin) {
              LD bl = p.p(1), br = p.p(2), d = (br - bl) / 16;
              for (int i = 0; i <= 16; ++i)
                if (std::fabs(x - (bl + i * d)) < margin)
                  return true;
              return false;
            },
            pwluX};
  if (fn == "frelu")
    return {fn, {}, [](LD x, LD t, const PView &) { return freluRef(x, t); },
            [](LD x, LD t, const PView &, LD margin) { return std::fabs(x - t) < margin; },
            {}};
  if (fn == "max_x_sigmoid")
    return {fn, {}, x1(maxXSigmoidRef),
            [](LD x, LD, const PView &, LD margin) { return std::fabs(x - sigm(x)) < margin; },
            {}};
  if (fn == "cos_minus_x")
    return {fn, {}, x1(cosMinusXRef), {}, {}};
  if (fn == "min_x_sin")
    return {fn, {}, x1(minXSinRef), kinksAt({0}), {}};
  if (fn == "atan_sq_minus_x")
    return {fn, {}, x1(atanSqMinusXRef), {}, {}};
  if (fn == "x_asinh_sq")
    return {fn, {}, x1(xAsinhSqRef), {}, {}};
  FAIL("no gradcheck case for " << fn);
  return {};
}

} // namespace

//===----------------------------------------------------------------------===//
// 1, 2. Gradcheck of every seed, plain and fused
//===----------------------------------------------------------------------===//

TEST_CASE("grad: every seed definition has a gradcheck case", "[grad]") {
  for (const std::string &fn : seeds().names()) {
    INFO(fn);
    GradCase k = seedCase(fn);
    CHECK(k.fn == fn);
  }
}

#define ACT_GRADCHECK(NAME)                                                                  \
  TEST_CASE("grad: gradcheck " NAME " (f64/f32, NCS/NSC, fused)", "[grad]") {                \
    gradcheckAll(seedCase(NAME));                                                            \
  }

ACT_GRADCHECK("sigmoid_")
ACT_GRADCHECK("hard_sigmoid_")
ACT_GRADCHECK("tanh_")
ACT_GRADCHECK("relu_")
ACT_GRADCHECK("softplus_")
ACT_GRADCHECK("relu6_")
ACT_GRADCHECK("leaky_relu")
ACT_GRADCHECK("prelu")
ACT_GRADCHECK("elu")
ACT_GRADCHECK("selu")
ACT_GRADCHECK("swish")
ACT_GRADCHECK("hard_swish_")
ACT_GRADCHECK("mish")
ACT_GRADCHECK("gelu_")
ACT_GRADCHECK("gelu_tanh_")
ACT_GRADCHECK("acon_a")
ACT_GRADCHECK("acon_b")
ACT_GRADCHECK("acon_c")
ACT_GRADCHECK("meta_acon_c")
ACT_GRADCHECK("pwlu")
ACT_GRADCHECK("frelu")
ACT_GRADCHECK("max_x_sigmoid")
ACT_GRADCHECK("cos_minus_x")
ACT_GRADCHECK("min_x_sin")
ACT_GRADCHECK("atan_sq_minus_x")
ACT_GRADCHECK("x_asinh_sq")

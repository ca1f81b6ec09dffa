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
// Also: the fused variant (y non-null) writes forward's y and the same gradients; NaN
// must not leak out of untaken select branches; one kink convention for every spelling
// of relu; PWL knots; bitwise determinism of the reductions; accuracy of a scalar
// reduction over 2^24 float32 elements; error cases.
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

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

const act::Module &seeds() {
  static const act::Module m = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  return m;
}

template <typename T> bool sameBits(const std::vector<T> &a, const std::vector<T> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

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

//===----------------------------------------------------------------------===//
// Small one-element-type helpers for the edge cases
//===----------------------------------------------------------------------===//

template <typename T> struct Grad1 {
  std::vector<T> y, dx;
};

/// y and dx (dy = 1) of a one-input, parameter-free (or defaulted) activation at `xs`,
/// through the fused call; the plain call must give the same dx.
template <typename T> Grad1<T> grad1(const act::Activation &a, const std::vector<double> &xs) {
  TensorShape sh{1, 1, (int64_t)xs.size(), Layout::NCS};
  std::vector<T> x(xs.begin(), xs.end()), dy(xs.size(), (T)1);
  Grad1<T> r;
  r.y.assign(xs.size(), std::numeric_limits<T>::quiet_NaN());
  r.dx.assign(xs.size(), std::numeric_limits<T>::quiet_NaN());
  const T *in[1] = {x.data()};
  T *din[1] = {r.dx.data()};
  a.backward(sh, in, dy.data(), din, nullptr, nullptr, r.y.data());
  std::vector<T> dx2(xs.size(), std::numeric_limits<T>::quiet_NaN());
  T *din2[1] = {dx2.data()};
  a.backward(sh, in, dy.data(), din2, nullptr, nullptr);
  CHECK(sameBits(r.dx, dx2));
  return r;
}

const act::Module &edgeModule() {
  static const act::Module m = act::Module::compile(R"(
act sel_exp(x) = select(x > 0, x, exp(x) - 1)
act sel_log(x) = select(x < 0, 0, x * log(x))
act max_x0(x) = max(x, 0)
act max_0x(x) = max(0, x)
act relu_x(x) = relu(x)
act sel_x0(x) = select(x > 0, x, 0)
act abs_x(x) = abs(x)
act min_x0(x) = min(x, 0)
act min_0x(x) = min(0, x)
act sel_ge(x) = select(x >= 0, x, 0)
act relu6_x(x) = relu6(x)
act hsig_x(x) = hard_sigmoid(x)
act clamp_x(x) = clamp(x, -1, 2)
act pwl5(x; y[5] = [0, 1, 3, 2, 5], bl = -2.0, br = 2.0, kl = 0.5, kr = 2.0)
  = pwl(x; y, bl, br, kl, kr)
)",
                                                    "edge.act");
  return m;
}

template <typename T> void edgeCases() {
  const act::Module &m = edgeModule();

  SECTION("select(x > 0, x, exp(x) - 1): the untaken exp branch does not leak") {
    Grad1<T> g = grad1<T>(m.get("sel_exp"), {1000.0, -1000.0, 2.0, -2.0});
    CHECK(g.y[0] == (T)1000);
    CHECK(g.dx[0] == (T)1); // not NaN (0 * inf)
    CHECK(g.y[1] == (T)-1);
    CHECK(g.dx[1] == (T)0); // exp(-1000) underflows to 0
    CHECK(g.dx[2] == (T)1);
    CHECK(std::fabs((double)g.dx[3] - std::exp(-2.0)) <= 1e-6 * std::exp(-2.0));
  }
  SECTION("select(x < 0, 0, x * log(x)): log of a negative in the untaken branch") {
    Grad1<T> g = grad1<T>(m.get("sel_log"), {-5.0, 2.0});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0); // not NaN
    CHECK(std::fabs((double)g.dx[1] - (std::log(2.0) + 1)) <= 1e-6 * (std::log(2.0) + 1));
  }
  SECTION("one kink convention for every spelling of relu: 0 at 0") {
    for (const char *fn : {"max_x0", "max_0x", "relu_x", "sel_x0"}) {
      INFO(fn);
      Grad1<T> g = grad1<T>(m.get(fn), {0.0, 1e-3, -1e-3});
      CHECK(g.y[0] == (T)0);
      CHECK(g.dx[0] == (T)0);
      CHECK(g.y[1] == (T)1e-3);
      CHECK(g.dx[1] == (T)1);
      CHECK(g.y[2] == (T)0);
      CHECK(g.dx[2] == (T)0);
    }
    // The seed relu_ too.
    Grad1<T> g = grad1<T>(seeds().get("relu_"), {0.0, 1e-3});
    CHECK(g.dx[0] == (T)0);
    CHECK(g.dx[1] == (T)1);
  }
  SECTION("abs: 0 at 0") {
    Grad1<T> g = grad1<T>(m.get("abs_x"), {0.0, 1.5, -1.5});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0);
    CHECK(g.dx[1] == (T)1);
    CHECK(g.dx[2] == (T)-1);
  }
  SECTION("min ties go to the second operand; >= holds at 0") {
    for (const char *fn : {"min_x0", "min_0x"}) {
      INFO(fn);
      Grad1<T> g = grad1<T>(m.get(fn), {0.0, -1e-3, 1e-3});
      CHECK(g.dx[0] == (T)0);
      CHECK(g.dx[1] == (T)1);
      CHECK(g.dx[2] == (T)0);
    }
    Grad1<T> g = grad1<T>(m.get("sel_ge"), {0.0, -1e-3});
    CHECK(g.dx[0] == (T)1);
    CHECK(g.dx[1] == (T)0);
  }
  SECTION("relu6, hard_sigmoid, clamp: the flat side at their kinks") {
    Grad1<T> r6 = grad1<T>(m.get("relu6_x"), {0.0, 6.0, 3.0});
    CHECK(r6.dx[0] == (T)0);
    CHECK(r6.dx[1] == (T)0);
    CHECK(r6.dx[2] == (T)1);
    Grad1<T> hs = grad1<T>(m.get("hsig_x"), {-3.0, 3.0, 0.0});
    CHECK(hs.dx[0] == (T)0);
    CHECK(hs.dx[1] == (T)0);
    CHECK(hs.dx[2] == (T)(1.0 / 6.0));
    Grad1<T> cl = grad1<T>(m.get("clamp_x"), {-1.0, 2.0, 0.5});
    CHECK(cl.dx[0] == (T)0);
    CHECK(cl.dx[1] == (T)0);
    CHECK(cl.dx[2] == (T)1);
  }
  SECTION("swish at -inf: a closed gate gives 0 and derivative 0; NaN stays NaN") {
    const double inf = std::numeric_limits<double>::infinity();
    Grad1<T> g = grad1<T>(seeds().get("swish"), {-inf, std::nan("")});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0);
    CHECK(std::isnan(g.y[1]));
    CHECK(std::isnan(g.dx[1]));
  }
  SECTION("pwl at a knot: the segment on its right; at bl and br the inside segment") {
    // Knots at -2 (bl), -1, 0, 1, 2 (br); slopes: kl = 0.5 | 1 | 2 | -1 | 3 | kr = 2.
    // docs/derivatives.md: at x == bl and x == br the inside segment, at an interior knot
    // the segment on its right. (At bl the inside segment is the one on the right; at br
    // it is the one on the left, slope 3, not kr = 2.)
    const std::vector<double> xs = {-2.0, -1.0, 0.0, 1.0, 2.0};
    const std::vector<double> ys = {0, 1, 3, 2, 5};
    const std::vector<double> slope = {1, 2, -1, 3, 3};
    Grad1<T> g = grad1<T>(m.get("pwl5"), xs);
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO("knot x = " << xs[i] << ": y " << fmt((double)g.y[i]) << ", dx "
                       << fmt((double)g.dx[i]) << ", expected slope " << slope[i]);
      CHECK(g.y[i] == (T)ys[i]);
      CHECK(g.dx[i] == (T)slope[i]);
    }
    // Inside segments and outside, for contrast.
    Grad1<T> h = grad1<T>(m.get("pwl5"), {-3.0, -1.5, -0.5, 0.5, 1.5, 3.0});
    const std::vector<double> inside = {0.5, 1, 2, -1, 3, 2};
    for (size_t i = 0; i < inside.size(); ++i)
      CHECK(h.dx[i] == (T)inside[i]);
  }
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

//===----------------------------------------------------------------------===//
// 3. NaN leaks, kink conventions, PWL knots
//===----------------------------------------------------------------------===//

TEST_CASE("grad: untaken branches, kinks and knots (f64)", "[grad]") { edgeCases<double>(); }
TEST_CASE("grad: untaken branches, kinks and knots (f32)", "[grad]") { edgeCases<float>(); }

//===----------------------------------------------------------------------===//
// 4. Determinism
//===----------------------------------------------------------------------===//

TEST_CASE("grad: parameter gradients are bitwise reproducible (acon_c, f32)", "[grad]") {
  const act::Activation &a = seeds().get("acon_c");
  for (Layout layout : {Layout::NCS, Layout::NSC}) {
    INFO(layoutName(layout));
    TensorShape sh{4, 8, 4096, layout};
    const size_t count = (size_t)sh.numElements();
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<float> ux(-6.0f, 6.0f), ud(-1.0f, 1.0f), up(-1.5f, 1.5f);
    std::vector<float> x(count), dy(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = ux(rng);
      dy[i] = ud(rng);
    }
    std::vector<std::vector<float>> params(3, std::vector<float>(8));
    for (auto &p : params)
      for (float &v : p)
        v = up(rng);
    const float *pp[3] = {params[0].data(), params[1].data(), params[2].data()};
    const float *in[1] = {x.data()};

    auto run = [&](std::vector<float> &dx, std::vector<std::vector<float>> &dp) {
      dx.assign(count, 0.0f);
      dp.assign(3, std::vector<float>(8, 0.0f));
      float *din[1] = {dx.data()};
      float *dpp[3] = {dp[0].data(), dp[1].data(), dp[2].data()};
      a.backward(sh, in, dy.data(), din, dpp, pp);
    };
    std::vector<float> dx1, dx2;
    std::vector<std::vector<float>> dp1, dp2;
    run(dx1, dp1);
    run(dx2, dp2);
    CHECK(sameBits(dx1, dx2));
    for (size_t k = 0; k < 3; ++k) {
      INFO("parameter " << a.params()[k].name);
      CHECK(std::memcmp(dp1[k].data(), dp2[k].data(), 8 * sizeof(float)) == 0);
      for (float v : dp1[k])
        CHECK(std::isfinite(v));
    }
  }
}

//===----------------------------------------------------------------------===//
// 5. Accuracy of a large scalar reduction
//===----------------------------------------------------------------------===//

TEST_CASE("grad: swish beta gradient over 2^24 float32 elements", "[grad]") {
  const act::Activation &a = seeds().get("swish");
  TensorShape sh{16, 16, 65536, Layout::NCS};
  const size_t count = (size_t)sh.numElements();
  REQUIRE(count == 16777216u);
  std::vector<float> x(count), dy(count, 1.0f), dx(count);
  for (size_t i = 0; i < count; ++i)
    x[i] = (float)(-4.0 + 8.0 * (double)((i * 7919u) % 65521u) / 65520.0);
  const float beta = 1.3f;
  const float *params[1] = {&beta};
  const float *in[1] = {x.data()};
  float *din[1] = {dx.data()};
  float dbeta = std::numeric_limits<float>::quiet_NaN();
  float *dparams[1] = {&dbeta};
  a.backward(sh, in, dy.data(), din, dparams, params);

  // d/dbeta x sigmoid(beta x) = x^2 s (1 - s), s = sigmoid(beta x), in float64.
  double expected = 0;
  const double b = (double)beta;
  for (size_t i = 0; i < count; ++i) {
    double xi = (double)x[i];
    double s = 1.0 / (1.0 + std::exp(-b * xi));
    expected += xi * xi * s * (1.0 - s);
  }
  INFO("expected " << fmt(expected) << " got " << fmt((double)dbeta) << " rel err "
                   << fmt(std::fabs((double)dbeta - expected) / expected));
  CHECK(std::fabs((double)dbeta - expected) <= 1e-5 * std::fabs(expected));
}

//===----------------------------------------------------------------------===//
// 6. Errors, const parameters
//===----------------------------------------------------------------------===//

TEST_CASE("grad: backward errors", "[grad]") {
  TensorShape sh{1, 2, 3, Layout::NCS};
  std::vector<double> x(6, 0.5), t(6, 0.25), dy(6, 1.0), dx(6), dt(6);
  const double *in[2] = {x.data(), t.data()};

  const act::Activation &swish = seeds().get("swish");
  {
    INFO("dinputs itself null");
    CHECK_THROWS_AS(swish.backward(sh, in, dy.data(), nullptr, nullptr), act::Error);
  }
  {
    INFO("dinputs[0] null");
    double *din[1] = {nullptr};
    CHECK_THROWS_AS(swish.backward(sh, in, dy.data(), din, nullptr), act::Error);
  }
  {
    INFO("frelu: dinputs[1] (dt) null");
    double *din[2] = {dx.data(), nullptr};
    CHECK_THROWS_AS(seeds().get("frelu").backward(sh, in, dy.data(), din, nullptr),
                    act::Error);
  }
  {
    INFO("dy null");
    double *din[1] = {dx.data()};
    CHECK_THROWS_AS(swish.backward(sh, in, nullptr, din, nullptr), act::Error);
  }
  const act::Activation &meta = seeds().get("meta_acon_c");
  double *din[1] = {dx.data()};
  {
    INFO("meta_acon_c: beta[N,C] has no initial value, params null");
    CHECK_THROWS_AS(meta.backward(sh, in, dy.data(), din, nullptr, nullptr), act::Error);
  }
  {
    INFO("meta_acon_c: beta[N,C] has no initial value, its entry null");
    const double *params[3] = {nullptr, nullptr, nullptr};
    CHECK_THROWS_AS(meta.backward(sh, in, dy.data(), din, nullptr, params), act::Error);
  }
  {
    INFO("the same through the DType overload, f32");
    std::vector<float> xf(6, 0.5f), dyf(6, 1.0f), dxf(6);
    const void *inf[1] = {xf.data()};
    void *dinf[1] = {dxf.data()};
    CHECK_THROWS_AS(meta.backward(DType::F32, sh, inf, dyf.data(), dinf, nullptr, nullptr),
                    act::Error);
    void *dinNull[1] = {nullptr};
    CHECK_THROWS_AS(
        swish.backward(DType::F32, sh, inf, dyf.data(), dinNull, nullptr, nullptr),
        act::Error);
  }
  {
    INFO("with beta passed, it works");
    std::vector<double> beta(2, 1.0);
    const double *params[3] = {nullptr, nullptr, beta.data()};
    CHECK_NOTHROW(meta.backward(sh, in, dy.data(), din, nullptr, params));
  }
}

TEST_CASE("grad: const parameters get no gradient; dparams may be null", "[grad]") {
  TensorShape sh{1, 1, 4, Layout::NCS};
  std::vector<double> x = {-2.0, -0.5, 0.5, 2.0}, dy(4, 1.0);
  const double *in[1] = {x.data()};
  for (const char *fn : {"leaky_relu", "elu"}) {
    INFO(fn);
    const act::Activation &a = seeds().get(fn);
    REQUIRE(a.params().size() == 1);
    REQUIRE(a.params()[0].isConst);
    std::vector<double> dx1(4), dx2(4), dx3(4);
    double *din1[1] = {dx1.data()}, *din2[1] = {dx2.data()}, *din3[1] = {dx3.data()};
    double *dpNull[1] = {nullptr};
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din1, dpNull));
    // A buffer passed for a const parameter is ignored: left as it was.
    double sentinel = 12345.0;
    double *dpGiven[1] = {&sentinel};
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din2, dpGiven));
    CHECK(sentinel == 12345.0);
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din3, nullptr));
    CHECK(dx1 == dx2);
    CHECK(dx1 == dx3);
  }
}

// Per-channel tables (pwl's y[C,K]) over many channels, channels-last: the unstaged
// vector loop rows take when their parameters pass 32 KiB, and the transposed tiles
// forward kernels take on AVX-512 (Tiles.cpp), in f32, f64, f16 and bf16, against
// act_ref's pwl (Reference.h) on the same parameter values.
#include "act/act.h"

#include "Reference.h"
#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

using act::Layout;
using act::TensorShape;

namespace {
using act_test::compileOne;
using act_test::layoutName;
using act_test::offsetOf;

/// The source every test here compiles: pwlu with all five parameters per channel.
constexpr const char *kPwlu = "act f(x; y[C,17], bl[C], br[C], kl[C], kr[C]) = "
                              "pwl(x; y, bl, br, kl, kr)";

/// pwlu's parameters for `channels` channels, each value stored by `as` (a cast, or a
/// rounding to a half type): y varied per entry, bl, br, kl and kr per channel.
template <typename T, typename As>
std::vector<std::vector<T>> pwluParams(int64_t channels, As as) {
  std::vector<std::vector<T>> p(5);
  for (int64_t c = 0; c < channels; ++c) {
    for (int k = 0; k <= 16; ++k)
      p[0].push_back(as(2.0 * std::sin(0.37 * (double)(c * 17 + k))));
    p[1].push_back(as(-3.0 + 0.3 * std::sin((double)c)));
    p[2].push_back(as(3.0 + 0.3 * std::cos((double)c)));
    p[3].push_back(as(0.25 + 0.001 * (double)c));
    p[4].push_back(as(-0.5 - 0.002 * (double)c));
  }
  return p;
}

/// x in [-3.6, 3.6) (left of, inside and right of the knots), every element another.
template <typename T, typename As>
std::vector<T> pwluInputs(int64_t count, As as) {
  std::vector<T> x((size_t)count);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = as(-3.6 + 7.2 * std::fmod(0.6180339887 * (double)i, 1.0));
  return x;
}

/// Channel c's pwl of a [C,17] table `y`, its entries read by `widen`, in act_ref's
/// long double.
template <typename T, typename Widen>
double pwlOfChannel(double x, const std::vector<T> &y, int64_t c, double bl, double br, double kl,
                    double kr, Widen widen) {
  std::vector<act_ref::LD> knots;
  for (int k = 0; k <= 16; ++k)
    knots.push_back(widen(y[(size_t)(c * 17 + k)]));
  return (double)act_ref::pwlRef(x, knots, bl, br, kl, kr);
}

/// Every element of `sh`: |got(at) - want(at, c)| <= tol(want), where `at` is the
/// element's offset; the first five failures are reported with their place.
template <typename Got, typename Want, typename Tol>
void checkElements(const TensorShape &sh, Got got, Want want, Tol tol) {
  int bad = 0;
  for (int64_t n = 0; n < sh.n; ++n)
    for (int64_t c = 0; c < sh.c; ++c)
      for (int64_t s = 0; s < sh.s; ++s) {
        size_t at = (size_t)offsetOf(sh, n, c, s);
        double w = want(at, c), g = got(at);
        if (!(std::fabs(g - w) <= tol(w)) && bad++ < 5) {
          INFO("n=" << n << " c=" << c << " s=" << s << " want=" << w << " got=" << g);
          CHECK(std::fabs(g - w) <= tol(w));
        }
      }
  CHECK(bad == 0);
}
} // namespace

TEST_CASE("per-channel tables over many channels (the unstaged channels-last loop, "
          "transposed tiles)",
          "[runtime][layout]") {
  // At 84 bytes of parameters a channel in f32 (168 in f64), C = 401 passes the
  // 32 KiB above which channels-last rows run an unstaged copy of their vector loop;
  // C = 16 stays staged. 401 also leaves a masked remainder of one channel. With 16
  // rows or more, f32 channels-last forward kernels on AVX-512 go by transposed tiles
  // of 16 rows: 2 x 19 rows are two tiles and six rows along rows, C = 37 two whole
  // groups of channels and a masked one of five. The runtime compiles the forward
  // kernel for the shape's column class (ColumnClass.h): C = 20 fills vectors poorly
  // (rows alone, staged); the others tiles, and the rows after them unstaged.
  act::Module m = compileOne(kPwlu);
  const act::Activation &f = m.get("f");
  auto run = [&](auto zero, int64_t channels, int64_t rows, Layout layout) {
    using T = decltype(zero);
    constexpr bool f32 = std::is_same<T, float>::value;
    INFO("C = " << channels << " S = " << rows << " " << layoutName(layout) << " "
                << (f32 ? "f32" : "f64"));
    TensorShape sh{2, channels, rows, layout};
    auto as = [](double v) { return (T)v; };
    auto widen = [](T v) { return (double)v; };
    std::vector<std::vector<T>> p = pwluParams<T>(channels, as);
    std::vector<T> x = pwluInputs<T>(sh.numElements(), as), y(x.size(), (T)NAN);
    std::vector<const T *> pp;
    for (auto &v : p)
      pp.push_back(v.data());
    const T *in[1] = {x.data()};
    f.forward(sh, in, y.data(), pp.data());
    // f32: the knot bl + i d and x - knot round at |x| ~ 3, divided by d ~ 0.375 and
    // multiplied by a segment's rise of up to 4: about 5e-6.
    checkElements(
        sh, [&](size_t at) { return (double)y[at]; },
        [&](size_t at, int64_t c) {
          return pwlOfChannel((double)x[at], p[0], c, p[1][(size_t)c], p[2][(size_t)c],
                              p[3][(size_t)c], p[4][(size_t)c], widen);
        },
        [&](double want) { return (f32 ? 1e-5 : 1e-12) * std::max(1.0, std::fabs(want)); });
  };
  for (auto [channels, rows] : {std::pair<int64_t, int64_t>{16, 3}, {401, 3}, {16, 19},
                                {37, 19}, {401, 19}, {64, 300}, {20, 19}})
    for (Layout l : {Layout::NCS, Layout::NSC}) {
      run(0.0f, channels, rows, l);
      run(0.0, channels, rows, l);
    }
}

TEST_CASE("a second input goes through the transposed tiles too", "[runtime][layout]") {
  // Each input is transposed into its own tile buffer; x and t differ per element.
  act::Module m = compileOne("act f(x, t; y[C,17], bl[C], br[C], kl[C], kr[C]) = "
                             "pwl(x; y, bl, br, kl, kr) + 0.25 * t");
  const act::Activation &f = m.get("f");
  TensorShape sh{2, 37, 19, Layout::NSC};
  auto as = [](double v) { return (float)v; };
  std::vector<std::vector<float>> p = pwluParams<float>(sh.c, as);
  std::vector<float> x = pwluInputs<float>(sh.numElements(), as), t(x.size()),
                     y(x.size(), NAN);
  for (size_t i = 0; i < t.size(); ++i)
    t[i] = (float)std::sin(0.1 * (double)i);
  const float *in[2] = {x.data(), t.data()};
  const float *pp[5] = {p[0].data(), p[1].data(), p[2].data(), p[3].data(), p[4].data()};
  f.forward(sh, in, y.data(), pp);
  checkElements(
      sh, [&](size_t at) { return (double)y[at]; },
      [&](size_t at, int64_t c) {
        return pwlOfChannel((double)x[at], p[0], c, p[1][(size_t)c], p[2][(size_t)c],
                            p[3][(size_t)c], p[4][(size_t)c],
                            [](float v) { return (double)v; }) +
               0.25 * (double)t[at];
      },
      [](double want) { return 1e-5 * std::max(1.0, std::fabs(want)); });
}

TEST_CASE("f16 and bf16 per-channel tables by transposed tiles against float64",
          "[runtime][layout][half]") {
  // Channels-last forward kernels with a per-channel table transpose their tiles as
  // stored (16-bit lanes) and compute in f32: 2 x 19 rows are two tiles and six rows
  // along rows, C = 37 two whole groups of channels and a masked one. Inputs and
  // parameters are half values; the reference computes on them, and the result may
  // differ by its rounding to the half type plus f32's few ulps.
  act::Module m = compileOne(kPwlu);
  const act::Activation &f = m.get("f");
  struct Half {
    act::DType dtype;
    const char *name;
    uint16_t (*round)(double);
    double (*widen)(uint16_t);
    double halfUlp; // relative, of a rounding to the type
  };
  for (Half t : {Half{act::DType::F16, "f16", act::toFloat16, act::fromFloat16, 0x1p-11},
                 Half{act::DType::BF16, "bf16", act::toBFloat16, act::fromBFloat16, 0x1p-8}}) {
    INFO(t.name);
    TensorShape sh{2, 37, 19, Layout::NSC};
    std::vector<std::vector<uint16_t>> p = pwluParams<uint16_t>(sh.c, t.round);
    std::vector<uint16_t> x = pwluInputs<uint16_t>(sh.numElements(), t.round), y(x.size());
    std::vector<const void *> pp;
    for (auto &v : p)
      pp.push_back(v.data());
    const void *in[1] = {x.data()};
    f.forward(t.dtype, sh, in, y.data(), pp.data());
    checkElements(
        sh, [&](size_t at) { return t.widen(y[at]); },
        [&](size_t at, int64_t c) {
          return pwlOfChannel(t.widen(x[at]), p[0], c, t.widen(p[1][(size_t)c]),
                              t.widen(p[2][(size_t)c]), t.widen(p[3][(size_t)c]),
                              t.widen(p[4][(size_t)c]), t.widen);
        },
        [&](double want) {
          return t.halfUlp * std::fabs(want) + 1e-5 * std::max(1.0, std::fabs(want));
        });
  }
}

TEST_CASE("a channels-last row longer than a chunk runs as segments of its channels, "
          "each with its channels' tables",
          "[runtime][layout][threads]") {
  // {1, C, 1} (a dense layer's batch of one) and {2, C, 1} with C past a chunk (64K
  // elements) are cut into segments of channels, each a kernel call with its
  // channels' parameters and gradient sums; a gradient kernel with a per-channel
  // table called on so few rows goes along rows. y, dx and every gradient against
  // float64 (the table's exactly, pwl being linear in it; the others by central
  // differences of act_ref's pwl away from its kinks), and bitwise the same for 1, 2
  // and 7 threads.
  act::Module m = compileOne(kPwlu);
  const act::Activation &f = m.get("f");
  for (TensorShape sh : {TensorShape{1, 150001, 1, Layout::NSC}, TensorShape{2, 70001, 1, Layout::NSC}}) {
    INFO("N = " << sh.n << " C = " << sh.c);
    const size_t count = (size_t)sh.numElements(), C = (size_t)sh.c;
    auto as = [](double v) { return (float)v; };
    std::vector<std::vector<float>> p = pwluParams<float>(sh.c, as);
    std::vector<float> x = pwluInputs<float>(sh.numElements(), as), dy(count);
    for (size_t i = 0; i < count; ++i)
      dy[i] = (float)std::cos(0.7 * (double)i);
    const float *pp[5] = {p[0].data(), p[1].data(), p[2].data(), p[3].data(), p[4].data()};
    struct Out {
      std::vector<float> y, dx;
      std::vector<std::vector<float>> d;
    };
    auto runWith = [&](unsigned threads) {
      act::setNumThreads(threads);
      Out o{std::vector<float>(count), std::vector<float>(count), {}};
      for (auto &v : p)
        o.d.emplace_back(v.size(), NAN);
      float *dp[5] = {o.d[0].data(), o.d[1].data(), o.d[2].data(), o.d[3].data(), o.d[4].data()};
      const float *in[1] = {x.data()};
      float *dx[1] = {o.dx.data()};
      f.forward(sh, in, o.y.data(), pp);
      f.backward(sh, in, dy.data(), dx, dp, pp);
      return o;
    };
    Out one = runWith(1), two = runWith(2), seven = runWith(7);
    act::setNumThreads(0);
    CHECK(one.y == seven.y);
    CHECK(one.dx == two.dx);
    for (size_t j = 0; j < 5; ++j) {
      CHECK(one.d[j] == two.d[j]);
      CHECK(one.d[j] == seven.d[j]);
    }
    // float64 references, channel by channel: f of the channel's parameters with
    // one of them moved by h (k: which; e: the table entry).
    auto widen = [](float v) { return (double)v; };
    auto fAt = [&](double xv, size_t c, int which, int e, double h) {
      std::vector<act_ref::LD> knots;
      for (int i = 0; i <= 16; ++i)
        knots.push_back(p[0][c * 17 + (size_t)i] + (which == 0 && i == e ? h : 0.0));
      act_ref::LD q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = (act_ref::LD)p[(size_t)k + 1][c] + (which == k + 1 ? h : 0.0);
      return act_ref::pwlRef((act_ref::LD)xv + (which == 5 ? h : 0.0), knots, q[0], q[1], q[2], q[3]);
    };
    std::vector<std::vector<double>> want(5), mag(5);
    for (size_t j = 0; j < 5; ++j) {
      want[j].assign(p[j].size(), 0.0);
      mag[j].assign(p[j].size(), 0.0);
    }
    size_t badY = 0, badDx = 0, checkedDx = 0;
    std::vector<double> dySum(C, 0.0); // a channel's sum of |dy|
    const act_ref::LD h = 1e-8L;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % C;
      double xi = x[i], gi = dy[i];
      double y0 = (double)fAt(xi, c, -1, 0, 0.0);
      dySum[c] += std::fabs(gi);
      badY += std::fabs(seven.y[i] - y0) > 1e-5 * std::max(1.0, std::fabs(y0));
      for (int e = 0; e <= 16; ++e) { // linear in the table: exact differences
        double partial = (double)(fAt(xi, c, 0, e, 1.0) - fAt(xi, c, -1, 0, 0.0));
        want[0][c * 17 + (size_t)e] += gi * partial;
        mag[0][c * 17 + (size_t)e] += std::fabs(gi * partial);
      }
      // Central differences only away from the kinks (knots bl + k d, k = 0..16).
      double bl = p[1][c], d = (p[2][c] - bl) / 16.0, u = (xi - bl) / d;
      if (std::fabs(u - std::round(u)) * d < 1e-5)
        continue;
      auto central = [&](int which) {
        return (double)((fAt(xi, c, which, 0, (double)h) - fAt(xi, c, which, 0, (double)-h)) / (2 * h));
      };
      double wantDx = gi * central(5);
      badDx += std::fabs(seven.dx[i] - wantDx) > 1e-5 * std::max(1.0, std::fabs(wantDx));
      ++checkedDx;
      for (int k = 1; k <= 4; ++k) {
        double partial = gi * central(k);
        want[(size_t)k][c] += partial;
        mag[(size_t)k][c] += std::fabs(partial);
      }
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    CHECK(checkedDx > count * 9 / 10);
    // bl..kr: only elements away from kinks entered the reference; a channel
    // with an element at a kink is skipped there.
    std::vector<char> kinked(C, 0);
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % C;
      double bl = p[1][c], d = (p[2][c] - bl) / 16.0, u = ((double)x[i] - bl) / d;
      kinked[c] |= std::fabs(u - std::round(u)) * d < 1e-5;
    }
    for (size_t j = 0; j < 5; ++j) {
      INFO("parameter " << j);
      size_t bad = 0;
      for (size_t v = 0; v < want[j].size(); ++v) {
        if (j > 0 && kinked[v])
          continue;
        // f32's t = (x - bl) / d: a weight off by a few ulp of 16 (4e-6) an element
        double tol = 1e-5 * mag[j][v] + (j == 0 ? 4e-6 * dySum[v / 17] : 1e-6);
        bad += !(std::fabs(seven.d[j][v] - want[j][v]) <= tol);
      }
      CHECK(bad == 0);
    }
  }
}

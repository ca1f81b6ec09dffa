// Parameters with a value per element: on a tensor of extent 1 along S (a dense
// layer's {N, C, 1}), a [N,C] parameter has one value per element, and so does a [N]
// one where C = 1 too, or a [C] one where N = 1. From 4096 elements such calls run an
// activation's variant with those parameters as inputs (act-params-to-inputs), whose
// backward stores their gradients as products instead of summing each entry alone.
// Checked against float64 references written out here, for float and double, on 1
// and 7 threads (bitwise the same), and bitwise against the same elements computed
// in calls too small for the variant.
#include "act/act.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

using act_test::sameBits;

/// a[C] x + m[N,C] x^2 + t[N] sigmoid(x) + s x, with a const k[C] scaling the
/// first term.
const char *kSource =
    "act f(x; a[C] = 0.5, m[N,C], t[N] = 0.25, s = 0.75, const k[C] = 2.0) =\n"
    "  k * a * x + m * x * x + t * sigmoid(x) + s * x\n";

/// Inputs and parameter values for `shape`, and every output of one backward call.
template <typename T> struct Case {
  act::TensorShape shape;
  std::vector<T> x, dy, a, m, t, s{T(0.75)}, k;
  std::vector<T> y, dx, da, dm, dt, ds;

  explicit Case(const act::TensorShape &sh) : shape(sh) {
    size_t count = (size_t)sh.numElements(), c = (size_t)sh.c, n = (size_t)sh.n;
    x.resize(count);
    dy.resize(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = T(3.0 * std::sin(0.37 * (double)i + 0.1));
      dy[i] = T(std::cos(0.11 * (double)i));
    }
    a.resize(c);
    k.resize(c);
    for (size_t j = 0; j < c; ++j) {
      a[j] = T(0.5 + 0.125 * (double)(j % 7));
      k[j] = T(1.0 + 0.25 * (double)(j % 3));
    }
    m.resize(n * c);
    for (size_t j = 0; j < m.size(); ++j)
      m[j] = T(0.25 * (double)(j % 5) - 0.5);
    t.resize(n);
    for (size_t j = 0; j < n; ++j)
      t[j] = T(0.5 * (double)(j % 3) - 0.25);
  }

  /// backward with y on `threads` threads.
  void run(const act::Activation &f, unsigned threads) {
    act::setNumThreads(threads);
    call(f);
    act::setNumThreads(0);
  }

  /// backward with y on the threads set.
  void call(const act::Activation &f) {
    size_t count = x.size();
    y.assign(count, T(0));
    dx.assign(count, T(0));
    da.assign(a.size(), T(0));
    dm.assign(m.size(), T(0));
    dt.assign(t.size(), T(0));
    ds.assign(1, T(0));
    const T *in[] = {x.data()};
    const T *params[] = {a.data(), m.data(), t.data(), s.data(), k.data()};
    T *dinputs[] = {dx.data()};
    T *dparams[] = {da.data(), dm.data(), dt.data(), ds.data(), nullptr};
    f.backward(shape, in, dy.data(), dinputs, dparams, params, y.data());
  }
};

/// Every output of `a` bitwise those of `b`.
template <typename T> void checkSameBits(const Case<T> &a, const Case<T> &b) {
  CHECK(sameBits(a.y, b.y));
  CHECK(sameBits(a.dx, b.dx));
  CHECK(sameBits(a.da, b.da));
  CHECK(sameBits(a.dm, b.dm));
  CHECK(sameBits(a.dt, b.dt));
  CHECK(sameBits(a.ds, b.ds));
}

/// Element i's sample and channel in `sh` (S = 1, so both layouts agree).
std::pair<size_t, size_t> sampleAndChannel(const act::TensorShape &sh, size_t i) {
  return {i / (size_t)sh.c, i % (size_t)sh.c};
}

template <typename T> void checkAgainstFloat64(const Case<T> &r) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  std::vector<double> wantA(r.a.size()), magA(r.a.size()), wantT(r.t.size()), magT(r.t.size());
  double wantS = 0, magS = 0;
  size_t bad = 0;
  for (size_t i = 0; i < r.x.size(); ++i) {
    auto [n, c] = sampleAndChannel(r.shape, i);
    double x = r.x[i], g = r.dy[i], sig = 1.0 / (1.0 + std::exp(-x));
    double k = r.k[c], a = r.a[c], m = r.m[n * r.a.size() + c], t = r.t[n], s = r.s[0];
    double y = k * a * x + m * x * x + t * sig + s * x;
    double dx = g * (k * a + 2.0 * m * x + t * sig * (1.0 - sig) + s);
    auto off = [&](double got, double want) {
      return std::fabs(got - want) > tol * std::max(1.0, std::fabs(want));
    };
    // The [N,C] gradient is one product per entry: checked entry by entry.
    bad += off(r.y[i], y) + off(r.dx[i], dx) + off(r.dm[n * r.a.size() + c], g * x * x);
    wantA[c] += g * k * x;
    magA[c] += std::fabs(g * k * x);
    wantT[n] += g * sig;
    magT[n] += std::fabs(g * sig);
    wantS += g * x;
    magS += std::fabs(g * x);
  }
  CHECK(bad == 0);
  for (size_t c = 0; c < r.a.size(); ++c)
    CHECK(std::fabs(r.da[c] - wantA[c]) <= tol * (1.0 + magA[c]));
  for (size_t n = 0; n < r.t.size(); ++n)
    CHECK(std::fabs(r.dt[n] - wantT[n]) <= tol * (1.0 + magT[n]));
  CHECK(std::fabs(r.ds[0] - wantS) <= tol * (1.0 + magS));
}

/// Shapes that move m alone ({N, C, 1} either layout), m and t ({N, 1, 1}), a and
/// m ({1, C, 1}), and every learnable parameter but s ({1, 1, 1} is below the
/// threshold; so is {1000, 3, 1}, which keeps the activation's own kernels).
const std::vector<act::TensorShape> kShapes = {
    {4096, 3, 1, act::Layout::NCS}, {300, 17, 1, act::Layout::NSC},
    {8192, 1, 1, act::Layout::NCS}, {1, 5000, 1, act::Layout::NSC},
    {1, 4100, 1, act::Layout::NCS}, {1000, 3, 1, act::Layout::NSC},
    {20, 300, 1, act::Layout::NCS}};

template <typename T> void checkShapes() {
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &f = mod.get("f");
  for (const act::TensorShape &shape : kShapes) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s << " "
              << act_test::layoutName(shape.layout));
    Case<T> one(shape), seven(shape);
    one.run(f, 1);
    seven.run(f, 7);
    checkAgainstFloat64(seven);
    checkSameBits(one, seven);
  }
}

} // namespace

TEST_CASE("parameters with a value per element: values and gradients against float64",
          "[threads][layout]") {
  SECTION("float") { checkShapes<float>(); }
  SECTION("double") { checkShapes<double>(); }
}

TEST_CASE("parameters with a value per element: each entry's gradient is bitwise the product "
          "the activation's own kernels give",
          "[threads][layout]") {
  // {4096, 3, 1} runs the variant; its four quarters {1024, 3, 1} (3072 elements)
  // run the activation's own kernels. Every per-element output agrees bit for bit:
  // y, dx, and m's gradient entries (one product each, rounded once either way).
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &f = mod.get("f");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    INFO(act_test::layoutName(layout));
    Case<float> whole(act::TensorShape{4096, 3, 1, layout});
    whole.run(f, 2);
    for (size_t q = 0; q < 4; ++q) {
      INFO("quarter " << q);
      Case<float> part(act::TensorShape{1024, 3, 1, layout});
      auto slice = [&](const std::vector<float> &v, size_t per) {
        return std::vector<float>(v.begin() + (ptrdiff_t)(q * 1024 * per),
                                  v.begin() + (ptrdiff_t)((q + 1) * 1024 * per));
      };
      part.x = slice(whole.x, 3);
      part.dy = slice(whole.dy, 3);
      part.m = slice(whole.m, 3);
      part.t = slice(whole.t, 1);
      part.run(f, 2);
      CHECK(sameBits(part.y, slice(whole.y, 3)));
      CHECK(sameBits(part.dx, slice(whole.dx, 3)));
      CHECK(sameBits(part.dm, slice(whole.dm, 3)));
      CHECK(sameBits(part.dt, slice(whole.dt, 1)));
    }
  }
}

TEST_CASE("parameters with a value per element: defaults, unwanted gradients and errors",
          "[runtime]") {
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &f = mod.get("f");
  act::TensorShape shape{8192, 1, 1, act::Layout::NCS}; // moves m and t
  Case<float> full(shape);
  full.t.assign(full.t.size(), 0.25f); // t's initial value
  full.run(f, 2);

  const float *in[] = {full.x.data()};
  SECTION("a null moved parameter takes its initial value, one per element") {
    std::vector<float> y(full.x.size()), dx(full.x.size()), dt(full.t.size());
    const float *params[] = {full.a.data(), full.m.data(), nullptr, full.s.data(), full.k.data()};
    float *dinputs[] = {dx.data()};
    float *dparams[] = {nullptr, nullptr, dt.data(), nullptr, nullptr}; // dm not wanted
    f.backward(shape, in, full.dy.data(), dinputs, dparams, params, y.data());
    CHECK(sameBits(y, full.y));
    CHECK(sameBits(dx, full.dx));
    CHECK(sameBits(dt, full.dt));
    std::vector<float> y2(full.x.size());
    f.forward(shape, in, y2.data(), params);
    CHECK(sameBits(y2, full.y));
    // No parameter gradients at all, and f' from derivatives(1).
    std::vector<float> f0(full.x.size()), f1(full.x.size());
    float *outs[] = {f0.data(), f1.data()};
    f.derivatives(1, shape, in, outs, params);
    CHECK(sameBits(f0, full.y));
    size_t bad = 0;
    for (size_t i = 0; i < f1.size(); ++i) {
      double x = full.x[i], sig = 1.0 / (1.0 + std::exp(-x));
      double want = full.k[0] * full.a[0] + 2.0 * full.m[i] * x + 0.25 * sig * (1.0 - sig) +
                    full.s[0];
      bad += std::fabs(f1[i] - want) > 2e-6 * std::max(1.0, std::fabs(want));
    }
    CHECK(bad == 0);
  }
  SECTION("a parameter with no initial value must be passed") {
    std::vector<float> y(full.x.size());
    const float *params[] = {full.a.data(), nullptr, nullptr, nullptr, nullptr};
    REQUIRE_THROWS_WITH(f.forward(shape, in, y.data(), params),
                        "'f': parameter 'm' has no initial value; pass its values");
    std::vector<float> dx(full.x.size());
    float *dinputs[] = {dx.data()};
    REQUIRE_THROWS_WITH(f.backward(shape, in, full.dy.data(), dinputs, nullptr, params),
                        "'f': parameter 'm' has no initial value; pass its values");
    float *noDx[] = {nullptr};
    const float *all[] = {full.a.data(), full.m.data(), nullptr, nullptr, nullptr};
    REQUIRE_THROWS_WITH(f.backward(shape, in, full.dy.data(), noDx, nullptr, all),
                        "'f': the gradient buffer for input 'x' is null");
  }
}

TEST_CASE("parameters with a value per element: threads calling at once share one variant",
          "[runtime]") {
  // Four application threads make the first calls on variant shapes at once (two
  // variants: m alone, and m and t); each result is bitwise the one of a lone call.
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &f = mod.get("f");
  const act::TensorShape shapes[] = {{4096, 3, 1, act::Layout::NCS}, {8192, 1, 1, act::Layout::NCS}};
  std::vector<Case<float>> cases;
  for (int k = 0; k < 8; ++k)
    cases.emplace_back(shapes[k % 2]);
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k)
    threads.emplace_back([&, k] { cases[(size_t)k].call(f); });
  for (std::thread &t : threads)
    t.join();
  for (int k = 0; k < 2; ++k) {
    Case<float> lone(shapes[k]);
    lone.run(f, 2);
    for (size_t j = (size_t)k; j < cases.size(); j += 2) {
      INFO("call " << j);
      checkSameBits(cases[j], lone);
    }
  }
}

TEST_CASE("parameters with a value per element: float16 buffers", "[half]") {
  // The variant's moved parameters are float16 inputs, their gradients stored as an
  // input's: each rounded once from the float32 product.
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &f = mod.get("f");
  for (act::TensorShape shape :
       {act::TensorShape{4096, 3, 1, act::Layout::NCS}, act::TensorShape{8192, 1, 1, act::Layout::NCS}}) {
    INFO("N=" << shape.n << " C=" << shape.c);
    Case<float> ref(shape); // values, rounded to float16 below
    auto half = [](const std::vector<float> &v) {
      std::vector<uint16_t> h(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        h[i] = act::toFloat16(v[i]);
      return h;
    };
    auto back = [](const std::vector<uint16_t> &h) {
      std::vector<float> v(h.size());
      for (size_t i = 0; i < h.size(); ++i)
        v[i] = (float)act::fromFloat16(h[i]);
      return v;
    };
    std::vector<uint16_t> x = half(ref.x), dy = half(ref.dy), a = half(ref.a), m = half(ref.m),
                          t = half(ref.t), s = half(ref.s), k = half(ref.k);
    ref.x = back(x), ref.dy = back(dy), ref.a = back(a), ref.m = back(m), ref.t = back(t),
    ref.s = back(s), ref.k = back(k);
    std::vector<uint16_t> y(x.size()), dx(x.size()), da(a.size()), dm(m.size()), dt(t.size()),
        ds(1);
    const void *in[] = {x.data()};
    const void *params[] = {a.data(), m.data(), t.data(), s.data(), k.data()};
    void *dinputs[] = {dx.data()};
    void *dparams[] = {da.data(), dm.data(), dt.data(), ds.data(), nullptr};
    f.backward(act::DType::F16, shape, in, dy.data(), dinputs, dparams, params, y.data());
    size_t bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      auto [n, c] = sampleAndChannel(shape, i);
      double xi = ref.x[i], g = ref.dy[i], sig = 1.0 / (1.0 + std::exp(-xi));
      double mv = ref.m[n * ref.a.size() + c];
      double wantY = ref.k[c] * ref.a[c] * xi + mv * xi * xi + ref.t[n] * sig + ref.s[0] * xi;
      double wantDx = g * (ref.k[c] * ref.a[c] + 2.0 * mv * xi + ref.t[n] * sig * (1.0 - sig) + ref.s[0]);
      auto off = [](uint16_t got, double want) {
        return std::fabs(act::fromFloat16(got) - want) > 1e-3 * std::max(1.0, std::fabs(want));
      };
      bad += off(y[i], wantY) + off(dx[i], wantDx) + off(dm[n * ref.a.size() + c], g * xi * xi);
    }
    CHECK(bad == 0);
  }
}

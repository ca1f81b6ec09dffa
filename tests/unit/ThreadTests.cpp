// Threads: results, including gradient reductions, are bitwise the same for any
// thread count.
#include "TestSupport.h"

#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <string>
#include <random>
#include <vector>

namespace {

struct Result {
  std::vector<float> y, dx, dp1, dp2, dbeta, yFused;
};

Result run(const act::Activation &acon, const act::TensorShape &shape, unsigned threads) {
  act::setNumThreads(threads);
  REQUIRE(act::numThreads() == threads);
  size_t count = (size_t)shape.numElements();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-4, 4);
  std::vector<float> x(count), dy(count);
  for (size_t i = 0; i < count; ++i) {
    x[i] = u(rng);
    dy[i] = u(rng);
  }
  std::vector<float> p1((size_t)shape.c), p2((size_t)shape.c), beta((size_t)shape.c);
  for (int64_t c = 0; c < shape.c; ++c) {
    p1[(size_t)c] = 1.0f + 0.01f * (float)c;
    p2[(size_t)c] = -0.1f * (float)(c % 5);
    beta[(size_t)c] = 0.5f + 0.05f * (float)c;
  }
  Result r;
  r.y.resize(count);
  r.yFused.resize(count);
  r.dx.resize(count);
  r.dp1.resize(p1.size());
  r.dp2.resize(p1.size());
  r.dbeta.resize(p1.size());
  const float *in[] = {x.data()};
  const float *params[] = {p1.data(), p2.data(), beta.data()};
  float *dinputs[] = {r.dx.data()};
  float *dparams[] = {r.dp1.data(), r.dp2.data(), r.dbeta.data()};
  acon.forward(shape, in, r.y.data(), params);
  acon.backward(shape, in, dy.data(), dinputs, dparams, params, r.yFused.data());
  return r;
}

} // namespace

TEST_CASE("forward and backward are bitwise identical for 1, 2 and 7 threads",
          "[threads]") {
  act::Module m = act::Module::compile(
      "act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = "
      "smooth_max(p1 * x, p2 * x; beta)");
  const act::Activation &acon = m.get("acon_c");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    act::TensorShape shape{8, 24, 3000, layout}; // 576k elements: many chunks
    Result one = run(acon, shape, 1), two = run(acon, shape, 2), seven = run(acon, shape, 7);
    CHECK(act_test::sameBits(one.y, two.y));
    CHECK(act_test::sameBits(one.y, seven.y));
    CHECK(act_test::sameBits(one.y, one.yFused));
    CHECK(act_test::sameBits(one.dx, seven.dx));
    CHECK(act_test::sameBits(one.dp1, two.dp1));
    CHECK(act_test::sameBits(one.dp1, seven.dp1));
    CHECK(act_test::sameBits(one.dp2, seven.dp2));
    CHECK(act_test::sameBits(one.dbeta, two.dbeta));
    CHECK(act_test::sameBits(one.dbeta, seven.dbeta));
    // A repeated run with the same count is identical too.
    Result again = run(acon, shape, 7);
    CHECK(act_test::sameBits(again.dbeta, seven.dbeta));
  }
  act::setNumThreads(0);
}

TEST_CASE("a parallel reduction matches a float64 sum", "[threads]") {
  act::Module m = act::Module::compile("act scale(x; a[C] = 1.0) = a * x * x");
  const act::Activation &f = m.get("scale");
  act::setNumThreads(7);
  act::TensorShape shape{3, 5, 40000, act::Layout::NCS};
  size_t count = (size_t)shape.numElements();
  std::vector<float> x(count), dy(count, 1.0f), dx(count), da(5);
  std::vector<double> want(5, 0.0);
  for (size_t i = 0; i < count; ++i) {
    x[i] = (float)std::sin(0.001 * (double)i);
    want[(i / 40000) % 5] += (double)x[i] * (double)x[i];
  }
  const float *in[] = {x.data()};
  float *dinputs[] = {dx.data()};
  float *dparams[] = {da.data()};
  f.backward(shape, in, dy.data(), dinputs, dparams);
  for (size_t c = 0; c < 5; ++c) {
    INFO("channel " << c);
    CHECK(std::fabs(da[c] - want[c]) <= 1e-6 * std::fabs(want[c]));
  }
  act::setNumThreads(0);
}

TEST_CASE("gradients of per-sample and shared-table and scalar parameters reduce correctly",
          "[grad]") {
  // f = a[n] * x + b * x^2 + t[k] terms through pwl over a shared 3-knot table.
  act::Module m = act::Module::compile(
      "act f(x; a[N] = 1.0, b = 0.5, t[3] = [0, 1, 3]) = "
      "a * x + b * x * x + pwl(x; t, -1.0, 1.0, 0.0, 0.0)");
  const act::Activation &f = m.get("f");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    act::TensorShape shape{3, 2, 5, layout};
    size_t count = (size_t)shape.numElements();
    std::vector<double> x(count), dy(count), dx(count), a = {0.5, -1.0, 2.0}, b = {0.25},
                                                         t = {0.0, 1.0, 3.0};
    std::vector<double> da(3), db(1), dt(3), wantA(3, 0.0), wantB(1, 0.0), wantT(3, 0.0);
    for (size_t i = 0; i < count; ++i) {
      x[i] = -1.4 + 0.1 * (double)i;
      dy[i] = 1.0 + 0.01 * (double)i;
      size_t n = i / (size_t)(shape.c * shape.s); // n is outermost in both layouts
      wantA[n] += dy[i] * x[i];
      wantB[0] += dy[i] * x[i] * x[i];
      // pwl on [-1, 1] with 2 segments of width 1: interpolation weights per knot.
      if (x[i] < -1) {
        wantT[0] += dy[i];
      } else if (x[i] > 1) {
        wantT[2] += dy[i];
      } else {
        double u = x[i] + 1; // in [0, 2]
        size_t seg = std::min<size_t>(1, (size_t)std::floor(u));
        double frac = u - (double)seg;
        wantT[seg] += dy[i] * (1 - frac);
        wantT[seg + 1] += dy[i] * frac;
      }
    }
    const double *in[] = {x.data()};
    const double *params[] = {a.data(), b.data(), t.data()};
    double *dinputs[] = {dx.data()};
    double *dparams[] = {da.data(), db.data(), dt.data()};
    f.backward(shape, in, dy.data(), dinputs, dparams, params);
    for (size_t n = 0; n < 3; ++n)
      CHECK(da[n] == Approx(wantA[n]).epsilon(1e-12));
    CHECK(db[0] == Approx(wantB[0]).epsilon(1e-12));
    for (size_t k = 0; k < 3; ++k) {
      INFO("knot " << k);
      CHECK(dt[k] == Approx(wantT[k]).epsilon(1e-12));
    }
  }
}

TEST_CASE("rows longer than a chunk run as segments on every thread, and {n, 1, s} as one row",
          "[threads]") {
  // A tensor of few long rows ({1, 1, n}: a flat array; channels-last {1, C, 1}: a
  // dense layer's batch of one) is cut into segments of rows, each a kernel call on
  // one row with its sample's and channel's (channels-last: its channels')
  // parameters; {n, 1, s} (one channel) runs as the one row {1, 1, n s} when no
  // parameter varies along N, and any shape so when none varies along N or C.
  // Values against a float64 reference, gradients bitwise the same for 1, 2 and 7
  // threads.
  act::Module mod = act::Module::compile(
      "act g(x; a[C] = 1.0, m[N,C] = 0.5, t[N] = 0.0) = a * x + m * x * x + t * x\n"
      "act h(x; a[C] = 1.0, b = 0.0) = a * x + b * x * x\n"
      "act k(x; b = 0.0) = x + b * x * x");
  struct Case {
    const char *fn;
    act::TensorShape shape;
  };
  for (Case k : {Case{"g", {1, 1, 1000003, act::Layout::NCS}}, Case{"g", {2, 3, 300001, act::Layout::NCS}},
                 Case{"g", {3, 1, 400000, act::Layout::NSC}}, Case{"h", {1000003, 1, 1, act::Layout::NCS}},
                 Case{"h", {1, 2, 700001, act::Layout::NCS}},
                 // One channel, rows of a few elements: its [C] parameter has one value.
                 Case{"h", {200003, 1, 16, act::Layout::NCS}}, Case{"h", {100003, 1, 7, act::Layout::NSC}},
                 // A chunk sums only its own samples' [N,C] and [N] gradients: many
                 // samples a chunk, and samples cut across chunks.
                 Case{"g", {600, 200, 1, act::Layout::NCS}}, Case{"g", {5, 3, 70001, act::Layout::NSC}},
                 // A chunk's own samples' gradients are stored by its task, the
                 // sample it shares with the next chunk summed after.
                 Case{"g", {300, 7, 50, act::Layout::NCS}}, Case{"g", {300, 7, 50, act::Layout::NSC}},
                 // Channels-last rows cut into segments of channels: one row, and
                 // several (a value's chunks are then not adjacent).
                 Case{"g", {1, 300001, 1, act::Layout::NSC}}, Case{"g", {3, 100001, 1, act::Layout::NSC}},
                 Case{"h", {2, 150001, 1, act::Layout::NCS}}, Case{"k", {3, 70001, 5, act::Layout::NSC}},
                 Case{"k", {1, 200003, 1, act::Layout::NSC}}}) {
    const act::Activation &f = mod.get(k.fn);
    act::TensorShape shape = k.shape;
    INFO(k.fn << " N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    bool g = std::string(k.fn) == "g", scalarOnly = std::string(k.fn) == "k";
    size_t count = (size_t)shape.numElements(), C = (size_t)shape.c, N = (size_t)shape.n,
           S = (size_t)shape.s;
    std::vector<float> x(count), dy(count), a(C), m(N * C), t(N), b(1, 0.375f);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)std::sin(0.0013 * (double)i);
      dy[i] = (float)std::cos(0.0007 * (double)i);
    }
    for (size_t c = 0; c < C; ++c)
      a[c] = scalarOnly ? 1.0f : 1.0f + 0.25f * (float)(c % 64);
    for (size_t j = 0; j < N * C; ++j)
      m[j] = 0.5f - 0.125f * (float)(j % 16); // bounded: y's float rounding stays near 1e-7
    for (size_t n = 0; n < N; ++n)
      t[n] = -0.75f + 0.5f * (float)(n % 8);
    std::vector<const float *> params =
        g ? std::vector<const float *>{a.data(), m.data(), t.data()}
        : scalarOnly ? std::vector<const float *>{b.data()}
                     : std::vector<const float *>{a.data(), b.data()};
    struct Out {
      std::vector<float> y, dx;
      std::vector<std::vector<float>> d;
    };
    auto runWith = [&](unsigned threads) {
      act::setNumThreads(threads);
      Out o;
      o.y.resize(count);
      o.dx.resize(count);
      o.d = g ? std::vector<std::vector<float>>{std::vector<float>(C), std::vector<float>(N * C),
                                                  std::vector<float>(N)}
            : scalarOnly ? std::vector<std::vector<float>>{std::vector<float>(1)}
                         : std::vector<std::vector<float>>{std::vector<float>(C), std::vector<float>(1)};
      std::vector<float *> dparams;
      for (auto &v : o.d)
        dparams.push_back(v.data());
      const float *in[] = {x.data()};
      float *dinputs[] = {o.dx.data()};
      f.forward(shape, in, o.y.data(), params.data());
      f.backward(shape, in, dy.data(), dinputs, dparams.data(), params.data());
      return o;
    };
    Out one = runWith(1), two = runWith(2), seven = runWith(7);
    CHECK(std::memcmp(one.y.data(), seven.y.data(), count * 4) == 0);
    CHECK(std::memcmp(one.dx.data(), two.dx.data(), count * 4) == 0);
    for (size_t j = 0; j < one.d.size(); ++j) {
      CHECK(one.d[j] == two.d[j]);
      CHECK(one.d[j] == seven.d[j]);
    }
    // float64 reference (channels-first or channels-last positions)
    std::vector<double> wantA(C, 0.0), wantM(N * C, 0.0), wantT(N, 0.0), wantB(1, 0.0);
    std::vector<double> magA(C, 0.0), magM(N * C, 0.0), magT(N, 0.0), magB(1, 0.0);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t n = i / (C * S);
      size_t c = shape.layout == act::Layout::NCS ? (i / S) % C : i % C;
      double xi = x[i], gi = dy[i];
      double mi = g ? m[n * C + c] : 0.0, ti = g ? t[n] : 0.0, bi = g ? 0.0 : b[0];
      double wantY = a[c] * xi + (mi + bi) * xi * xi + ti * xi;
      double wantDx = gi * (a[c] + 2.0 * (mi + bi) * xi + ti);
      badY += std::fabs(seven.y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(seven.dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c] += gi * xi;
      magA[c] += std::fabs(gi * xi);
      if (g) {
        wantM[n * C + c] += gi * xi * xi;
        magM[n * C + c] += std::fabs(gi * xi * xi);
        wantT[n] += gi * xi;
        magT[n] += std::fabs(gi * xi);
      } else {
        wantB[0] += gi * xi * xi;
        magB[0] += std::fabs(gi * xi * xi);
      }
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    auto near = [](const std::vector<float> &got, const std::vector<double> &want,
                   const std::vector<double> &mag) {
      size_t bad = 0;
      for (size_t j = 0; j < got.size(); ++j)
        bad += std::fabs(got[j] - want[j]) > 1e-6 * mag[j] + 1e-30;
      return bad;
    };
    if (scalarOnly) {
      CHECK(near(seven.d[0], wantB, magB) == 0);
      continue;
    }
    CHECK(near(seven.d[0], wantA, magA) == 0);
    if (g) {
      CHECK(near(seven.d[1], wantM, magM) == 0);
      CHECK(near(seven.d[2], wantT, magT) == 0);
    } else {
      CHECK(near(seven.d[1], wantB, magB) == 0);
    }
  }
  act::setNumThreads(0);
}

TEST_CASE("forward on a tensor streaming from memory equals the in-cache kernels' results",
          "[threads]") {
  // Past 4M elements forward kernels run their vector loop unstaged (the runtime's
  // forwardRowsFor); in cache staged. The same operations either way: a tensor of
  // two samples of 2.4M elements must give bitwise what each sample alone gives.
  act::Module mod = act::Module::compile(
      "act acon(x; p1[C] = 1.0, p2[C] = 0.25, beta[C] = 1.0) = (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x\n"
      "act sw(x; beta = 1.0) = x * sigmoid(beta * x)");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC})
    for (const char *fn : {"acon", "sw"}) {
      const act::Activation &f = mod.get(fn);
      bool perChannel = std::string(fn) == "acon";
      const int64_t C = 4, S = 600001;
      act::TensorShape whole{2, C, S, layout}, half{1, C, S, layout};
      INFO(fn << (layout == act::Layout::NSC ? " nsc" : " ncs"));
      REQUIRE(whole.numElements() > (int64_t(1) << 22));
      REQUIRE(half.numElements() < (int64_t(1) << 22));
      size_t count = (size_t)whole.numElements(), halfCount = count / 2;
      std::vector<float> x(count), y(count), yHalves(count);
      for (size_t i = 0; i < count; ++i)
        x[i] = (float)(8.0 * std::sin(0.00037 * (double)i));
      std::vector<float> p1 = {1.0f, 1.5f, 0.75f, 2.0f}, p2 = {0.25f, -0.5f, 0.0f, 0.125f},
                         beta = {1.0f, 0.5f, 2.0f, 1.25f}, b = {0.875f};
      std::vector<const float *> params =
          perChannel ? std::vector<const float *>{p1.data(), p2.data(), beta.data()}
                     : std::vector<const float *>{b.data()};
      const float *in[] = {x.data()};
      f.forward(whole, in, y.data(), params.data());
      for (size_t h = 0; h < 2; ++h) {
        const float *inHalf[] = {x.data() + h * halfCount};
        f.forward(half, inHalf, yHalves.data() + h * halfCount, params.data());
      }
      CHECK(std::memcmp(y.data(), yHalves.data(), count * sizeof(float)) == 0);
      // And against float64 at a few points (the halves are not both wrong alike).
      for (size_t i : {size_t(0), size_t(12345), halfCount + 777, count - 1}) {
        size_t c = layout == act::Layout::NCS ? (i / (size_t)S) % (size_t)C : i % (size_t)C;
        double xi = x[i];
        double want = perChannel
                          ? (p1[c] - (double)p2[c]) * xi /
                                    (1.0 + std::exp(-(double)beta[c] * (p1[c] - (double)p2[c]) * xi)) +
                                p2[c] * xi
                          : xi / (1.0 + std::exp(-(double)b[0] * xi));
        CHECK(std::fabs(y[i] - want) <= 1e-5 * std::max(1.0, std::fabs(want)));
      }
    }
}

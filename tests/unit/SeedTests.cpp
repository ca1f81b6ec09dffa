// Numeric tests of every definition in examples/seeds.act against independent
// references written from the papers' formulas (not from the compiler's lowering), in
// Reference.h (shared with GradTests.cpp).
//
// References are evaluated in long double and rounded to the kernel's element type, so
// the reference error is far below every tolerance. For float32 the reference is taken
// at the float-rounded input and float-rounded parameters: the test measures how well the
// kernel computes the function of the values it was actually given.
//
// Tolerances (err = |kernel - reference rounded to T|):
//   float64: err <= max(1e-12, 1e-12 * |ref|)
//   float32: err <= max(2e-6 * |ref|, 1e-6 * max(1, |ref|))
#include "Reference.h"
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

using act::Layout;
using act::TensorShape;

namespace {

using namespace act_ref;
using act_test::fmt;
using act_test::seeds;

//===----------------------------------------------------------------------===//
// Harness
//===----------------------------------------------------------------------===//

/// Parameter values of one (n, c) position, as the reference sees them.
struct Ctx {
  const std::vector<act::ParamInfo> *infos;
  const std::vector<std::vector<LD>> *vals; // per parameter, numValues entries
  int64_t n, c, C;

  /// Parameter `k` (declaration order) at this position; `j` indexes a table.
  LD p(size_t k, int64_t j = 0) const {
    const act::ParamInfo &info = (*infos)[k];
    int64_t row = (info.perSample ? n : 0) * (info.perChannel ? C : 1) +
                  (info.perChannel ? c : 0);
    return (*vals)[k][(size_t)(row * std::max<int64_t>(info.tableLength, 1) + j)];
  }
  std::vector<LD> table(size_t k) const {
    std::vector<LD> t((size_t)(*infos)[k].tableLength);
    for (size_t j = 0; j < t.size(); ++j)
      t[j] = p(k, (int64_t)j);
    return t;
  }
};

using RefFn = std::function<LD(LD x, LD t, const Ctx &)>;

/// One parameter of a case: the values the reference uses (expanded to numValues), and
/// whether they are passed to the kernel or left null (then they must be the declared
/// initial values, which the test states independently).
struct Arg {
  std::vector<double> values;
  bool pass = true;
};
Arg given(std::vector<double> v) { return Arg{std::move(v), true}; }
Arg given(double v) { return Arg{{v}, true}; }
/// Left null: the kernel must use the initial value, here `v` repeated `count` times.
Arg byDefault(double v, size_t count = 1) { return Arg{std::vector<double>(count, v), false}; }

struct Case {
  std::string fn;
  std::string label;
  int64_t n = 1, c = 1;
  std::vector<Arg> args; // one per declared parameter
  RefFn ref;
};

/// The evaluation points: 2001 on [-10, 10], the knots of the default PWLU table, and
/// a few far and near-zero points.
const std::vector<double> &points() {
  static const std::vector<double> pts = [] {
    std::vector<double> v;
    for (int i = 0; i <= 2000; ++i)
      v.push_back(-10.0 + 20.0 * i / 2000.0);
    for (int i = 0; i <= 16; ++i)
      v.push_back(-3.0 + 0.375 * i);
    for (double x : {-100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0})
      v.push_back(x);
    return v;
  }();
  return pts;
}

/// The second input of two-input activations (FReLU's funnel condition): a smooth
/// function that crosses x several times and differs per (n, c).
double secondInput(double x, int64_t n, int64_t c) {
  return 3.0 * std::sin(1.3 * x + (double)c) - 0.5 * (double)n;
}

double tolerance(double ref, bool f32) {
  double a = std::fabs(ref);
  if (f32)
    return std::max(2e-6 * a, 1e-6 * std::max(1.0, a));
  return std::max(1e-12, 1e-12 * a);
}


template <typename T> void checkCase(const Case &k) {
  constexpr bool f32 = std::is_same<T, float>::value;
  const act::Activation &a = seeds().get(k.fn);
  const std::vector<act::ParamInfo> &infos = a.params();
  INFO(k.fn << " [" << k.label << "] " << (f32 ? "f32" : "f64"));
  REQUIRE(infos.size() == k.args.size());

  const std::vector<double> &pts = points();
  const int64_t S = (int64_t)pts.size();
  TensorShape shape{k.n, k.c, S, Layout::NCS};

  // Parameters as the kernel gets them (type T) and as the reference sees them.
  std::vector<std::vector<T>> pk(infos.size());
  std::vector<std::vector<LD>> pr(infos.size());
  std::vector<const T *> pptr(infos.size(), nullptr);
  for (size_t i = 0; i < infos.size(); ++i) {
    const Arg &arg = k.args[i];
    REQUIRE((int64_t)arg.values.size() == infos[i].numValues(shape));
    for (double v : arg.values) {
      pk[i].push_back((T)v);
      pr[i].push_back((LD)(T)v);
    }
    if (arg.pass)
      pptr[i] = pk[i].data();
  }

  const bool twoInputs = a.inputs().size() == 2;
  REQUIRE(a.inputs().size() == (twoInputs ? 2u : 1u));
  const int64_t count = shape.numElements();
  std::vector<T> x((size_t)count), t((size_t)count), y((size_t)count, (T)NAN);
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t c = 0; c < k.c; ++c)
      for (int64_t s = 0; s < S; ++s) {
        size_t i = (size_t)((n * k.c + c) * S + s);
        x[i] = (T)pts[(size_t)s];
        t[i] = (T)secondInput(pts[(size_t)s], n, c);
      }
  const T *inputs[2] = {x.data(), t.data()};
  REQUIRE_NOTHROW(a.forward(shape, inputs, y.data(), pptr.data()));

  int64_t failures = 0;
  double worstRatio = -1, worstX = 0, worstExpected = 0, worstGot = 0, worstErr = 0;
  int64_t worstN = 0, worstC = 0;
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t c = 0; c < k.c; ++c) {
      Ctx ctx{&infos, &pr, n, c, k.c};
      for (int64_t s = 0; s < S; ++s) {
        size_t i = (size_t)((n * k.c + c) * S + s);
        double expected = (double)(T)k.ref((LD)x[i], (LD)t[i], ctx);
        double got = (double)y[i];
        double err = std::fabs(got - expected);
        if (std::isnan(got) || std::isnan(err))
          err = std::numeric_limits<double>::infinity();
        double ratio = err / tolerance(expected, f32);
        if (ratio > 1)
          ++failures;
        if (ratio > worstRatio) {
          worstRatio = ratio;
          worstX = (double)x[i];
          worstExpected = expected;
          worstGot = got;
          worstErr = err;
          worstN = n;
          worstC = c;
        }
      }
    }
  INFO("worst point: n=" << worstN << " c=" << worstC << " x=" << fmt(worstX)
                         << " expected=" << fmt(worstExpected) << " got=" << fmt(worstGot)
                         << " |err|=" << fmt(worstErr)
                         << " err/tolerance=" << fmt(worstRatio));
  INFO(failures << " of " << count << " values out of tolerance");
  CHECK(failures == 0);
}

void checkBoth(const Case &k) {
  SECTION("f64 " + k.label) { checkCase<double>(k); }
  SECTION("f32 " + k.label) { checkCase<float>(k); }
}

std::vector<double> perChannel(std::initializer_list<double> v) { return v; }

//===----------------------------------------------------------------------===//
// The cases: every definition, with initial and non-default parameter values
//===----------------------------------------------------------------------===//

// Non-default PWLU: a wavy, non-monotone 17-knot table per channel, and different
// ranges and edge slopes per channel.
std::vector<double> customPwluTable(int64_t C) {
  std::vector<double> y;
  for (int64_t c = 0; c < C; ++c)
    for (int i = 0; i <= 16; ++i)
      y.push_back(0.5 * (double)(c + 1) * std::sin(0.6 * i + (double)c) + 0.1 * i -
                  0.3 * (double)c);
  return y;
}

const std::vector<double> kReluTable = {0,     0,    0,     0,   0,     0,    0,     0,   0,
                                        0.375, 0.75, 1.125, 1.5, 1.875, 2.25, 2.625, 3};

std::vector<Case> allCases() {
  std::vector<Case> cs;
  auto add = [&](std::string fn, std::string label, int64_t n, int64_t c,
                 std::vector<Arg> args, RefFn ref) {
    cs.push_back(Case{std::move(fn), std::move(label), n, c, std::move(args), std::move(ref)});
  };
  auto x1 = [](std::function<LD(LD)> f) { return [f](LD x, LD, const Ctx &) { return f(x); }; };

  // --- classics
  add("sigmoid_", "", 1, 1, {}, x1([](LD x) { return sigm(x); }));
  add("hard_sigmoid_", "", 1, 1, {}, x1([](LD x) { return hardSigmoidRef(x); }));
  add("tanh_", "", 1, 1, {}, x1([](LD x) { return std::tanh(x); }));
  add("relu_", "", 1, 1, {}, x1([](LD x) { return reluRef(x); }));
  add("softplus_", "", 1, 1, {}, x1([](LD x) { return softplusRef(x); }));
  add("relu6_", "", 1, 1, {}, x1([](LD x) { return relu6Ref(x); }));

  // Leaky ReLU (Maas et al.): x for x > 0, alpha x otherwise.
  auto leaky = [](LD x, LD, const Ctx &p) { return leakyReluRef(x, p.p(0)); };
  add("leaky_relu", "alpha=0.01 (init)", 1, 1, {byDefault(0.01)}, leaky);
  add("leaky_relu", "alpha=0.2", 1, 1, {given(0.2)}, leaky);

  // PReLU (He et al.): per-channel slope a_c on the negative side.
  auto prelu = [](LD x, LD, const Ctx &p) { return preluRef(x, p.p(0)); };
  add("prelu", "a=0.25 (init), C=3", 2, 3, {byDefault(0.25, 3)}, prelu);
  add("prelu", "a per channel, N=2 C=3", 2, 3, {given(perChannel({0.1, -0.5, 2.0}))}, prelu);

  // ELU (Clevert et al.): x for x > 0, alpha (e^x - 1) otherwise.
  auto elu = [](LD x, LD, const Ctx &p) { return eluRef(x, p.p(0)); };
  add("elu", "alpha=1 (init)", 1, 1, {byDefault(1.0)}, elu);
  add("elu", "alpha=0.5", 1, 1, {given(0.5)}, elu);

  // SELU: lambda * (x > 0 ? x : alpha (e^x - 1)).
  add("selu", "", 1, 1, {}, x1([](LD x) { return seluRef(x); }));

  // --- smooth gates
  // Swish-beta (Ramachandran et al.): x * sigmoid(beta x).
  auto swish = [](LD x, LD, const Ctx &p) { return swishRef(x, p.p(0)); };
  add("swish", "beta=1 (init)", 1, 1, {byDefault(1.0)}, swish);
  add("swish", "beta=0.5", 1, 1, {given(0.5)}, swish);
  add("swish", "beta=3", 1, 1, {given(3.0)}, swish);
  add("swish", "beta=0", 1, 1, {given(0.0)}, swish);
  // hard-swish (MobileNetV3): x * relu6(x + 3) / 6.
  add("hard_swish_", "", 1, 1, {}, x1([](LD x) { return hardSwishRef(x); }));
  // Mish (Misra): x * tanh(softplus(x)).
  add("mish", "", 1, 1, {}, x1([](LD x) { return mishRef(x); }));
  add("gelu_", "", 1, 1, {}, x1([](LD x) { return geluRef(x); }));
  add("gelu_tanh_", "", 1, 1, {}, x1([](LD x) { return geluTanhRef(x); }));

  // --- ACON family (Ma et al., "Activate or Not: Learning Customized Activation")
  // ACON-A: S_beta(x, 0) = x * sigmoid(beta x).
  auto aconA = [](LD x, LD, const Ctx &p) { return swishRef(x, p.p(0)); };
  add("acon_a", "beta=1 (init)", 1, 1, {byDefault(1.0)}, aconA);
  add("acon_a", "beta=0.5", 1, 1, {given(0.5)}, aconA);
  add("acon_a", "beta=3", 1, 1, {given(3.0)}, aconA);
  // ACON-B: S_beta(x, p x) = (1 - p) x sigmoid(beta (1 - p) x) + p x.
  auto aconB = [](LD x, LD, const Ctx &p) { return aconBRef(x, p.p(0), p.p(1)); };
  add("acon_b", "p=0.25 beta=1 (init), C=3", 1, 3, {byDefault(0.25, 3), byDefault(1.0, 3)},
      aconB);
  add("acon_b", "p, beta per channel, N=2 C=3", 2, 3,
      {given(perChannel({0.1, -0.75, 2.0})), given(perChannel({1.0, 0.5, 3.0}))}, aconB);
  // ACON-C: (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x.
  auto aconC = [](LD x, LD, const Ctx &p) { return aconCRef(x, p.p(0), p.p(1), p.p(2)); };
  add("acon_c", "p1=1 p2=0 beta=1 (init), C=3", 1, 3,
      {byDefault(1.0, 3), byDefault(0.0, 3), byDefault(1.0, 3)}, aconC);
  add("acon_c", "p1, p2, beta per channel, N=2 C=3", 2, 3,
      {given(perChannel({1.5, -0.5, 0.8})), given(perChannel({0.25, 0.7, -1.2})),
       given(perChannel({1.0, 0.5, 3.0}))},
      aconC);
  // Meta-ACON-C: the same with beta per (sample, channel), row-major [N, C].
  add("meta_acon_c", "p1, p2 init, beta[N,C], N=2 C=3", 2, 3,
      {byDefault(1.0, 3), byDefault(0.0, 3), given({0.5, 1.0, 2.0, 3.0, -1.0, 0.0})}, aconC);
  add("meta_acon_c", "p1, p2 per channel, beta[N,C], N=2 C=3", 2, 3,
      {given(perChannel({1.5, -0.5, 0.8})), given(perChannel({0.25, 0.7, -1.2})),
       given({0.5, 1.0, 2.0, 3.0, -1.0, 0.0})},
      aconC);

  // --- PWLU (Zhou et al., "Learning Specialized Activation Functions with the
  // Piecewise Linear Unit")
  auto pwlu = [](LD x, LD, const Ctx &p) {
    return pwlRef(x, p.table(0), p.p(1), p.p(2), p.p(3), p.p(4));
  };
  {
    std::vector<double> relu3;
    for (int c = 0; c < 3; ++c)
      relu3.insert(relu3.end(), kReluTable.begin(), kReluTable.end());
    add("pwlu", "ReLU table (init), C=3", 2, 3,
        {Arg{relu3, false}, byDefault(-3.0, 3), byDefault(3.0, 3), byDefault(0.0, 3),
         byDefault(1.0, 3)},
        pwlu);
    add("pwlu", "ReLU table given explicitly, C=3", 2, 3,
        {given(relu3), given(perChannel({-3, -3, -3})), given(perChannel({3, 3, 3})),
         given(perChannel({0, 0, 0})), given(perChannel({1, 1, 1}))},
        pwlu);
    add("pwlu", "custom table, bl/br/kl/kr per channel, N=2 C=3", 2, 3,
        {given(customPwluTable(3)), given(perChannel({-3.0, -1.0, -5.5})),
         given(perChannel({3.0, 2.5, 0.75})), given(perChannel({0.0, -0.5, 1.25})),
         given(perChannel({1.0, 2.0, -0.3}))},
        pwlu);
  }

  // --- FReLU (Ma et al.): max(x, t) with the funnel condition t as a second input
  add("frelu", "second input t, N=2 C=3", 2, 3, {},
      [](LD x, LD t, const Ctx &) { return freluRef(x, t); });

  // --- functions found by the Swish paper's search (Ramachandran et al., table 2)
  add("max_x_sigmoid", "", 1, 1, {}, x1([](LD x) { return maxXSigmoidRef(x); }));
  add("cos_minus_x", "", 1, 1, {}, x1([](LD x) { return cosMinusXRef(x); }));
  add("min_x_sin", "", 1, 1, {}, x1([](LD x) { return minXSinRef(x); }));
  add("atan_sq_minus_x", "", 1, 1, {}, x1([](LD x) { return atanSqMinusXRef(x); }));
  add("x_asinh_sq", "", 1, 1, {}, x1([](LD x) { return xAsinhSqRef(x); }));
  return cs;
}

const std::vector<Case> &cases() {
  static const std::vector<Case> cs = allCases();
  return cs;
}

const std::vector<std::string> kSeedNames = {
    "sigmoid_",  "hard_sigmoid_", "tanh_",      "relu_",          "softplus_",
    "relu6_",    "leaky_relu",    "prelu",      "elu",            "selu",
    "swish",     "hard_swish_",   "mish",       "gelu_",          "gelu_tanh_",
    "acon_a",    "acon_b",        "acon_c",     "meta_acon_c",    "pwlu",
    "frelu",     "max_x_sigmoid", "cos_minus_x", "min_x_sin",     "atan_sq_minus_x",
    "x_asinh_sq"};

void checkSeed(const std::string &fn) {
  bool any = false;
  for (const Case &k : cases())
    if (k.fn == fn) {
      any = true;
      checkBoth(k);
    }
  INFO(fn);
  REQUIRE(any);
}

} // namespace

//===----------------------------------------------------------------------===//
// The file and its metadata
//===----------------------------------------------------------------------===//

TEST_CASE("seeds.act compiles and holds exactly the definitions the tests cover",
          "[seeds]") {
  REQUIRE_NOTHROW(seeds());
  CHECK(seeds().names() == kSeedNames);
  // Every definition has at least one numeric case.
  std::set<std::string> covered;
  for (const Case &k : cases())
    covered.insert(k.fn);
  for (const std::string &name : seeds().names()) {
    INFO("definition without a reference: " << name);
    CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("seed parameter metadata: names, shapes, const, initial values", "[seeds]") {
  const act::Module &m = seeds();
  struct Expect {
    std::string name, shape;
    bool perSample, perChannel;
    int64_t table;
    bool isConst;
    std::vector<double> init;
  };
  auto check = [&](const std::string &fn, const std::vector<std::string> &inputs,
                   const std::vector<Expect> &params) {
    INFO("activation " << fn);
    const act::Activation &a = m.get(fn);
    CHECK(a.name() == fn);
    CHECK(a.inputs() == inputs);
    CHECK_FALSE(a.formula().empty());
    REQUIRE(a.params().size() == params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const act::ParamInfo &p = a.params()[i];
      const Expect &e = params[i];
      INFO("parameter #" << i << " expected '" << e.name << "'");
      CHECK(p.name == e.name);
      CHECK(p.shape() == e.shape);
      CHECK(p.perSample == e.perSample);
      CHECK(p.perChannel == e.perChannel);
      CHECK(p.tableLength == e.table);
      CHECK(p.isConst == e.isConst);
      CHECK(p.init == e.init);
      const act::ParamInfo *found = a.findParam(e.name);
      REQUIRE(found != nullptr);
      CHECK(found->name == e.name);
    }
    CHECK(a.findParam("no_such_param") == nullptr);
  };

  for (const char *fn : {"sigmoid_", "hard_sigmoid_", "tanh_", "relu_", "softplus_", "relu6_",
                         "selu", "hard_swish_", "mish", "gelu_", "gelu_tanh_", "max_x_sigmoid",
                         "cos_minus_x", "min_x_sin", "atan_sq_minus_x", "x_asinh_sq"})
    check(fn, {"x"}, {});
  check("frelu", {"x", "t"}, {});
  check("leaky_relu", {"x"}, {{"alpha", "", false, false, 0, true, {0.01}}});
  check("prelu", {"x"}, {{"a", "[C]", false, true, 0, false, {0.25}}});
  check("elu", {"x"}, {{"alpha", "", false, false, 0, true, {1.0}}});
  check("swish", {"x"}, {{"beta", "", false, false, 0, false, {1.0}}});
  check("acon_a", {"x"}, {{"beta", "", false, false, 0, false, {1.0}}});
  check("acon_b", {"x"},
        {{"p", "[C]", false, true, 0, false, {0.25}},
         {"beta", "[C]", false, true, 0, false, {1.0}}});
  check("acon_c", {"x"},
        {{"p1", "[C]", false, true, 0, false, {1.0}},
         {"p2", "[C]", false, true, 0, false, {0.0}},
         {"beta", "[C]", false, true, 0, false, {1.0}}});
  check("meta_acon_c", {"x"},
        {{"p1", "[C]", false, true, 0, false, {1.0}},
         {"p2", "[C]", false, true, 0, false, {0.0}},
         {"beta", "[N,C]", true, true, 0, false, {}}});
  check("pwlu", {"x"},
        {{"y", "[C,17]", false, true, 17, false, kReluTable},
         {"bl", "[C]", false, true, 0, false, {-3.0}},
         {"br", "[C]", false, true, 0, false, {3.0}},
         {"kl", "[C]", false, true, 0, false, {0.0}},
         {"kr", "[C]", false, true, 0, false, {1.0}}});
}

TEST_CASE("seed parameter sizes and expanded initial values", "[seeds]") {
  const act::Module &m = seeds();
  TensorShape shape{2, 3, 5, Layout::NCS};

  const act::ParamInfo *beta = m.get("meta_acon_c").findParam("beta");
  REQUIRE(beta);
  CHECK(beta->numValues(shape) == 6);
  CHECK_THROWS_AS(beta->initialValues(shape), act::Error);

  const act::ParamInfo *y = m.get("pwlu").findParam("y");
  REQUIRE(y);
  CHECK(y->numValues(shape) == 3 * 17);
  std::vector<double> ys = y->initialValues(shape);
  REQUIRE(ys.size() == 51u);
  for (size_t i = 0; i < ys.size(); ++i) {
    INFO("y[" << i / 17 << "," << i % 17 << "]");
    CHECK(ys[i] == kReluTable[i % 17]);
  }

  const act::ParamInfo *a = m.get("prelu").findParam("a");
  REQUIRE(a);
  CHECK(a->numValues(shape) == 3);
  CHECK(a->initialValues(shape) == std::vector<double>{0.25, 0.25, 0.25});

  const act::ParamInfo *alpha = m.get("leaky_relu").findParam("alpha");
  REQUIRE(alpha);
  CHECK(alpha->numValues(shape) == 1);
  CHECK(alpha->initialValues(shape) == std::vector<double>{0.01});
}

//===----------------------------------------------------------------------===//
// Forward values, one TEST_CASE per definition
//===----------------------------------------------------------------------===//

TEST_CASE("seed sigmoid_ matches 1/(1+e^-x)", "[seeds][numeric]") { checkSeed("sigmoid_"); }
TEST_CASE("seed hard_sigmoid_ matches relu6(x+3)/6", "[seeds][numeric]") {
  checkSeed("hard_sigmoid_");
}
TEST_CASE("seed tanh_ matches tanh", "[seeds][numeric]") { checkSeed("tanh_"); }
TEST_CASE("seed relu_ matches max(x,0)", "[seeds][numeric]") { checkSeed("relu_"); }
TEST_CASE("seed softplus_ matches log(1+e^x)", "[seeds][numeric]") { checkSeed("softplus_"); }
TEST_CASE("seed relu6_ matches min(max(x,0),6)", "[seeds][numeric]") { checkSeed("relu6_"); }
TEST_CASE("seed leaky_relu matches, default and passed const alpha", "[seeds][numeric]") {
  checkSeed("leaky_relu");
}
TEST_CASE("seed prelu matches with per-channel slopes", "[seeds][numeric]") {
  checkSeed("prelu");
}
TEST_CASE("seed elu matches alpha*expm1(x) on the left", "[seeds][numeric]") {
  checkSeed("elu");
}
TEST_CASE("seed selu matches Klambauer et al.'s constants", "[seeds][numeric]") {
  checkSeed("selu");
}
TEST_CASE("seed swish matches x*sigmoid(beta x) for several beta", "[seeds][numeric]") {
  checkSeed("swish");
}
TEST_CASE("seed hard_swish_ matches x*relu6(x+3)/6", "[seeds][numeric]") {
  checkSeed("hard_swish_");
}
TEST_CASE("seed mish matches x*tanh(softplus(x))", "[seeds][numeric]") { checkSeed("mish"); }
TEST_CASE("seed gelu_ matches x*Phi(x) (erfc form)", "[seeds][numeric]") {
  checkSeed("gelu_");
}
TEST_CASE("seed gelu_tanh_ matches the tanh approximation", "[seeds][numeric]") {
  checkSeed("gelu_tanh_");
}
TEST_CASE("seed acon_a matches x*sigmoid(beta x)", "[seeds][numeric]") { checkSeed("acon_a"); }
TEST_CASE("seed acon_b matches ACON-B with per-channel p and beta", "[seeds][numeric]") {
  checkSeed("acon_b");
}
TEST_CASE("seed acon_c matches ACON-C with per-channel p1, p2, beta", "[seeds][numeric]") {
  checkSeed("acon_c");
}
TEST_CASE("seed meta_acon_c matches ACON-C with beta[N,C]", "[seeds][numeric]") {
  checkSeed("meta_acon_c");
}
TEST_CASE("seed pwlu matches the PWLU definition, ReLU and custom tables", "[seeds][numeric]") {
  checkSeed("pwlu");
}
TEST_CASE("seed frelu matches max(x, t) with the second input", "[seeds][numeric]") {
  checkSeed("frelu");
}
TEST_CASE("seed max_x_sigmoid matches max(x, sigmoid(x))", "[seeds][numeric]") {
  checkSeed("max_x_sigmoid");
}
TEST_CASE("seed cos_minus_x matches cos(x) - x", "[seeds][numeric]") {
  checkSeed("cos_minus_x");
}
TEST_CASE("seed min_x_sin matches min(x, sin(x))", "[seeds][numeric]") {
  checkSeed("min_x_sin");
}
TEST_CASE("seed atan_sq_minus_x matches atan(x)^2 - x", "[seeds][numeric]") {
  checkSeed("atan_sq_minus_x");
}
TEST_CASE("seed x_asinh_sq matches x*asinh(x)^2", "[seeds][numeric]") {
  checkSeed("x_asinh_sq");
}

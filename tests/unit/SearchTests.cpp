// act::search: enumeration, canonical forms and fingerprints, screening verdicts,
// the proxy task, and actc search's database (resume after a kill, shards).
#include "act/search.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace s = act::search;

namespace {
std::vector<s::Candidate> fromExprs(const std::vector<std::string> &exprs) {
  std::vector<s::Candidate> out;
  for (size_t i = 0; i < exprs.size(); ++i)
    out.push_back(s::Candidate{i, exprs[i], ""});
  return out;
}


/// Runs a shell command; its exit status and its stdout+stderr.
std::pair<int, std::string> shell(const std::string &cmd, const std::string &dir) {
  std::string out = dir + "/out.txt";
  int rc = std::system(("cd '" + dir + "' && " + cmd + " > '" + out + "' 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

/// The rows of search databases (`dbs`: file names) as "key verdict" lines, from
/// `actc search report --keys`.
std::set<std::string> keysOf(const std::string &dbs, const std::string &dir) {
  auto [rc, out] = shell("'" ACT_ACTC_PATH "' search report --keys " + dbs, dir);
  INFO(out);
  REQUIRE(rc == 0);
  std::set<std::string> keys;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty())
      keys.insert(line);
  return keys;
}
} // namespace

TEST_CASE("the Swish space has 25 unary and 10 binary functions", "[search]") {
  s::Space space = s::Space::swish();
  CHECK(space.unary.size() == 25);
  CHECK(space.binary.size() == 10);
  CHECK(s::spaceSize(space, 1) == 6250);
  CHECK(s::spaceSize(space, 2) == 6250ull * 6250ull);
  std::vector<s::Candidate> all = s::enumerate(space, 1);
  REQUIRE(all.size() == 6250);
  std::set<std::string> texts;
  for (const s::Candidate &c : all)
    texts.insert(c.expr);
  // sigmoid(a)*b with u1 = x is a*b with u1 = sigmoid, for each of the 25 u2.
  CHECK(texts.size() == 6250 - 25);
  CHECK(all[0].expr == "x + x");
  // index = u1 + 25 * (u2 + 25 * b): u1 = x (0), u2 = sigmoid (20), b = a*b (1).
  CHECK(s::candidateAt(space, 1, 0 + 25 * (20 + 25 * 1)).expr == "x * sigmoid(x)");
  // Two units: b2(u3(core), u4(x)); a compound core is parenthesised.
  s::Candidate two = s::candidateAt(space, 2, 6250 * (3 + 25 * (0 + 25 * 0)) + 0);
  CHECK(two.expr == "((x + x)^2) + x");
  CHECK_THROWS_AS(s::spaceSize(space, 3), act::Error);
  CHECK(s::enumerate(space, 2, 10, 20).size() == 10);

  std::vector<s::Function> custom = s::Space::parseFunctions("# mine\ncube=X^3\nX + 1\n", false);
  REQUIRE(custom.size() == 2);
  CHECK(custom[0].name == "cube");
  CHECK(custom[1].text == "X + 1");
  CHECK_THROWS_WITH(s::Space::parseFunctions("sin(x)\n", false),
                    Catch::Contains("line 1") && Catch::Contains("uses none of X"));
  CHECK(s::definition("f", "x * sigmoid(beta * x)") ==
        "act f(x; beta = 1.0) = x * sigmoid(beta * x)\n");
  CHECK(s::definition("f", "abs(x)") == "act f(x) = abs(x)\n");
}

TEST_CASE("equivalent formulas share a canonical form or a fingerprint", "[search]") {
  act::Module m = act::Module::compile("act a(x) = x * sigmoid(x)\n"
                                       "act b(x) = sigmoid(x) * x\n"
                                       "act c(x) = gate(x, x)\n"
                                       "act d(x) = x - 2 * x + 3 * x + 0\n"
                                       "act e(x) = max(0, x)\n"
                                       "act f(x) = relu(x)\n");
  CHECK(m.get("a").canonicalForm() == "x * sigmoid(x)");
  CHECK(m.get("b").canonicalForm() == "x * sigmoid(x)");
  CHECK(m.get("c").canonicalForm() == "x * sigmoid(x)");
  CHECK(m.get("d").canonicalForm() == "2 * x"); // like terms collected
  CHECK(m.get("e").canonicalForm() == m.get("f").canonicalForm());

  s::Screener screener;
  std::vector<s::Screened> r = screener.screen(fromExprs({
      "x * sigmoid(x)", "sigmoid(x) * x", "gate(x, x)", // canonical duplicates
      "x + x", "2 * x * tanh(x) / tanh(x)",              // different text, same values
      "x * sigmoid(beta * x)",                           // beta makes it another function
      "tanh(x) + x",
  }));
  REQUIRE(r.size() == 7);
  CHECK(r[0].verdict == s::Verdict::Ok);
  for (int i : {1, 2}) {
    CHECK(r[i].verdict == s::Verdict::Duplicate);
    CHECK(r[i].duplicateOf == 0);
    CHECK_THAT(r[i].reason, Catch::Contains("canonical form"));
    CHECK(r[i].fingerprint == r[0].fingerprint); // duplicates go to their shard
  }
  CHECK(r[3].canonical != r[4].canonical);
  CHECK(r[4].verdict == s::Verdict::Duplicate);
  CHECK(r[4].duplicateOf == 3);
  CHECK_THAT(r[4].reason, Catch::Contains("fingerprint"));
  CHECK(r[5].verdict == s::Verdict::Ok);
  CHECK(r[5].fingerprint != r[0].fingerprint);
  CHECK(r[6].verdict == s::Verdict::Ok);
  CHECK(r[0].fingerprint.size() == 16);
  // Across calls of one Screener too.
  std::vector<s::Screened> again = screener.screen(fromExprs({"sigmoid(x)*x"}));
  CHECK(again[0].verdict == s::Verdict::Duplicate);
  // Shards follow the fingerprint: duplicates land with their representative.
  for (unsigned n : {2u, 3u, 7u})
    CHECK(s::shardOf(r[2], n) == s::shardOf(r[0], n));
}

TEST_CASE("screening rejects known-bad candidates with a reason", "[search]") {
  s::Screener screener;
  std::vector<s::Screened> r = screener.screen(fromExprs({
      "log(x)",                  // NaN for x < 0
      "1 / (x - x)",             // inf everywhere
      "sqrt(max(x, 0)) + x",     // f finite; f' = 0 * inf, NaN, for x < 0
      "3 * x + 1",               // affine
      "max(x - 4.5, 0)",         // flat on almost every probe
      "exp(x^2)",                // e^25 at |x| = 5
      "x^3 * x^3",               // 15625 at |x| = 5
      "x * sigmoid(x)",          // fine
      "sin(",                    // does not compile
  }));
  REQUIRE(r.size() == 9);
  CHECK(r[0].verdict == s::Verdict::NonFinite);
  CHECK_THAT(r[0].reason, Catch::Contains("NaN"));
  CHECK(r[1].verdict == s::Verdict::NonFinite);
  CHECK(r[2].verdict == s::Verdict::NonFiniteDerivative);
  CHECK_THAT(r[2].reason, Catch::Contains("f'(x) is NaN at x = -"));
  CHECK(r[3].verdict == s::Verdict::ConstantDerivative);
  CHECK_THAT(r[3].reason, Catch::Contains("affine"));
  CHECK(r[4].verdict == s::Verdict::ZeroDerivative);
  CHECK(r[5].verdict == s::Verdict::Exploding);
  CHECK(r[6].verdict == s::Verdict::Exploding);
  CHECK(r[7].verdict == s::Verdict::Ok);
  CHECK(r[8].verdict == s::Verdict::CompileError);
  CHECK_THAT(r[8].reason, Catch::Contains("candidate 8:1:"));
  CHECK(r[8].fingerprint.empty());
  // With a learnable parameter, flat must hold for the moved parameter too.
  std::vector<s::Screened> p = screener.screen(fromExprs({
      "beta * 2 + (1 - beta) * tanh(x)", // constant at beta = 1 only: training moves beta
      "beta * x + 1",                    // affine for every beta
  }));
  CHECK(p[0].verdict == s::Verdict::Ok);
  CHECK(p[1].verdict == s::Verdict::ConstantDerivative);
  CHECK_THAT(p[1].reason, Catch::Contains("every parameter value"));
  // Every verdict has a name for the database.
  CHECK(std::string(s::verdictName(s::Verdict::NonFiniteDerivative)) == "non-finite-derivative");
}

TEST_CASE("a slice of the Swish space: duplicates point backwards", "[search]") {
  // A slice of the real space through the same path as actc search; the rate target
  // (200/s) is measured by actc search itself (docs/search.md), not asserted here.
  s::Space space = s::Space::swish();
  s::Screener screener;
  std::vector<s::Screened> r = screener.screen(s::enumerate(space, 1, 0, 300));
  REQUIRE(r.size() == 300);
  size_t dup = 0, ok = 0;
  for (const s::Screened &x : r) {
    dup += x.verdict == s::Verdict::Duplicate;
    ok += x.verdict == s::Verdict::Ok;
    if (x.verdict == s::Verdict::Duplicate)
      CHECK(x.duplicateOf < x.candidate.index);
  }
  CHECK(dup > 0);
  CHECK(ok > 0);
  CHECK(screener.stats().compiled + dup >= 300 - 1);
}

TEST_CASE("the proxy task trains: loss decreases, beta moves, NaN stops early", "[search][train]") {
  std::string dir = s::defaultDataDir();
  if (!s::haveData(dir)) {
    WARN("SKIP: no Fashion-MNIST in " << dir << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  s::ProxyData data = s::ProxyData::load(dir, 6000, 2000);
  CHECK(data.train.rows == 2000);
  CHECK(data.validation.rows == 400);
  act::Module m = act::Module::compile(
      "act swish(x; beta = 1.0) = x * sigmoid(beta * x)\n"
      "act blowup(x) = x * 1e30\n");
  s::TrainOptions o;
  o.epochs = 2;
  o.batch = 32;
  s::TrainResult t = s::train(m.get("swish"), data, o);
  REQUIRE(t.error.empty());
  CHECK_FALSE(t.diverged);
  REQUIRE(t.losses.size() >= 2);
  CHECK(t.losses.back() < 0.8 * t.losses.front());
  CHECK(t.validationAccuracy > 0.6);
  CHECK(t.testAccuracy > 0.6);
  REQUIRE(t.params.size() == 1);
  CHECK(t.params[0] != 1.0); // beta was trained
  // The same seed gives the same run.
  s::TrainResult again = s::train(m.get("swish"), data, o);
  CHECK(again.validationAccuracy == t.validationAccuracy);

  s::TrainResult bad = s::train(m.get("blowup"), data, o);
  CHECK(bad.diverged);
  CHECK(bad.steps <= 1);
}

TEST_CASE("actc search resumes after a kill and shards partition the space",
          "[search][actc]") {
  std::string dir = s::defaultDataDir();
  if (!s::haveData(dir)) {
    WARN("SKIP: no Fashion-MNIST in " << dir);
    return;
  }
  act_test::TempDir tmp{"act-search-test"};
  {
    std::ofstream f(tmp.path + "/cands.act");
    f << "act a(x) = x * sigmoid(x)\nact b(x) = sigmoid(x) * x\nact c(x) = tanh(x)\n"
         "act d(x) = log(x)\nact e(x; beta = 1.0) = x * tanh(beta * x)\nact g(x) = sin(x) + x\n";
  }
  std::string actc = "'" ACT_ACTC_PATH "' search --space cands.act --epochs 1 "
                     "--train-limit 300 --no-progress ";
  // Killed (no cleanup at all, as SIGKILL leaves it) after two trained rows.
  auto [rc1, out1] = shell("ACT_SEARCH_KILL_AFTER=2 " + actc + "--db r.sqlite", tmp.path);
  INFO(out1);
  CHECK(rc1 == 137);
  std::set<std::string> partial = keysOf("r.sqlite", tmp.path);
  auto [rc2, out2] = shell(actc + "--db r.sqlite", tmp.path);
  INFO(out2);
  REQUIRE(rc2 == 0);
  CHECK_THAT(out2, Catch::Contains("resuming: " + std::to_string(partial.size()) + " rows"));
  std::set<std::string> full = keysOf("r.sqlite", tmp.path);
  // 6 candidates and 5 baselines, each once.
  CHECK(full.size() == 11);
  for (const std::string &k : partial)
    CHECK(full.count(k));
  // A third run has nothing left to do.
  auto [rc3, out3] = shell(actc + "--db r.sqlite", tmp.path);
  CHECK(rc3 == 0);
  CHECK_THAT(out3, Catch::Contains("nothing to train"));

  // Shards (screen only, a slice of the Swish space): disjoint, and together the
  // unsharded run's rows.
  std::string screen = "'" ACT_ACTC_PATH "' search --limit 200 --screen-only --no-progress ";
  REQUIRE(shell(screen + "--db all.sqlite", tmp.path).first == 0);
  REQUIRE(shell(screen + "--shard 0/2 --db s0.sqlite", tmp.path).first == 0);
  REQUIRE(shell("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 " + screen + "--db s1.sqlite",
                tmp.path).first == 0);
  std::set<std::string> all = keysOf("all.sqlite", tmp.path), s0 = keysOf("s0.sqlite", tmp.path),
                        s1 = keysOf("s1.sqlite", tmp.path);
  CHECK(all.size() == 200);
  CHECK(s0.size() + s1.size() == 200);
  CHECK(!s0.empty());
  CHECK(!s1.empty());
  std::set<std::string> both = s0;
  both.insert(s1.begin(), s1.end());
  CHECK(both == all);
  CHECK(keysOf("s0.sqlite s1.sqlite", tmp.path) == all);
  // Resuming with other settings is refused with a reason.
  auto [rc4, out4] = shell(screen + "--shard 1/2 --db s0.sqlite", tmp.path);
  CHECK(rc4 == 1);
  CHECK_THAT(out4, Catch::Contains("shard = 0/2"));
}

TEST_CASE("compileKernels with a KernelSelection: quick kernels agree with optimised ones", "[search]") {
  const char *src = "act a(x; beta = 1.0) = x * tanh(softplus(beta * x)) + sinc(x)\n";
  act::Module quick = act::Module::compile(src), full = act::Module::compile(src);
  act::Module::KernelSelection fusedOnly;
  fusedOnly.forward = fusedOnly.backward = false;
  fusedOnly.nsc = false;
  fusedOnly.quick = true;
  quick.compileKernels(act::DType::F64, {"a"}, fusedOnly);
  CHECK_THROWS_AS(quick.compileKernels(act::DType::F64, {"nope"}, fusedOnly), act::Error);
  std::vector<double> xs = s::Screener::probes();
  act::TensorShape shape{(int64_t)xs.size(), 1, 1};
  std::vector<double> fq(xs.size()), dq(xs.size()), ff(xs.size()), df(xs.size());
  const double *in[] = {xs.data()};
  double *oq[] = {fq.data(), dq.data()}, *of[] = {ff.data(), df.data()};
  quick.get("a").derivatives(1, shape, in, oq);
  full.get("a").derivatives(1, shape, in, of);
  for (size_t i = 0; i < xs.size(); ++i) {
    INFO("x = " << xs[i]);
    CHECK(fq[i] == Approx(ff[i]).epsilon(1e-13).margin(1e-15));
    CHECK(dq[i] == Approx(df[i]).epsilon(1e-12).margin(1e-14));
  }
  // A kernel the batch left out is still built on first use.
  std::vector<double> y(xs.size());
  quick.get("a").forward(shape, in, y.data());
  CHECK(y[7] == Approx(ff[7]).epsilon(1e-13));
}

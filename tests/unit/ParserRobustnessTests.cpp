// Front-end limits and robustness: nesting and size limits, the error cap, and
// mutated or broken inputs that must give an error, never a crash or a hang.
#include "ParseSupport.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using act::Diagnostic;
namespace ast = act::ast;
using act_test::errorsOf;
using act_test::kExamples;
using act_test::onlyError;
using act_test::parse;
using Result = act_test::ParseResult;

TEST_CASE("limits: nesting, long chains, error cap", "[parser][robustness]") {
  std::string deep = "act f(x) = " + std::string(10000, '(') + "x" + std::string(10000, ')');
  CHECK(onlyError(deep) == "expression nested too deeply (more than 256 levels)");
  std::string ok = "act f(x) = " + std::string(200, '(') + "x" + std::string(200, ')');
  CHECK(onlyError(ok) == "");
  CHECK(onlyError("act f(x) = " + std::string(100000, '-') + "x") ==
        "expression nested too deeply (more than 256 levels)");
  std::string pow = "act f(x) = x";
  for (int i = 0; i < 5000; ++i)
    pow += "^x";
  CHECK(onlyError(pow) == "expression nested too deeply (more than 256 levels)");
  std::string chain = "act f(x) = x";
  for (int i = 0; i < 100000; ++i)
    chain += "+x";
  CHECK(onlyError(chain) ==
        "expression too large (more than 1024 levels of operators); split it with 'let'");
  std::string lets = "act f(x) = ";
  for (int i = 0; i < 5000; ++i)
    lets += "let t = x in ";
  CHECK(onlyError(lets + "x") == "expression nested too deeply (more than 256 levels)");
  // Composition that doubles at every step is stopped before it explodes.
  std::string dbl = "act f0(x) = x + x\n";
  for (int i = 1; i < 40; ++i)
    dbl += "act f" + std::to_string(i) + "(x) = f" + std::to_string(i - 1) + "(x) * f" +
           std::to_string(i - 1) + "(x)\n";
  auto dd = errorsOf(dbl);
  REQUIRE(dd.size() == 1);
  CHECK(dd[0].message == "'f17' is too large: more than 1000000 operations or 2048 levels "
                        "of nesting once the definitions it calls are inlined");
  CHECK(dd[0].line == 18);
  // The error cap.
  std::string many;
  for (int i = 0; i < 500; ++i)
    many += "act f" + std::to_string(i) + "(x) = x +\n";
  auto md = errorsOf(many);
  CHECK(md.size() == 51);
  CHECK(md.back().severity == Diagnostic::Severity::Note);
  CHECK(md.back().message == "too many errors; stopping here");
}

namespace {

/// A small deterministic generator (no <random> distribution differences across
/// standard libraries).
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s >> 33);
  }
  size_t below(size_t n) { return n ? next() % n : 0; }
};

void checkSane(const std::string &src, const Result &r) {
  INFO("input of " << src.size() << " bytes");
  CHECK(r.diags.size() <= 51);
  for (const Diagnostic &d : r.diags) {
    if (d.severity != Diagnostic::Severity::Error)
      continue;
    CHECK(d.line >= 1);
    CHECK(d.column >= 1);
    CHECK_FALSE(d.message.empty());
    CHECK(d.str().size() > 0);
  }
  if (r.diags.empty()) {
    for (const ast::Definition &def : r.file.defs) {
      CHECK(def.body != nullptr);
      CHECK(!def.inputs.empty());
    }
  }
  (void)ast::dump(r.file); // must not crash, even on a partial file
}

} // namespace

TEST_CASE("robustness: mutated examples never crash", "[robustness]") {
  const std::string base = kExamples;
  const char specials[] = {'\0', '\xff', '(', ')', '[', ']', ';', ',', '=', '<', '>',
                           '!',  '^',    '-', '.', 'e', '1', 'a', '#', '\n', '\t', '\x80',
                           '@',  '\r'};
  Lcg rng(12345);
  int mutated = 0;
  for (int i = 0; i < 800; ++i) {
    std::string s = base;
    int edits = 1 + (int)rng.below(4);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      size_t at = rng.below(s.size());
      switch (rng.below(6)) {
      case 0: // delete a few bytes
        s.erase(at, 1 + rng.below(5));
        break;
      case 1: // insert a special byte
        s.insert(s.begin() + at, specials[rng.below(sizeof specials)]);
        break;
      case 2: // replace by a random byte
        s[at] = (char)rng.below(256);
        break;
      case 3: // truncate
        s.resize(at);
        break;
      case 4: { // duplicate a slice
        size_t len = rng.below(40);
        s.insert(at, s.substr(rng.below(s.size()), len));
        break;
      }
      default: // deep nesting at a random place
        s.insert(at, std::string(1 + rng.below(3000), rng.below(2) ? '(' : '-'));
        break;
      }
    }
    Result r = parse(s);
    checkSane(s, r);
    ++mutated;
  }
  CHECK(mutated == 800);
}

TEST_CASE("robustness: obviously broken inputs report an error", "[robustness]") {
  const std::string base = kExamples;
  std::vector<std::string> broken = {
      std::string(10000, '('),
      "act f(x) = " + std::string(10000, '('),
      base + "act",
      base + "act f(x) = (",
      "\xff" + base,
      std::string("act f(x) = x\0", 13),
      base + "act g(x) = " + std::string(50000, '[') + "\n",
      "act f(x; y[" + std::string(1000, '9') + "]) = x",
      "act f(x) = " + std::string(100000, 'a') + "bb",
      "act f(x) = " + std::string(5000, '.') ,
      "act f(x) = 1" + std::string(5000, 'e'),
      "act act act act",
      "act f(x) = x;" + base,
      "act f(x,",
      "act f(x;",
      "act f(x; y[",
      "act f(x; y[C,3] = [",
      "act f(x) = g(x; a = ",
  };
  std::string allBytes;
  for (int b = 0; b < 256; ++b)
    allBytes += (char)b;
  broken.push_back(allBytes);
  broken.push_back(base.substr(0, base.size() / 2) + "act " + allBytes);
  for (const std::string &s : broken) {
    Result r = parse(s);
    checkSane(s, r);
    bool hasError = false;
    for (auto &d : r.diags)
      hasError |= d.severity == Diagnostic::Severity::Error;
    CHECK(hasError);
  }
  // Every prefix of the examples is handled (most are broken, none may crash).
  for (size_t n = 0; n <= base.size(); n += 7)
    checkSane(base.substr(0, n), parse(base.substr(0, n)));
  // Parsing is deterministic.
  std::string s = base + "act f(x) = (x + \xff";
  CHECK(act::formatDiagnostics(parse(s).diags) == act::formatDiagnostics(parse(s).diags));
}

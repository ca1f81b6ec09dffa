// Unit tests for the front end: lexer, parser, Sema, AST dump (limits and robustness
// against arbitrary bytes: ParserRobustnessTests.cpp).
#include "act/Parse/AST.h"
#include "act/Parse/Builtins.h"
#include "act/Parse/Parser.h"

#include "ParseSupport.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using act::Diagnostic;
using act::parse::parseAndCheck;
namespace ast = act::ast;

namespace {
using act_test::errorsOf;
using act_test::kExamples;
using act_test::onlyError;
using act_test::parse;
using Result = act_test::ParseResult;

/// The dump of `expr` as the body of a definition with inputs x, y, z and params a, b.
std::string dumpExpr(const std::string &expr) {
  Result r = parse("act f(x, y, z; a = 1, b = 2) = " + expr);
  INFO(act::formatDiagnostics(r.diags));
  REQUIRE(r.diags.empty());
  REQUIRE(r.file.defs.size() == 1);
  return ast::dump(*r.file.defs[0].body);
}

} // namespace

TEST_CASE("LANGUAGE.md examples parse and check clean", "[parser]") {
  Result r = parse(kExamples);
  INFO(act::formatDiagnostics(r.diags));
  REQUIRE(r.diags.empty());
  REQUIRE(r.file.defs.size() == 8);
  const char *names[] = {"swish", "acon_c", "meta_acon_c", "pwlu",
                         "frelu", "leaky",  "mish",        "mix"};
  for (size_t i = 0; i < 8; ++i) {
    CHECK(r.file.defs[i].name == names[i]);
    CHECK(r.file.defs[i].body != nullptr);
    CHECK(r.file.defs[i].text.rfind("act ", 0) == 0);
  }
  CHECK(r.file.defs[0].text == "act swish(x; beta = 1.0) = x * sigmoid(beta * x)");
  CHECK(r.file.defs[0].loc.line == 2);
  CHECK(r.file.defs[0].loc.col == 5);
  CHECK(*r.file.defs[0].loc.file == "test.act");
  CHECK(r.file.defs[4].inputs.size() == 2);
  CHECK(r.file.defs[4].inputs[1].name == "t");
  CHECK(r.file.source == kExamples);
}

TEST_CASE("AST dump of the examples", "[parser][dump]") {
  Result r = parse(kExamples);
  REQUIRE(r.diags.empty());
  std::string d = ast::dump(r.file);
  CHECK(d.find("(act swish\n  (inputs x)\n  (params (beta init=1))\n"
               "  (body (mul x (call sigmoid (mul beta x)))))\n") == 0);
  CHECK(d.find("(body (call smooth_max (mul p1 x) (mul p2 x) ; beta))") != std::string::npos);
  CHECK(d.find("(params (p1 [C] init=1) (p2 [C] init=0) (beta [N,C]))") != std::string::npos);
  CHECK(d.find("(body (call pwl x ; y bl br kl kr))") != std::string::npos);
  CHECK(d.find("(params (alpha const init=0.01))") != std::string::npos);
  CHECK(d.find("(body (call select (gt x 0) x (mul alpha x)))") != std::string::npos);
  CHECK(d.find("(let sp (call softplus x) (mul x (call tanh sp)))") != std::string::npos);
  CHECK(d.find("(add (mul a (call swish x)) (mul (sub 1 a) (call mish x)))") !=
        std::string::npos);
  // Deterministic.
  CHECK(ast::dump(parse(kExamples).file) == d);
}

TEST_CASE("numbers", "[lexer]") {
  CHECK(dumpExpr("1") == "1");
  CHECK(dumpExpr("0.5") == "0.5");
  CHECK(dumpExpr("1e-3") == "0.001");
  CHECK(dumpExpr(".5") == "0.5");
  CHECK(dumpExpr("2.5E+2") == "250");
  CHECK(dumpExpr("1.") == "1");
  Result r = parse("act f(x) = 2 + 2.0 + 1e0");
  REQUIRE(r.diags.empty());
  const ast::Expr &body = *r.file.defs[0].body; // (add (add 2 2.0) 1e0)
  CHECK(body.args[0]->args[0]->isInteger);
  CHECK_FALSE(body.args[0]->args[1]->isInteger);
  CHECK_FALSE(body.args[1]->isInteger);
  CHECK(onlyError("act f(x) = 2e") ==
        "malformed number '2e': expected digits after the exponent");
  CHECK(onlyError("act f(x) = 2x") ==
        "malformed number '2x'; write a '*' between a number and a name");
  CHECK(onlyError("act f(x) = 1e999") == "number '1e999' is too large");
}

TEST_CASE("precedence and associativity", "[parser]") {
  CHECK(dumpExpr("x + y * z") == "(add x (mul y z))");
  CHECK(dumpExpr("x * y + z") == "(add (mul x y) z)");
  CHECK(dumpExpr("x - y - z") == "(sub (sub x y) z)");
  CHECK(dumpExpr("x / y / z") == "(div (div x y) z)");
  CHECK(dumpExpr("x ^ y ^ z") == "(pow x (pow y z))");
  CHECK(dumpExpr("-x ^ 2") == "(neg (pow x 2))");
  CHECK(dumpExpr("x ^ -2") == "(pow x (neg 2))");
  CHECK(dumpExpr("x^-y^2") == "(pow x (neg (pow y 2)))");
  CHECK(dumpExpr("- - x") == "(neg (neg x))");
  CHECK(dumpExpr("-x * y") == "(mul (neg x) y)");
  CHECK(dumpExpr("a * -x") == "(mul a (neg x))");
  CHECK(dumpExpr("(x + y) * z") == "(mul (add x y) z)");
  CHECK(dumpExpr("2 * x ^ 3") == "(mul 2 (pow x 3))");
  CHECK(dumpExpr("select(x + 1 >= y * 2, x, y)") ==
        "(call select (ge (add x 1) (mul y 2)) x y)");
  CHECK(dumpExpr("select(x != y, x, y)") == "(call select (ne x y) x y)");
  CHECK(dumpExpr("select(x == y, x, y)") == "(call select (eq x y) x y)");
  CHECK(dumpExpr("select(x < y, x, y)") == "(call select (lt x y) x y)");
  CHECK(dumpExpr("select(x <= y, x, y)") == "(call select (le x y) x y)");
  CHECK(dumpExpr("let t = x + 1 in t * t + 1") == "(let t (add x 1) (add (mul t t) 1))");
  CHECK(dumpExpr("2 * let t = x in t + 1") == "(mul 2 (let t x (add t 1)))");
  CHECK(dumpExpr("pi * e") == "(mul pi e)");
  CHECK(dumpExpr("let x = x * 2 in let x = x + 1 in x") ==
        "(let x (mul x 2) (let x (add x 1) x))");
  CHECK(dumpExpr("max(x, y, z, 0)") == "(call max x y z 0)");
  CHECK(onlyError("act f(x) = select(x < 1 < 2, x, x)") ==
        "comparisons cannot be chained; select takes one comparison such as x > 0");
}

TEST_CASE("operator locations", "[parser]") {
  Result r = parse("act f(x) = x +\n  sigmoid(x)");
  REQUIRE(r.diags.empty());
  const ast::Expr &add = *r.file.defs[0].body;
  CHECK(add.kind == ast::Expr::Kind::Add);
  CHECK((add.loc.line == 1 && add.loc.col == 14));
  CHECK((add.args[1]->loc.line == 2 && add.args[1]->loc.col == 3));
}

TEST_CASE("calls: trailing and named arguments", "[parser]") {
  Result r = parse("act g(x; p = 1, q = 2) = x * p + q\n"
                   "act f(x; q = 3) = g(x; p = 2) + smooth_max(x, 0; 1) + g(x;)");
  INFO(act::formatDiagnostics(r.diags));
  REQUIRE(r.diags.empty());
  const ast::Expr &body = *r.file.defs[1].body;
  const ast::Expr &g = *body.args[0]->args[0];
  CHECK(g.kind == ast::Expr::Kind::Call);
  CHECK(g.hasSemicolon);
  REQUIRE(g.named.size() == 1);
  CHECK(g.named[0].name == "p");
  CHECK(g.named[0].loc.col == 24);
  const ast::Expr &sm = *body.args[0]->args[1];
  CHECK(sm.trailing.size() == 1);
  CHECK(sm.args.size() == 2);
  CHECK(ast::dump(body) ==
        "(add (add (call g x ; p=2) (call smooth_max x 0 ; 1)) (call g x ;))");
}

TEST_CASE("shapes and const", "[parser]") {
  Result r = parse("act f(x; a, b[C], c[N], d[N,C], y[17], z[C,17], w[N,C,3], const k[C] = 2)"
                   " = x");
  INFO(act::formatDiagnostics(r.diags));
  REQUIRE(r.diags.empty());
  const auto &p = r.file.defs[0].params;
  REQUIRE(p.size() == 8);
  CHECK(p[0].shape.isScalar());
  CHECK(p[0].init.empty());
  CHECK(p[1].shape.str() == "[C]");
  CHECK(p[2].shape.str() == "[N]");
  CHECK(p[3].shape.str() == "[N,C]");
  CHECK((p[4].shape.tableLen == 17 && !p[4].shape.perChannel));
  CHECK(p[5].shape.str() == "[C,17]");
  CHECK(p[6].shape.str() == "[N,C,3]");
  CHECK((p[7].isConst && p[7].init.size() == 1 && p[7].init[0] == 2.0));
  CHECK_FALSE(p[0].isConst);

  const std::string help = "; a shape is [N], [C] or [N,C], optionally followed by a "
                           "table length, e.g. [C,17]";
  CHECK(onlyError("act f(x; w[C,N]) = x") == "unexpected 'N' in the shape of 'w'" + help);
  CHECK(onlyError("act f(x; w[17,C]) = x") == "unexpected 'C' in the shape of 'w'" + help);
  CHECK(onlyError("act f(x; w[H]) = x") == "unexpected 'H' in the shape of 'w'" + help);
  CHECK(onlyError("act f(x; w[C,C]) = x") == "unexpected 'C' in the shape of 'w'" + help);
  CHECK(onlyError("act f(x; w[]) = x") == "empty shape for 'w'" + help);
  CHECK(onlyError("act f(x; w[0]) = x") ==
        "a table length must be a positive integer, found number '0'");
  CHECK(onlyError("act f(x; w[2.5]) = x") ==
        "a table length must be a positive integer, found number '2.5'");
  CHECK(onlyError("act f(x; w[C 3]) = x") ==
        "expected ',' or ']' in the shape of 'w', found number '3'");
  CHECK(onlyError("act f(x; w[1000000]) = x") ==
        "table length 1000000 is too large (at most 65536)");
  auto d = errorsOf("act f(x; w[C,N]) = x");
  REQUIRE(d.size() == 1);
  CHECK((d[0].line == 1 && d[0].column == 14));
}

TEST_CASE("initial values", "[parser]") {
  Result r = parse("act f(x; y[C,4] = [0, -0.5, 1e-3, 2], b = -3, z[3] = 1) = pwl(x; y, b, b, b, b)"
                   " + pwl(x; z, b, b, b, b)");
  INFO(act::formatDiagnostics(r.diags));
  REQUIRE(r.diags.empty());
  const auto &p = r.file.defs[0].params;
  CHECK(p[0].init == std::vector<double>{0, -0.5, 1e-3, 2});
  CHECK(p[1].init == std::vector<double>{-3});
  CHECK(p[2].init == std::vector<double>{1}); // one value for every entry
  CHECK(ast::dump(r.file).find("(y [C,4] init=[0 -0.5 0.001 2])") != std::string::npos);

  CHECK(onlyError("act f(x; y[3] = [1, 2]) = x") ==
        "'y' is a table of 3 values, but its initial list has 2");
  CHECK(onlyError("act f(x; y[2] = [1, 2, 3]) = x") ==
        "'y' is a table of 2 values, but its initial list is longer");
  CHECK(onlyError("act f(x; b = [1]) = x") ==
        "'b' is not a table; give it one initial value, not a list");
  CHECK(onlyError("act f(x; b = x) = x") ==
        "expected a number as the initial value of 'b', found 'x'");
  CHECK(onlyError("act f(x; y[2] = [1, ]) = x") ==
        "expected a number as the initial value of 'y', found ']'");
}

TEST_CASE("the sigmod example from LANGUAGE.md", "[sema][errors]") {
  const std::string src = "# ACON with a typo\n"
                          "act swish(x; beta = 1.0) = x * sigmoid(beta * x)\n"
                          "act bad(x; beta = 1.0) = x * sigmod(beta * x)\n";
  auto d = parse(src, "acon.act").diags;
  REQUIRE(d.size() == 1);
  const std::string line = "act bad(x; beta = 1.0) = x * sigmod(beta * x)";
  CHECK(d[0].line == 3);
  CHECK(d[0].column == line.find("sigmod") + 1); // the caret column of the bad token
  CHECK(d[0].sourceLine == line);
  CHECK(d[0].str() == "acon.act:3:30: error: unknown function 'sigmod'; did you mean "
                      "'sigmoid'?\n" +
                          line + "\n" + std::string(29, ' ') + "^");
}

TEST_CASE("unknown names", "[sema][errors]") {
  auto d = errorsOf("act f(x; beta = 1) = bta * x");
  REQUIRE(d.size() == 1);
  CHECK(d[0].message == "unknown name 'bta'; did you mean 'beta'?");
  CHECK((d[0].line == 1 && d[0].column == 22));
  CHECK(onlyError("act f(x) = let scale = 2 in x * scal") ==
        "unknown name 'scal'; did you mean 'scale'?");
  CHECK(onlyError("act f(x) = x * qqqqq") == "unknown name 'qqqqq'");
  CHECK(onlyError("act f(x) = x * pii") == "unknown name 'pii'; did you mean 'pi'?");
  CHECK(onlyError("act f(x) = x * p") == "unknown name 'p'; did you mean 'x'?"); // tie: first
  CHECK(onlyError("act f(x) = let t = t in t") == "unknown name 't'; did you mean 'x'?");
  CHECK(onlyError("act f(x) = x * sigmoid") ==
        "'sigmoid' is a function; call it as sigmoid(...)");
  CHECK(onlyError("act f(x) = x(2)") == "'x' is not a function");
  CHECK(onlyError("act f(x) = frobnicate(x)") == "unknown function 'frobnicate'");
  CHECK(onlyError("act swish(x) = x\nact f(x) = swsh(x)") ==
        "unknown function 'swsh'; did you mean 'swish'?");
  // pi and e are constants unless shadowed.
  CHECK(onlyError("act f(x) = pi * e * x") == "");
  CHECK(onlyError("act f(x; e = 2) = e * x") == "");
}

TEST_CASE("closestMatch", "[sema]") {
  using act::parse::closestMatch;
  CHECK(closestMatch("sigmod", {"sin", "sigmoid", "sign"}) == "sigmoid");
  CHECK(closestMatch("bta", {"beta", "x"}) == "beta");
  CHECK(closestMatch("zzz", {"beta", "x"}) == "");
  CHECK(closestMatch("ab", {"xb", "ay"}) == "xb"); // ties: the first candidate
  CHECK(closestMatch("", {"a"}) == "");
  CHECK(closestMatch(std::string(100000, 'a'), {"a", std::string(100000, 'a')}) == "");
}

TEST_CASE("builtin arity", "[sema][errors]") {
  CHECK(onlyError("act f(x) = sigmoid(x, x)") == "'sigmoid' takes 1 argument, got 2");
  CHECK(onlyError("act f(x) = pow(x)") == "'pow' takes 2 arguments, got 1");
  CHECK(onlyError("act f(x) = min(x)") == "'min' takes at least 2 arguments, got 1");
  CHECK(onlyError("act f(x) = clamp(x, 0)") == "'clamp' takes 3 arguments, got 2");
  CHECK(onlyError("act f(x) = exp()") == "'exp' takes 1 argument, got 0");
  CHECK(onlyError("act f(x; b = 1) = smooth_max(x, 0, b)") ==
        "'smooth_max' needs its beta after ';': smooth_max(a1, ..., an; beta)");
  CHECK(onlyError("act f(x; b = 1) = smooth_max(x; b)") ==
        "'smooth_max' takes at least 2 arguments before ';', got 1: "
        "smooth_max(a1, ..., an; beta)");
  CHECK(onlyError("act f(x; b = 1) = logsumexp(x, 0; b, b)") ==
        "'logsumexp' takes 1 argument after ';' (beta), got 2: logsumexp(a1, ..., an; beta)");
  CHECK(onlyError("act f(x; y[5], b = 1) = pwl(x; y, b)") ==
        "'pwl' takes 5 arguments after ';' (y, bl, br, kl, kr), got 2: "
        "pwl(x; y, bl, br, kl, kr)");
  CHECK(onlyError("act f(x; y[5], b = 1) = pwl(x, y)") ==
        "'pwl' takes 1 argument before ';', got 2: pwl(x; y, bl, br, kl, kr)");
  CHECK(onlyError("act f(x) = sigmoid(x; 2)") == "'sigmoid' takes no arguments after ';'");
  CHECK(onlyError("act f(x) = sigmoid(x; beta = 2)") == "'sigmoid' takes no named arguments");
  auto d = errorsOf("act f(x) = 1 + sigmoid(x, x)");
  REQUIRE(d.size() == 1);
  CHECK(d[0].column == 16);
  // Every builtin with its minimal argument list checks clean.
  for (const act::Builtin &b : act::kBuiltins) {
    std::string call = std::string(b.name) + "(";
    for (int i = 0; i < b.minArgs; ++i)
      call += i == 0 && b.name == "select" ? "x > 0" : (i ? ", x" : "x");
    if (b.trailingArgs)
      call += b.name == "pwl" ? "; y, 0, 1, 0, 1" : "; 1";
    INFO(call);
    CHECK(onlyError("act f(x; y[C,3]) = " + call + ")") == "");
  }
}

TEST_CASE("comparisons and select", "[sema][errors]") {
  auto d = errorsOf("act f(x) = relu(x > 0)");
  REQUIRE(d.size() == 1);
  CHECK(d[0].message == "comparisons are only allowed as the condition of select");
  CHECK(d[0].column == 19);
  CHECK(onlyError("act f(x) = select(x, x, 0)") ==
        "select's first argument must be a comparison such as x > 0");
  CHECK(onlyError("act f(x) = select(x > 0, x > 1, 0)") ==
        "comparisons are only allowed as the condition of select");
  CHECK(onlyError("act f(x) = x < 0") ==
        "comparisons are only allowed as the condition of select");
  CHECK(onlyError("act f(x) = select((x > 0), x, 0)") == "");
  auto d2 = errorsOf("act f(x) = select(x * 2 + 1, x, 0)");
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].column == 19); // the start of the argument, not its operator
}

TEST_CASE("tables and pwl", "[sema][errors]") {
  CHECK(onlyError("act f(x; y[C,17], b = 1) = y * x") ==
        "table parameter 'y' can only be used as pwl's table: pwl(x; y, bl, br, kl, kr)");
  CHECK(onlyError("act f(x; y[C,17], b = 1) = pwl(x; b, b, b, b, b)") ==
        "pwl's first argument after ';' must be a table parameter such as y[C,17]; "
        "'b' is not a table");
  CHECK(onlyError("act f(x; y[C,17], b = 1) = pwl(x; 2 * b, b, b, b, b)") ==
        "pwl's first argument after ';' must be a table parameter such as y[C,17]");
  CHECK(onlyError("act f(x; y[C,17], b = 1) = pwl(x; yy, b, b, b, b)") ==
        "unknown name 'yy'; did you mean 'y'?");
  CHECK(onlyError("act f(x; y[1], b = 1) = pwl(x; y, b, b, b, b)") ==
        "pwl's table 'y' needs at least 2 values, e.g. y[C,17]");
  CHECK(onlyError("act f(x; y[C,17], b = 1) = pwl(x; y, y, b, b, b)") ==
        "table parameter 'y' can only be used as pwl's table: pwl(x; y, bl, br, kl, kr)");
  // A let can hide a table; then the name is an ordinary value.
  CHECK(onlyError("act f(x; y[C,17]) = let y = x in y * 2") == "");
}

TEST_CASE("composition of earlier definitions", "[sema][errors]") {
  const std::string acon = "act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta) = "
                           "smooth_max(p1 * x, p2 * x; beta)\n";
  CHECK(onlyError(acon + "act f(x; beta = 2) = acon_c(x)") == "");
  CHECK(onlyError(acon + "act f(x) = acon_c(x; beta = 2, p1 = x)") == "");
  CHECK(onlyError(acon + "act f(x) = acon_c(x)") ==
        "'acon_c' parameter 'beta' has no initial value; pass it as acon_c(...; beta = ...)");
  // A misspelt name is the one error (no "beta has no initial value" on top).
  auto d = errorsOf(acon + "act f(x) = acon_c(x; bta = 1)");
  REQUIRE(d.size() == 1);
  CHECK(d[0].str() == "test.act:2:22: error: 'acon_c' has no parameter 'bta'; did you mean "
                      "'beta'?\nact f(x) = acon_c(x; bta = 1)\n                     ^");
  CHECK(onlyError(acon + "act f(x) = acon_c(x; zzz = 1)") ==
        "'acon_c' has no parameter 'zzz'");
  CHECK(onlyError(acon + "act f(x) = acon_c(x; beta = 1, beta = 2)") ==
        "parameter 'beta' of 'acon_c' is given twice");
  CHECK(onlyError(acon + "act f(x) = acon_c(x, x; beta = 1)") ==
        "'acon_c' takes 1 input (x), got 2");
  CHECK(onlyError(acon + "act f(x) = acon_c(x; 1, beta = 1)") ==
        "arguments after ';' must name a parameter of 'acon_c', e.g. acon_c(...; p1 = ...)");
  CHECK(onlyError("act f(x) = g(x)\nact g(x) = x") ==
        "'g' is defined later in the file; only earlier definitions can be called");
  CHECK(onlyError("act f(x) = 1 + f(x)") ==
        "'f' cannot call itself: recursion is not allowed, only earlier definitions can be "
        "called");
  // Tables bind by name and length.
  const std::string pw = "act pw(x; y[C,5], b = 0) = pwl(x; y, b, b, b, b)\n";
  CHECK(onlyError(pw + "act f(x; y[C,5]) = pw(x)") == "");
  CHECK(onlyError(pw + "act f(x; t[C,5]) = pw(x; y = t)") == "");
  CHECK(onlyError(pw + "act f(x; t[C,4]) = pw(x; y = t)") ==
        "'pw' parameter 'y' is a table of 5 values; bind it to a table parameter of the "
        "same length ('t' has 4)");
  CHECK(onlyError(pw + "act f(x; t[C,5]) = pw(x; y = t * 2)") ==
        "'pw' parameter 'y' is a table of 5 values; bind it to a table parameter of the "
        "same length");
  CHECK(onlyError(pw + "act f(x; y[C]) = pw(x)") ==
        "'pw' parameter 'y' (shape [C,5]) cannot be bound to this definition's 'y', which "
        "is shape [C]; pass it as pw(...; y = ...)");
  CHECK(onlyError(pw + "act f(x) = pw(x)") ==
        "'pw' parameter 'y' has no initial value; pass it as pw(...; y = ...)");
}

TEST_CASE("definition-level checks", "[sema][errors]") {
  CHECK(onlyError("act f(x) = x\nact f(x) = 2 * x") == "'f' is already defined at line 1");
  CHECK(onlyError("act f(x, x) = x") == "duplicate name 'x': already an input of 'f'");
  CHECK(onlyError("act f(x; x) = x") == "duplicate name 'x': already an input of 'f'");
  CHECK(onlyError("act f(x; a, a) = x") == "duplicate name 'a': already a parameter of 'f'");
  CHECK(onlyError("act relu(x) = x") ==
        "'relu' is a builtin function; choose another name for this definition");
  CHECK(onlyError("act f() = 1") == "'f' needs at least one input, e.g. act f(x) = ...");
  CHECK(onlyError("act f(; a = 1) = a") == "'f' needs at least one input, e.g. act f(x) = ...");
  CHECK(onlyError("act f(x; exp = 1, sigmoid) = exp * sigmoid(x)") == "");
  CHECK(onlyError("") == "");
  CHECK(onlyError("# only a comment\n\n") == "");
}

TEST_CASE("syntax errors and their positions", "[parser][errors]") {
  auto d = errorsOf("act f(x) = (x + 1\nact g(x) = x");
  REQUIRE(d.size() == 1);
  CHECK(d[0].message == "expected ')' to match the '(' at 1:12, found keyword 'act'");
  CHECK((d[0].line == 1 && d[0].column == 18)); // just after the 1, where ')' belongs
  CHECK(onlyError("act f(x) x") == "expected '=' before the body of 'f', found 'x'");
  CHECK(onlyError("act f(x) = ") == "expected an expression, found end of file");
  CHECK(onlyError("act f(x) = x @ 1") == "unexpected character '@'");
  CHECK(onlyError("act f(x) = x ! 1") == "unexpected character '!'; did you mean '!='?");
  CHECK(onlyError("act f(x) = x\xc3\xa9") ==
        "unexpected character 0xC3 (only ASCII is allowed outside comments)");
  CHECK(onlyError("act f(x) = x # comment with \xff and \x01 is fine\n") == "");
  CHECK(onlyError("act f(x) = x x") ==
        "expected the end of 'f' or a new definition starting with 'act', found 'x'");
  CHECK(onlyError("x = 1") == "expected a definition starting with 'act', found 'x'");
  CHECK(onlyError("act in(x) = x") ==
        "expected a definition name after 'act', found keyword 'in'");
  CHECK(onlyError("act f(x) = max(x, )") == "expected an expression, found ')'");
  CHECK(onlyError("act f(x) = max(x 1)") ==
        "expected ',', ';' or ')' in the arguments of 'max' (opened at 1:15), found number '1'");
  CHECK(onlyError("act f(x) = let = 1 in x") == "expected a name after 'let', found '='");
  CHECK(onlyError("act f(x) = let t = 1 x") ==
        "expected 'in' after the value of 'let t = ...', found 'x'");
  auto tab = errorsOf("act f(x) =\t\tx @");
  REQUIRE(tab.size() == 1);
  CHECK(tab[0].column == 15);
  CHECK(tab[0].str().substr(tab[0].str().rfind('\n') + 1) == "          \t\t  ^");
}

TEST_CASE("errors in several definitions are all reported", "[parser][sema][errors]") {
  const std::string src = "act a(x) = sigmod(x)\n"       // Sema error
                          "act b(x) = (x +\n"            // syntax error
                          "act c(x) = x * b(x) + qq\n"   // b is broken: only qq reported
                          "act d(x; w[C,N]) = x\n"       // syntax error
                          "act e2(x) = relu(x, x)\n";    // Sema error
  auto d = errorsOf(src);
  std::vector<std::pair<unsigned, unsigned>> at;
  for (auto &x : d)
    at.push_back({x.line, x.column});
  INFO(act::formatDiagnostics(d));
  REQUIRE(d.size() == 5);
  // In source order, though syntax errors are found in an earlier pass than Sema's.
  CHECK(at == std::vector<std::pair<unsigned, unsigned>>{
                  {1, 12}, {2, 16}, {3, 23}, {4, 14}, {5, 13}});
  CHECK(d[0].message == "unknown function 'sigmod'; did you mean 'sigmoid'?");
  CHECK(d[1].message == "expected an expression, found keyword 'act'");
  CHECK(d[2].message == "unknown name 'qq'");
  for (auto &x : d)
    CHECK(x.file == "test.act");
}

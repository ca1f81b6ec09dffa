// act::search: the candidate space (unary and binary sets, enumeration by index).
#include "act/search.h"

#include <algorithm>
#include <cctype>

namespace act::search {

Space Space::swish() {
  Space s;
  s.unary = {
      {"x", "X"},
      {"-x", "-X"},
      {"|x|", "abs(X)"},
      {"x^2", "X^2"},
      {"x^3", "X^3"},
      {"sqrt(|x|)", "sqrt(abs(X))"},
      {"beta*x", "beta * X"},
      {"x+beta", "X + beta"},
      {"log(|x|+eps)", "log(abs(X) + 1e-6)"},
      {"exp", "exp(X)"},
      {"sin", "sin(X)"},
      {"cos", "cos(X)"},
      {"sinh", "sinh(X)"},
      {"cosh", "cosh(X)"},
      {"tanh", "tanh(X)"},
      {"asinh", "asinh(X)"},
      {"atan", "atan(X)"},
      {"sinc", "sinc(X)"},
      {"max(x,0)", "max(X, 0)"},
      {"min(x,0)", "min(X, 0)"},
      {"sigmoid", "sigmoid(X)"},
      {"softplus", "softplus(X)"},
      {"gauss", "gauss(X)"},
      {"erf", "erf(X)"},
      {"beta", "beta"},
  };
  s.binary = {
      {"a+b", "A + B"},
      {"a*b", "A * B"},
      {"a-b", "A - B"},
      {"a/(b+eps)", "A / (B + 1e-6)"},
      {"max", "max(A, B)"},
      {"min", "min(A, B)"},
      {"sigmoid(a)*b", "sigmoid(A) * B"},
      {"exp(-beta*(a-b)^2)", "exp(-beta * (A - B)^2)"},
      {"exp(-beta*|a-b|)", "exp(-beta * abs(A - B))"},
      {"beta*a+(1-beta)*b", "beta * A + (1 - beta) * B"},
  };
  return s;
}

namespace {
std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// Whether `s` needs no parentheses as an operand: a name, a number or one call.
bool atomic(const std::string &s) {
  if (s.empty())
    return true;
  size_t i = 0;
  while (i < s.size() && (std::isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.'))
    ++i;
  if (i == s.size())
    return true;
  if (s[i] != '(') // a name, a call or a parenthesised whole go on
    return false;
  int depth = 0;
  for (; i < s.size(); ++i) {
    depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
    if (depth == 0)
      return i + 1 == s.size();
  }
  return false;
}

/// `text` with every `slot` character replaced by `arg` (parenthesised unless atomic).
std::string substitute(const std::string &text, char slot, const std::string &arg) {
  std::string a = atomic(arg) ? arg : "(" + arg + ")";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    bool isSlot = text[i] == slot &&
                  (i == 0 || !(std::isalnum((unsigned char)text[i - 1]) || text[i - 1] == '_')) &&
                  (i + 1 == text.size() ||
                   !(std::isalnum((unsigned char)text[i + 1]) || text[i + 1] == '_'));
    out += isSlot ? a : std::string(1, text[i]);
  }
  return out;
}

std::string unit(const Space &s, uint64_t code, const std::string &a, const std::string &b) {
  uint64_t nu = s.unary.size();
  uint64_t u1 = code % nu, u2 = (code / nu) % nu, bi = code / (nu * nu);
  std::string left = substitute(s.unary[u1].text, 'X', a);
  std::string right = substitute(s.unary[u2].text, 'X', b);
  return substitute(substitute(s.binary[bi].text, 'A', left), 'B', right);
}
} // namespace

std::vector<Function> Space::parseFunctions(const std::string &lines, bool binary) {
  std::vector<Function> out;
  size_t start = 0, lineNo = 0;
  while (start < lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string::npos)
      end = lines.size();
    std::string line = trim(lines.substr(start, end - start));
    start = end + 1;
    ++lineNo;
    if (line.empty() || line[0] == '#')
      continue;
    Function f;
    size_t eq = line.find('=');
    // "name=text", unless the '=' belongs to the formula (==, <=, >=, !=).
    if (eq != std::string::npos && eq + 1 < line.size() && line[eq + 1] != '=' && eq > 0 &&
        std::string("<>!").find(line[eq - 1]) == std::string::npos) {
      f.name = trim(line.substr(0, eq));
      f.text = trim(line.substr(eq + 1));
    } else {
      f.name = f.text = line;
    }
    auto uses = [&](char slot) {
      return substitute(f.text, slot, "\x01").find('\x01') != std::string::npos;
    };
    if (binary ? !(uses('A') || uses('B')) : !uses('X'))
      throw Error("line " + std::to_string(lineNo) + ": '" + f.text + "' uses none of " +
                  (binary ? "A, B" : "X") + " (write the argument" +
                  (binary ? "s as A and B" : " as X") + ")");
    out.push_back(f);
  }
  if (out.empty())
    throw Error(std::string("no ") + (binary ? "binary" : "unary") + " functions given");
  return out;
}

uint64_t spaceSize(const Space &space, int units) {
  uint64_t one = space.unary.size() * space.unary.size() * space.binary.size();
  if (units == 1)
    return one;
  if (units == 2)
    return one * one;
  throw Error("a candidate has 1 or 2 core units, not " + std::to_string(units));
}

Candidate candidateAt(const Space &space, int units, uint64_t index) {
  uint64_t one = space.unary.size() * space.unary.size() * space.binary.size();
  if (index >= spaceSize(space, units))
    throw Error("candidate index " + std::to_string(index) + " is outside the space");
  Candidate c;
  c.index = index;
  if (units == 1) {
    c.expr = unit(space, index, "x", "x");
  } else {
    std::string core = unit(space, index % one, "x", "x");
    c.expr = unit(space, index / one, core, "x");
  }
  return c;
}

std::vector<Candidate> enumerate(const Space &space, int units, uint64_t begin,
                                 uint64_t end) {
  end = std::min(end, spaceSize(space, units));
  std::vector<Candidate> out;
  for (uint64_t i = begin; i < end; ++i)
    out.push_back(candidateAt(space, units, i));
  return out;
}

std::string definition(const std::string &name, const std::string &expr) {
  bool usesBeta = false;
  for (size_t at = expr.find("beta"); at != std::string::npos && !usesBeta;
       at = expr.find("beta", at + 1)) {
    auto word = [&](size_t i) {
      return i < expr.size() && (std::isalnum((unsigned char)expr[i]) || expr[i] == '_');
    };
    usesBeta = !(at > 0 && word(at - 1)) && !word(at + 4);
  }
  return "act " + name + "(x" + (usesBeta ? "; beta = 1.0" : "") + ") = " + expr + "\n";
}

std::string definition(const std::string &name, const Candidate &c) {
  if (c.source.empty())
    return definition(name, c.expr);
  // `act OLD(` -> `act NAME(`: the definition's own name is c.expr.
  size_t at = c.source.find(c.expr, c.source.find("act"));
  if (at == std::string::npos)
    return c.source + "\n";
  return c.source.substr(0, at) + name + c.source.substr(at + c.expr.size()) + "\n";
}

std::vector<Candidate> candidatesFromSource(const std::string &text,
                                            const std::string &filename) {
  CompileOptions noCache;
  noCache.useCache = false;
  Module m = Module::compile(text, filename, noCache);
  std::vector<Candidate> out;
  for (const std::string &n : m.names()) {
    Candidate c;
    c.index = out.size();
    c.expr = n;
    c.source = m.get(n).formula();
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> baselines() {
  return {
      {"relu", "act relu(x) = max(x, 0)"},
      {"swish", "act swish(x; beta = 1.0) = x * sigmoid(beta * x)"},
      {"gelu", "act gelu(x) = gelu(x)"},
      {"mish", "act mish(x) = let sp = softplus(x) in x * tanh(sp)"},
      {"acon_c", "act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = "
                 "smooth_max(p1 * x, p2 * x; beta)"},
  };
}

uint64_t stableHash(const std::string &text) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

unsigned shardOf(const Screened &s, unsigned shards) {
  if (shards <= 1)
    return 0;
  const std::string &key = !s.fingerprint.empty() ? s.fingerprint
                           : !s.canonical.empty() ? s.canonical
                                                  : s.candidate.expr;
  return (unsigned)(stableHash(key) % shards);
}

} // namespace act::search

// act: the AST as an S-expression (`--emit=ast`).
//
// dump(Expr) is one line, e.g. (mul x (call sigmoid (mul beta x))), so tests can compare
// it. dump(File) prints one form per definition, breaking any list that does not fit in
// 80 columns into one child per line, indented by two.
#include "act/Parse/AST.h"

#include <charconv>

namespace act::ast {
namespace {

/// A printable node: an atom, or a list whose first `head` items stay on its first line.
struct S {
  std::string atom;     ///< when not a list
  std::string prefix;   ///< printed right before the node ("beta=" for named arguments)
  std::vector<S> items; ///< when a list
  bool list = false;
  size_t head = 1;
  bool breakAlways = false; ///< definitions: one part per line even when short
};

S atom(std::string a) {
  S s;
  s.atom = std::move(a);
  return s;
}
S list(std::vector<S> items, size_t head = 1) {
  S s;
  s.list = true;
  s.items = std::move(items);
  s.head = head;
  return s;
}

/// Shortest text that reads back as the same double; locale-independent.
std::string number(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

const char *opName(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Neg: return "neg";
  case Expr::Kind::Add: return "add";
  case Expr::Kind::Sub: return "sub";
  case Expr::Kind::Mul: return "mul";
  case Expr::Kind::Div: return "div";
  case Expr::Kind::Pow: return "pow";
  case Expr::Kind::Cmp:
    switch (e.cmp) {
    case CmpKind::LT: return "lt";
    case CmpKind::LE: return "le";
    case CmpKind::GT: return "gt";
    case CmpKind::GE: return "ge";
    case CmpKind::EQ: return "eq";
    case CmpKind::NE: return "ne";
    }
    return "cmp";
  default: return "?";
  }
}

S build(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Number:
    return atom(number(e.number));
  case Expr::Kind::Var:
    return atom(e.name);
  case Expr::Kind::Let: {
    std::vector<S> items{atom("let"), atom(e.name)};
    for (const ExprPtr &a : e.args)
      items.push_back(a ? build(*a) : atom("<null>"));
    return list(std::move(items), 2);
  }
  case Expr::Kind::Call: {
    std::vector<S> items{atom("call"), atom(e.name)};
    for (const ExprPtr &a : e.args)
      items.push_back(a ? build(*a) : atom("<null>"));
    if (e.hasSemicolon)
      items.push_back(atom(";"));
    for (const ExprPtr &a : e.trailing)
      items.push_back(a ? build(*a) : atom("<null>"));
    for (const NamedArg &n : e.named) {
      S v = n.value ? build(*n.value) : atom("<null>");
      v.prefix = n.name + "=";
      items.push_back(std::move(v));
    }
    return list(std::move(items), 2);
  }
  default: {
    std::vector<S> items{atom(opName(e))};
    for (const ExprPtr &a : e.args)
      items.push_back(a ? build(*a) : atom("<null>"));
    return list(std::move(items));
  }
  }
}

S build(const Param &p) {
  std::vector<S> items{atom(p.name)};
  if (!p.shape.isScalar())
    items.push_back(atom(p.shape.str()));
  if (p.isConst)
    items.push_back(atom("const"));
  if (p.init.size() == 1 && p.shape.tableLen == 0) {
    items.push_back(atom("init=" + number(p.init[0])));
  } else if (!p.init.empty()) {
    std::string s = "init=[";
    for (size_t i = 0; i < p.init.size(); ++i)
      s += (i ? " " : "") + number(p.init[i]);
    items.push_back(atom(s + "]"));
  }
  return list(std::move(items), items.size());
}

S build(const Definition &d) {
  std::vector<S> inputs{atom("inputs")};
  for (const Input &in : d.inputs)
    inputs.push_back(atom(in.name));
  std::vector<S> params{atom("params")};
  for (const Param &p : d.params)
    params.push_back(build(p));
  std::vector<S> body{atom("body")};
  if (d.body)
    body.push_back(build(*d.body));
  S s = list({atom("act"), atom(d.name), list(std::move(inputs)), list(std::move(params)),
               list(std::move(body))},
              2);
  s.breakAlways = true;
  return s;
}

void flat(const S &s, std::string &out) {
  out += s.prefix;
  if (!s.list) {
    out += s.atom;
    return;
  }
  out += '(';
  for (size_t i = 0; i < s.items.size(); ++i) {
    if (i)
      out += ' ';
    flat(s.items[i], out);
  }
  out += ')';
}

std::string flat(const S &s) {
  std::string out;
  flat(s, out);
  return out;
}

constexpr size_t kWidth = 80;

/// Whether `s` printed flat takes at most `budget` characters; stops counting early so
/// that pretty-printing a large tree stays linear.
bool fits(const S &s, size_t &budget) {
  size_t own = s.prefix.size() + (s.list ? 2 + (s.items.empty() ? 0 : s.items.size() - 1)
                                         : s.atom.size());
  if (own > budget)
    return false;
  budget -= own;
  for (const S &i : s.items)
    if (!fits(i, budget))
      return false;
  return true;
}

void pretty(const S &s, size_t indent, std::string &out) {
  size_t budget = indent < kWidth ? kWidth - indent : 0;
  if (!s.list || (!s.breakAlways && fits(s, budget))) {
    flat(s, out);
    return;
  }
  out += s.prefix + "(";
  size_t head = std::min(s.head, s.items.size());
  for (size_t i = 0; i < head; ++i) {
    if (i)
      out += ' ';
    flat(s.items[i], out);
  }
  for (size_t i = head; i < s.items.size(); ++i) {
    out += '\n' + std::string(indent + 2, ' ');
    pretty(s.items[i], indent + 2, out);
  }
  out += ')';
}

} // namespace

std::string dump(const Expr &expr) { return flat(build(expr)); }

std::string dump(const File &file) {
  std::string out;
  for (const Definition &d : file.defs) {
    pretty(build(d), 0, out);
    out += '\n';
  }
  return out;
}

} // namespace act::ast

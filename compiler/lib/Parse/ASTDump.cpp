// act: the AST as an S-expression (`--emit=ast`).
//
// dump(Expr) is one line, e.g. (mul x (call sigmoid (mul beta x))), so tests can compare
// it. dump(File) prints one form per definition with its inputs, params and body on
// their own lines; a list that does not fit in 80 columns gets one child per line,
// indented by two. The walks recurse on the tree with small frames (the parser bounds
// its height) and stay linear in its size.
#include "act/Parse/AST.h"

#include <charconv>

namespace act::ast {
namespace {

constexpr size_t kWidth = 80;

/// Shortest text that reads back as the same double; locale-independent.
std::string number(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

const char *opName(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Number: return "";
  case Expr::Kind::Var: return "";
  case Expr::Kind::Neg: return "neg";
  case Expr::Kind::Add: return "add";
  case Expr::Kind::Sub: return "sub";
  case Expr::Kind::Mul: return "mul";
  case Expr::Kind::Div: return "div";
  case Expr::Kind::Pow: return "pow";
  case Expr::Kind::Call: return "call";
  case Expr::Kind::Let: return "let";
  case Expr::Kind::Cmp:
    switch (e.cmp) {
    case CmpKind::LT: return "lt";
    case CmpKind::LE: return "le";
    case CmpKind::GT: return "gt";
    case CmpKind::GE: return "ge";
    case CmpKind::EQ: return "eq";
    case CmpKind::NE: return "ne";
    }
  }
  return "?";
}

bool isLeaf(const Expr &e) {
  return e.kind == Expr::Kind::Number || e.kind == Expr::Kind::Var;
}

/// A leaf's text, or a list's opening: "(add", "(call sigmoid", "(let t".
std::string head(const Expr &e) {
  if (e.kind == Expr::Kind::Number)
    return number(e.number);
  if (e.kind == Expr::Kind::Var)
    return e.name;
  std::string h = std::string("(") + opName(e);
  if (e.kind == Expr::Kind::Call || e.kind == Expr::Kind::Let)
    h += " " + e.name;
  return h;
}

/// Calls fn(prefix, child) for each child of a list in print order; a null child is
/// the ';' of a call ("beta=" is the prefix of a named argument).
template <typename Fn> void forEachChild(const Expr &e, Fn fn) {
  for (const ExprPtr &a : e.args)
    fn("", a.get());
  if (e.kind != Expr::Kind::Call)
    return;
  if (e.hasSemicolon)
    fn("", nullptr);
  for (const ExprPtr &a : e.trailing)
    fn("", a.get());
  for (const NamedArg &n : e.named)
    fn(n.name + "=", n.value.get());
}

void flat(const Expr &e, std::string &out) {
  out += head(e);
  if (isLeaf(e))
    return;
  forEachChild(e, [&](const std::string &prefix, const Expr *c) {
    out += ' ';
    out += prefix;
    if (c)
      flat(*c, out);
    else
      out += ';';
  });
  out += ')';
}

/// Whether `e` printed flat takes at most `budget` characters; stops counting early.
bool fits(const Expr &e, size_t &budget) {
  size_t own = head(e).size() + (isLeaf(e) ? 0 : 1);
  if (own > budget)
    return false;
  budget -= own;
  bool ok = true;
  if (!isLeaf(e))
    forEachChild(e, [&](const std::string &prefix, const Expr *c) {
      if (!ok)
        return;
      size_t sep = 1 + prefix.size() + (c ? 0 : 1);
      if (sep > budget) {
        ok = false;
        return;
      }
      budget -= sep;
      ok = !c || fits(*c, budget);
    });
  return ok;
}

void pretty(const Expr &e, size_t indent, std::string &out) {
  size_t budget = indent < kWidth ? kWidth - indent : 0;
  if (isLeaf(e) || fits(e, budget)) {
    flat(e, out);
    return;
  }
  out += head(e);
  forEachChild(e, [&](const std::string &prefix, const Expr *c) {
    out += '\n' + std::string(indent + 2, ' ') + prefix;
    if (c)
      pretty(*c, indent + 2 + prefix.size(), out);
    else
      out += ';';
  });
  out += ')';
}

std::string param(const Param &p) {
  std::string s = "(" + p.name;
  if (!p.shape.isScalar())
    s += " " + p.shape.str();
  if (p.isConst)
    s += " const";
  if (p.init.size() == 1 && p.shape.tableLen == 0) {
    s += " init=" + number(p.init[0]);
  } else if (!p.init.empty()) {
    s += " init=[";
    for (size_t i = 0; i < p.init.size(); ++i)
      s += (i ? " " : "") + number(p.init[i]);
    s += "]";
  }
  return s + ")";
}

void definition(const Definition &d, std::string &out) {
  out += "(act " + d.name + "\n  (inputs";
  for (const Input &in : d.inputs)
    out += " " + in.name;
  out += ")\n  (params";
  std::string params;
  for (const Param &p : d.params)
    params += " " + param(p);
  if (10 + params.size() <= kWidth) {
    out += params;
  } else {
    for (const Param &p : d.params)
      out += "\n    " + param(p);
  }
  out += ")\n  (body";
  if (d.body) {
    size_t budget = kWidth - 9; // "  (body " and the closing parens
    if (fits(*d.body, budget)) {
      out += ' ';
      flat(*d.body, out);
    } else {
      out += "\n    ";
      pretty(*d.body, 4, out);
    }
  }
  out += "))\n";
}

} // namespace

std::string dump(const Expr &expr) {
  std::string out;
  flat(expr, out);
  return out;
}

std::string dump(const File &file) {
  std::string out;
  for (const Definition &d : file.defs)
    definition(d, out);
  return out;
}

} // namespace act::ast

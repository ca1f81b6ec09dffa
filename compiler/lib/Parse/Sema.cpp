// act: semantic checks (names, arities, select conditions, tables, composition) and
// the public entry points parseAndCheck / closestMatch.
#include "Lexer.h"
#include "act/Parse/Builtins.h"
#include "act/Parse/Parser.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace act::parse {

std::string closestMatch(const std::string &name,
                         const std::vector<std::string> &candidates) {
  const size_t limit = std::max<size_t>(1, name.size() / 3);
  if (name.empty() || name.size() > 64) // nobody mistypes a 65-letter name
    return "";
  std::string best;
  size_t bestDist = limit + 1;
  std::vector<size_t> prev, row;
  for (const std::string &c : candidates) {
    if (c.empty() || c.size() > 64)
      continue;
    size_t diff = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (diff >= bestDist) // the distance is at least the length difference
      continue;
    // Optimal string alignment distance (Levenshtein plus adjacent swaps, so
    // 'alpah' is one edit from 'alpha'), with three rows.
    std::vector<size_t> prev2(c.size() + 1, 0);
    prev.assign(c.size() + 1, 0);
    row.assign(c.size() + 1, 0);
    for (size_t j = 0; j <= c.size(); ++j)
      prev[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t sub = prev[j - 1] + (name[i - 1] == c[j - 1] ? 0 : 1);
        row[j] = std::min({prev[j] + 1, row[j - 1] + 1, sub});
        if (i > 1 && j > 1 && name[i - 1] == c[j - 2] && name[i - 2] == c[j - 1])
          row[j] = std::min(row[j], prev2[j - 2] + 1);
      }
      prev2 = prev;
      std::swap(prev, row);
    }
    if (prev[c.size()] < bestDist) { // strict: the first of equals wins
      bestDist = prev[c.size()];
      best = c;
    }
  }
  return best;
}

namespace detail {
namespace {

/// What a definition costs once every call to an earlier definition is inlined; bounded
/// so that composition (f2 = f1(f1(x)), f3 = f2(f2(x)), ...) cannot make MLIRGen blow
/// up exponentially or recurse too deeply.
struct Cost {
  double height = 1;
  double size = 1;
  bool tooLarge = false; ///< already reported at a callee; not reported again
};
constexpr double kMaxInlinedHeight = 2048;
constexpr double kMaxInlinedSize = 1e6;

std::string plural(size_t n, const char *word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

/// The source position of an expression's first token (binary nodes sit at their
/// operator), so that carets point at the start of the offending argument.
const ast::Loc &startLoc(const ast::Expr &e) {
  const ast::Expr *p = &e;
  while (!p->args.empty() &&
         (p->kind == ast::Expr::Kind::Add || p->kind == ast::Expr::Kind::Sub ||
          p->kind == ast::Expr::Kind::Mul || p->kind == ast::Expr::Kind::Div ||
          p->kind == ast::Expr::Kind::Pow || p->kind == ast::Expr::Kind::Cmp))
    p = p->args[0].get();
  return p->loc;
}

class Checker {
public:
  Checker(const ast::File &file, const std::vector<std::string> &broken, DiagSink &diags)
      : file_(file), broken_(broken.begin(), broken.end()), d_(diags) {}

  void run() {
    costs_.resize(file_.defs.size());
    // All names first, so that a call to a later definition can say so.
    names_.resize(file_.defs.size());
    for (size_t i = 0; i < file_.defs.size(); ++i) {
      firstIndex_.emplace(file_.defs[i].name, i);
      // Hashed lookups: a definition with thousands of parameters must not make the
      // checks quadratic. The first of duplicated names wins, like Definition::find*.
      for (const ast::Input &in : file_.defs[i].inputs)
        names_[i].inputs.emplace(in.name, true);
      for (const ast::Param &p : file_.defs[i].params)
        names_[i].params.emplace(p.name, &p);
    }
    for (size_t i = 0; i < file_.defs.size() && !d_.full(); ++i) {
      const ast::Definition &def = file_.defs[i];
      size_t first = firstIndex_[def.name];
      if (first != i)
        d_.error(def.loc, quoted(def.name) + " is already defined at line " +
                              std::to_string(file_.defs[first].loc.line));
      if (findBuiltin(def.name))
        d_.error(def.loc, quoted(def.name) +
                              " is a builtin function; choose another name for this definition");
      cur_ = i;
      def_ = &def;
      checkSignature(def);
      lets_.clear();
      Cost c = def.body ? checkExpr(*def.body, false) : Cost{};
      if (!c.tooLarge && (c.height > kMaxInlinedHeight || c.size > kMaxInlinedSize)) {
        d_.error(def.loc, quoted(def.name) + " is too large: more than " +
                              std::to_string((long)kMaxInlinedSize) + " operations or " +
                              std::to_string((long)kMaxInlinedHeight) +
                              " levels of nesting once the definitions it calls are inlined");
        c.tooLarge = true;
      }
      costs_[i] = c;
    }
  }

private:
  void checkSignature(const ast::Definition &def) {
    std::unordered_map<std::string, bool> seen; // name -> is an input
    for (const ast::Input &in : def.inputs) {
      if (!seen.emplace(in.name, true).second)
        d_.error(in.loc, "duplicate name " + quoted(in.name) + ": already an input of " +
                             quoted(def.name));
    }
    for (const ast::Param &p : def.params) {
      auto [it, inserted] = seen.emplace(p.name, false);
      if (!inserted)
        d_.error(p.loc, "duplicate name " + quoted(p.name) + ": already " +
                            (it->second ? "an input" : "a parameter") + " of " +
                            quoted(def.name));
    }
  }

  bool inLets(const std::string &n) const {
    return std::find(lets_.begin(), lets_.end(), n) != lets_.end();
  }
  /// A table parameter of the current definition, unless a let hides it.
  const ast::Param *tableParam(const ast::Expr &e) const {
    if (e.kind != ast::Expr::Kind::Var || inLets(e.name))
      return nullptr;
    const ast::Param *p = param(cur_, e.name);
    return p && p->shape.tableLen > 0 && !names_[cur_].inputs.count(e.name) ? p : nullptr;
  }
  bool isKnownVar(const std::string &n) const {
    return inLets(n) || names_[cur_].inputs.count(n) || param(cur_, n) || n == "pi" ||
           n == "e";
  }
  const ast::Param *param(size_t def, const std::string &n) const {
    auto it = names_[def].params.find(n);
    return it == names_[def].params.end() ? nullptr : it->second;
  }
  /// Index of the definition a call to `n` means, or -1.
  long defIndex(const std::string &n) const {
    auto it = firstIndex_.find(n);
    return it == firstIndex_.end() ? -1 : (long)it->second;
  }

  Cost checkExpr(const ast::Expr &e, bool allowCmp) {
    using K = ast::Expr::Kind;
    switch (e.kind) {
    case K::Number:
      return {};
    case K::Var:
      checkVar(e);
      return {};
    case K::Cmp:
      if (!allowCmp)
        reportCmp(e);
      [[fallthrough]];
    case K::Neg:
    case K::Add:
    case K::Sub:
    case K::Mul:
    case K::Div:
    case K::Pow: {
      Cost c;
      for (const ast::ExprPtr &a : e.args)
        c = join(c, checkExpr(*a, false));
      return bump(c);
    }
    case K::Let: {
      Cost c = checkExpr(*e.args[0], false);
      lets_.push_back(e.name); // shadowing is allowed: lookups only ask "is it bound"
      c = join(c, checkExpr(*e.args[1], false));
      lets_.pop_back();
      return bump(c);
    }
    case K::Call:
      return checkCall(e);
    }
    return {};
  }

  static Cost join(Cost a, Cost b) {
    return {std::max(a.height, b.height), a.size + b.size, a.tooLarge || b.tooLarge};
  }
  static Cost bump(Cost c) { return {c.height + 1, c.size + 1, c.tooLarge}; }

  // Everything that builds a message is out of line (noinline), so that the recursive
  // walk checkExpr -> checkCall -> checkArgs -> checkExpr keeps small stack frames.
  [[gnu::noinline]] void reportCmp(const ast::Expr &e) {
    d_.error(e.loc, "comparisons are only allowed as the condition of select");
  }

  [[gnu::noinline]] void checkVar(const ast::Expr &e) {
    if (isKnownVar(e.name)) {
      if (tableParam(e))
        d_.error(e.loc, "table parameter " + quoted(e.name) +
                            " can only be used as pwl's table: pwl(x; " + e.name +
                            ", bl, br, kl, kr)");
      return;
    }
    if (findBuiltin(e.name) || defIndex(e.name) >= 0) {
      d_.error(e.loc, quoted(e.name) + " is a function; call it as " + e.name + "(...)");
      return;
    }
    std::vector<std::string> cands(lets_.rbegin(), lets_.rend());
    for (const ast::Input &in : def_->inputs)
      cands.push_back(in.name);
    for (const ast::Param &p : def_->params)
      cands.push_back(p.name);
    cands.push_back("pi");
    cands.push_back("e");
    std::string m = closestMatch(e.name, cands);
    d_.error(e.loc, "unknown name " + quoted(e.name) +
                        (m.empty() ? "" : "; did you mean " + quoted(m) + "?"));
  }

  /// Checks every argument expression without call-specific rules (after an error in
  /// the call itself, or for calls to unknown functions).
  /// `tables`: 1 lets a table name be pwl's y, 2 lets it be any argument (after an
  /// arity error, where the user's intent is unclear).
  Cost checkArgs(const ast::Expr &call, bool cmpFirst, int tables) {
    Cost c;
    for (size_t i = 0; i < call.args.size(); ++i) {
      if (tables == 2 && tableParam(*call.args[i]))
        continue;
      c = join(c, checkExpr(*call.args[i], cmpFirst && i == 0));
    }
    for (size_t i = 0; i < call.trailing.size(); ++i) {
      if (((tables == 1 && i == 0) || tables == 2) && tableParam(*call.trailing[i]))
        continue;
      c = join(c, checkExpr(*call.trailing[i], false));
    }
    for (const ast::NamedArg &n : call.named)
      c = join(c, checkExpr(*n.value, false));
    return c;
  }

  [[gnu::noinline]] Cost checkCall(const ast::Expr &e) {
    if (const Builtin *b = findBuiltin(e.name)) {
      const bool ok = checkBuiltinArity(e, *b);
      if (ok)
        reportSelectPwl(e, *b);
      const bool pwl = b->name == "pwl";
      return bump(checkArgs(e, b->name == "select", pwl ? (ok ? 1 : 2) : 0));
    }
    long idx = defIndex(e.name);
    if (idx >= 0 && (size_t)idx < cur_) {
      reportUserCall(e, (size_t)idx);
      Cost c;
      for (const ast::ExprPtr &a : e.args)
        c = join(c, checkExpr(*a, false));
      for (const ast::ExprPtr &a : e.trailing)
        c = join(c, checkExpr(*a, false));
      // Table bindings were checked by reportUserCall; they are names, not values.
      for (const ast::NamedArg &n : e.named) {
        const ast::Param *p = param((size_t)idx, n.name);
        if (!p || p->shape.tableLen == 0)
          c = join(c, checkExpr(*n.value, false));
      }
      const Cost &callee = costs_[(size_t)idx];
      c.height += callee.height;
      c.size += callee.size;
      c.tooLarge |= callee.tooLarge;
      return bump(c);
    }
    reportBadCallee(e, idx);
    return bump(checkArgs(e, false, 0));
  }

  /// A call to something that is not a builtin or an earlier definition.
  [[gnu::noinline]] void reportBadCallee(const ast::Expr &e, long idx) {
    if (idx >= 0 && (size_t)idx == cur_)
      d_.error(e.loc, quoted(e.name) + " cannot call itself: recursion is not allowed, "
                                       "only earlier definitions can be called");
    else if (idx >= 0)
      d_.error(e.loc, quoted(e.name) +
                          " is defined later in the file; only earlier definitions can be "
                          "called");
    else if (broken_.count(e.name))
      ; // its definition already has a syntax error
    else if (isKnownVar(e.name))
      d_.error(e.loc, quoted(e.name) + " is not a function");
    else {
      std::vector<std::string> cands;
      for (const Builtin &bi : kBuiltins)
        cands.emplace_back(bi.name);
      for (size_t i = 0; i < cur_; ++i)
        cands.push_back(file_.defs[i].name);
      std::string m = closestMatch(e.name, cands);
      d_.error(e.loc, "unknown function " + quoted(e.name) +
                          (m.empty() ? "" : "; did you mean " + quoted(m) + "?"));
    }
  }

  /// One arity error per call at most; returns whether the call's shape was fine.
  [[gnu::noinline]] bool checkBuiltinArity(const ast::Expr &e, const Builtin &b) {
    const std::string name = quoted(b.name);
    const std::string sig(b.signature);
    const size_t n = e.args.size();
    const std::string before = b.trailingArgs ? " before ';'" : "";
    if (n < (size_t)b.minArgs || (b.maxArgs >= 0 && n > (size_t)b.maxArgs)) {
      std::string want = b.minArgs == b.maxArgs
                             ? plural(b.minArgs, "argument")
                             : "at least " + plural(b.minArgs, "argument");
      std::string msg = name + " takes " + want + before + ", got " + std::to_string(n);
      if (b.trailingArgs)
        msg += ": " + sig;
      d_.error(e.loc, msg);
      return false;
    }
    if (!e.named.empty()) {
      d_.error(e.named[0].loc, name + " takes no named arguments" +
                                   (b.trailingArgs ? "; write " + sig : std::string()));
      return false;
    }
    if (b.trailingArgs == 0) {
      if (e.hasSemicolon) {
        d_.error(e.loc, name + " takes no arguments after ';'");
        return false;
      }
      return true;
    }
    std::string what = sig.substr(sig.find(';') + 1);
    while (!what.empty() && what.front() == ' ')
      what.erase(0, 1);
    if (!what.empty() && what.back() == ')')
      what.pop_back();
    if (!e.hasSemicolon) {
      d_.error(e.loc, name + " needs its " + what + " after ';': " + sig);
      return false;
    }
    if (e.trailing.size() != (size_t)b.trailingArgs) {
      d_.error(e.loc, name + " takes " + plural(b.trailingArgs, "argument") +
                          " after ';' (" + what + "), got " +
                          std::to_string(e.trailing.size()) + ": " + sig);
      return false;
    }
    return true;
  }

  /// select's condition and pwl's table, once the arity is right.
  [[gnu::noinline]] void reportSelectPwl(const ast::Expr &e, const Builtin &b) {
    if (b.name == "select" && e.args[0]->kind != ast::Expr::Kind::Cmp)
      d_.error(startLoc(*e.args[0]),
               "select's first argument must be a comparison such as x > 0");
    if (b.name != "pwl")
      return;
    const ast::Expr &y = *e.trailing[0];
    if (const ast::Param *p = tableParam(y)) {
      if (p->shape.tableLen < 2)
        d_.error(y.loc, "pwl's table " + quoted(p->name) + " needs at least 2 values, e.g. " +
                            p->name + "[C,17]");
    } else if (y.kind != ast::Expr::Kind::Var || isKnownVar(y.name)) {
      // (An unknown name is reported as such when the argument is checked.)
      std::string what =
          y.kind == ast::Expr::Kind::Var ? "; " + quoted(y.name) + " is not a table" : "";
      d_.error(startLoc(y), "pwl's first argument after ';' must be a table parameter "
                            "such as y[C,17]" + what);
    }
  }

  /// Inputs, parameter bindings and table bindings of a call to an earlier definition
  /// (the argument expressions themselves are checked by the caller).
  [[gnu::noinline]] void reportUserCall(const ast::Expr &e, size_t calleeIndex) {
    const ast::Definition &callee = file_.defs[calleeIndex];
    const std::string cname = quoted(callee.name);
    if (e.args.size() != callee.inputs.size()) {
      std::string names;
      for (const ast::Input &in : callee.inputs)
        names += (names.empty() ? "" : ", ") + in.name;
      d_.error(e.loc, cname + " takes " + plural(callee.inputs.size(), "input") + " (" +
                          names + "), got " + std::to_string(e.args.size()));
    }
    if (!e.trailing.empty()) {
      std::string example = callee.params.empty()
                                ? "; it has no parameters"
                                : ", e.g. " + callee.name + "(...; " +
                                      callee.params[0].name + " = ...)";
      d_.error(startLoc(*e.trailing[0]),
               "arguments after ';' must name a parameter of " + cname + example);
    }
    std::unordered_set<std::string> named;
    bool misnamed = false; // then "has no initial value" would only repeat the error
    for (const ast::NamedArg &n : e.named) {
      const ast::Param *p = param(calleeIndex, n.name);
      if (!p) {
        std::vector<std::string> cands;
        for (const ast::Param &q : callee.params)
          cands.push_back(q.name);
        std::string m = closestMatch(n.name, cands);
        misnamed = true;
        d_.error(n.loc, cname + " has no parameter " + quoted(n.name) +
                            (m.empty() ? "" : "; did you mean " + quoted(m) + "?"));
        continue;
      }
      if (!named.insert(n.name).second)
        d_.error(n.loc, "parameter " + quoted(n.name) + " of " + cname + " is given twice");
      if (p->shape.tableLen > 0) {
        const ast::Param *q = tableParam(*n.value);
        if (!q || q->shape.tableLen != p->shape.tableLen) {
          if (n.value->kind == ast::Expr::Kind::Var && !isKnownVar(n.value->name))
            checkVar(*n.value); // the unknown name is the real problem
          else
            d_.error(startLoc(*n.value),
                     cname + " parameter " + quoted(p->name) + " is a table of " +
                         std::to_string(p->shape.tableLen) +
                         " values; bind it to a table parameter of the same length" +
                         (q ? " (" + quoted(q->name) + " has " +
                                  std::to_string(q->shape.tableLen) + ")"
                            : std::string()));
        }
      }
    }

    // Parameters not named are taken from the caller's same-named parameter, else their
    // initial value.
    for (const ast::Param &p : callee.params) {
      if (named.count(p.name))
        continue;
      const ast::Param *q = param(cur_, p.name);
      if (q) {
        if (p.shape.tableLen != q->shape.tableLen) {
          std::string qs = q->shape.str().empty() ? "a scalar" : "shape " + q->shape.str();
          d_.error(e.loc, cname + " parameter " + quoted(p.name) + " (shape " +
                              (p.shape.str().empty() ? "scalar" : p.shape.str()) +
                              ") cannot be bound to this definition's " + quoted(q->name) +
                              ", which is " + qs + "; pass it as " + callee.name + "(...; " +
                              p.name + " = ...)");
        }
        continue;
      }
      if (p.init.empty() && !misnamed)
        d_.error(e.loc, cname + " parameter " + quoted(p.name) +
                            " has no initial value; pass it as " + callee.name + "(...; " +
                            p.name + " = ...)");
    }
  }

  const ast::File &file_;
  std::unordered_set<std::string> broken_;
  DiagSink &d_;
  std::unordered_map<std::string, size_t> firstIndex_;
  struct Names {
    std::unordered_map<std::string, bool> inputs;
    std::unordered_map<std::string, const ast::Param *> params;
  };
  std::vector<Names> names_; ///< per definition
  std::vector<Cost> costs_;
  std::vector<std::string> lets_;
  size_t cur_ = 0;
  const ast::Definition *def_ = nullptr;
};

} // namespace

void check(const ast::File &file, const std::vector<std::string> &brokenNames,
           DiagSink &diags) {
  Checker(file, brokenNames, diags).run();
}

} // namespace detail

ast::File parseAndCheck(std::string_view source, const std::string &filename,
                        std::vector<Diagnostic> &diags) {
  ast::File file;
  *file.name = filename;
  file.source = std::string(source);
  const size_t first = diags.size();
  detail::DiagSink sink(source, filename, diags);
  std::vector<std::string> broken;
  detail::parseFile(source, file, sink, broken);
  if (!sink.full())
    detail::check(file, broken, sink);
  // Report in source order (syntax errors were found in a first pass); the
  // position-less "too many errors" note stays last.
  auto end = diags.end();
  if (end - diags.begin() > (long)first && diags.back().line == 0)
    --end;
  std::stable_sort(diags.begin() + first, end, [](const Diagnostic &x, const Diagnostic &y) {
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  return file;
}

} // namespace act::parse

// act: the abstract syntax tree of a .act file.
//
// The parser builds it, Sema (compiler/lib/Parse/Sema.cpp) checks names, arities and shapes, and
// MLIRGen turns a checked tree into the act dialect. Plain C++, no MLIR types.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace act::ast {

/// A 1-based source position. `file` points at the File's name (stable for its life).
struct Loc {
  const std::string *file = nullptr;
  unsigned line = 0;
  unsigned col = 0;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class CmpKind { LT, LE, GT, GE, EQ, NE };

/// A named argument in a call's parameter list: `acon_c(x; p1 = 2.0)`.
struct NamedArg {
  std::string name;
  Loc loc;
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    Number, ///< `number`; `isInteger` when written without '.', 'e' (for `x^2`)
    Var,    ///< `name`: an input, parameter, let binding, or `pi`/`e`
    Neg,    ///< -args[0]
    Add,    ///< args[0] + args[1]
    Sub,
    Mul,
    Div,
    Pow,    ///< args[0] ^ args[1]
    Cmp,    ///< args[0] `cmp` args[1]; only valid as select's condition
    Call,   ///< name(args...; trailing... , named...)
    Let,    ///< let name = args[0] in args[1]
  };

  Kind kind;
  Loc loc; ///< the operator / name / number token (for binary ops: the operator)

  double number = 0.0;   ///< Number
  bool isInteger = false; ///< Number written as digits only
  std::string name;      ///< Var, Call (callee), Let (bound name)
  CmpKind cmp = CmpKind::LT;

  std::vector<ExprPtr> args;     ///< operands; Call: arguments before ';'
  std::vector<ExprPtr> trailing; ///< Call: positional arguments after ';'
  std::vector<NamedArg> named;   ///< Call: `name = expr` arguments after ';'
  bool hasSemicolon = false;     ///< Call: a ';' was written

  Expr(Kind kind, Loc loc) : kind(kind), loc(loc) {}
};

/// A parameter's broadcast shape: [N]? [C]? [K]? in that order.
struct Shape {
  bool perSample = false;  ///< has N
  bool perChannel = false; ///< has C
  long tableLen = 0;       ///< trailing integer (a table such as y[C,17]); 0 if none

  bool isScalar() const { return !perSample && !perChannel && tableLen == 0; }
  /// "", "[C]", "[N,C]", "[C,17]", ...
  std::string str() const {
    std::string s;
    auto add = [&](const std::string &p) { s += s.empty() ? p : "," + p; };
    if (perSample)
      add("N");
    if (perChannel)
      add("C");
    if (tableLen)
      add(std::to_string(tableLen));
    return s.empty() ? s : "[" + s + "]";
  }
};

struct Input {
  std::string name;
  Loc loc;
};

struct Param {
  std::string name;
  Loc loc;
  Shape shape;
  bool isConst = false;
  /// Initial value(s): empty when none was given; one value (broadcast to every entry),
  /// or for tables a list of exactly tableLen values (`= [0, 0.5, ...]`).
  std::vector<double> init;
};

struct Definition {
  std::string name;
  Loc loc; ///< the name token
  std::vector<Input> inputs; ///< at least one; inputs[0] is the main input
  std::vector<Param> params;
  ExprPtr body;
  std::string text; ///< the definition's source text from `act` to the end of the body

  const Param *findParam(const std::string &n) const {
    for (const Param &p : params)
      if (p.name == n)
        return &p;
    return nullptr;
  }
  int findInput(const std::string &n) const {
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].name == n)
        return (int)i;
    return -1;
  }
};

struct File {
  std::unique_ptr<std::string> name = std::make_unique<std::string>();
  std::string source;
  std::vector<Definition> defs;

  const Definition *find(const std::string &n) const {
    for (const Definition &d : defs)
      if (d.name == n)
        return &d;
    return nullptr;
  }
};

/// Prints the tree as an indented S-expression (the `--emit=ast` stage).
std::string dump(const File &file);
std::string dump(const Expr &expr);

} // namespace act::ast

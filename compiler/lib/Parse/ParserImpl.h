// act: recursive-descent parser from tokens to ast::File. Not installed; the entry
// point is parseFile (Lexer.h). The class is defined in ParseDefinitions.cpp
// (definitions, errors and recovery) and ParseExpressions.cpp (expressions).
//
// Errors do not use exceptions: a parse function that fails records one diagnostic,
// sets `failed_` and returns null; every caller returns at once, and the top level
// skips to the next `act` keyword. Recursion depth and tree height are both bounded so
// that no input can overflow the stack here or in the passes that walk the tree.
#pragma once

#include "Lexer.h"

#include <string>
#include <string_view>
#include <vector>

namespace act::parse::detail {

/// Nesting of parentheses, unary minus, '^', let and calls (parser recursion).
constexpr unsigned kMaxNesting = 256;
/// Height of any expression tree, e.g. from a long `a + b + c + ...` chain, which the
/// parser builds with a loop but Sema, the dump and MLIRGen walk recursively.
constexpr unsigned kMaxHeight = 1024;
/// Largest table length; tables are learnable knots, not data.
constexpr long kMaxTableLen = 65536;

/// An expression and its height (a leaf has height 1).
struct Node {
  ast::ExprPtr e;
  unsigned h = 0;
  explicit operator bool() const { return e != nullptr; }
};

class Parser {
public:
  Parser(std::string_view src, ast::File &file, DiagSink &diags,
         std::vector<std::string> &broken)
      : src_(src), toks_(lex(src)), file_(file), diags_(diags), broken_(broken) {}

  void run();

private:
  // ---- token helpers -------------------------------------------------------------
  const Token &cur() const { return toks_[pos_]; }
  const Token &peekTok(size_t ahead) const {
    size_t i = pos_ + ahead;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  bool at(Tok k) const { return cur().kind == k; }
  const Token &bump() {
    const Token &t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) // never move past Eof
      ++pos_;
    return t;
  }
  bool accept(Tok k) {
    if (!at(k))
      return false;
    bump();
    return true;
  }

  ast::Loc locOf(const Token &t) const { return {file_.name.get(), t.line, t.col}; }

  // ---- errors and recovery (ParseDefinitions.cpp) -------------------------------------
  /// Records "expected WHAT, found TOKEN" at the current token (or the lexer's own
  /// message for a bad byte) and marks the definition as failed.
  /// When the token found is on a later line, the caret goes just after the previous
  /// token instead, where the missing piece belongs (like `(x + 1` then a new line).
  void errorHere(const std::string &expected, bool afterPrevious = true);
  void error(const Token &t, const std::string &msg);
  bool expect(Tok k, const std::string &expected);

  /// Skips to the next `act` (always making progress when not already at one).
  void recover();

  // ---- definitions (ParseDefinitions.cpp) ----------------------------------------------
  void parseDefinition(ast::Definition &def);
  bool parseParam(ast::Param &p);
  /// '[' (N)? (C)? (integer)? ']' with commas between, in that order, not empty.
  bool parseShape(ast::Param &p);
  /// ['-'] number, accepted at the current token; false after an error.
  bool parseSignedNumber(double &v, const std::string &what);
  bool parseInit(ast::Param &p);

  // ---- expressions (ParseExpressions.cpp) ----------------------------------------------
  /// Counts parser recursion; every recursive cycle passes through parseUnary.
  struct DepthGuard {
    unsigned &depth;
    explicit DepthGuard(unsigned &d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };

  ast::ExprPtr makeNode(ast::Expr::Kind k, const Token &t);

  // Error reporters for the recursive expression functions live out of line, so that
  // their message strings do not enlarge every recursive stack frame.
  enum class ExprError { TooDeep, TooLarge, Chained, NoExpr, UnclosedParen, LetName,
                         LetAssign, LetIn, ArgSeparator, NamedSeparator };
  [[gnu::noinline]] void exprError(ExprError what, const Token *a = nullptr,
                                   const Token *b = nullptr);

  /// Builds `op(lhs, rhs)`, failing when the tree would grow too tall.
  Node binary(ast::Expr::Kind k, const Token &op, Node lhs, Node rhs);
  Node parseExpr();
  static bool cmpKind(Tok t, ast::CmpKind &k);
  /// One left-associative precedence level: operand ((first | second) operand)*.
  Node parseChain(Node (Parser::*operand)(), Tok first, ast::Expr::Kind firstKind, Tok second,
                  ast::Expr::Kind secondKind);
  Node parseAdditive();
  Node parseMultiplicative();
  Node parseUnary();
  Node parsePower();
  Node parsePrimary();
  Node parseLet();
  /// After an argument: ',' (another argument must follow), or the end of the list.
  /// Returns 1 to go on, 0 at the end, -1 after an error.
  int separator(bool afterSemi, const Token &nameTok, const Token &open);
  /// Adds one argument's height to its call's; false (after an error) when too tall.
  bool grow(Node &call, unsigned h, const Token &nameTok);
  /// NAME '(' [expr (',' expr)*] [';' item (',' item)*] ')' where an item is
  /// `NAME = expr` (named) or expr (trailing).
  Node parseCall();

  std::string_view src_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  ast::File &file_;
  DiagSink &diags_;
  std::vector<std::string> &broken_;
  bool failed_ = false;
  unsigned depth_ = 0;
  std::string defName_;
};

} // namespace act::parse::detail

// act: recursive-descent parser from tokens to ast::File.
//
// Errors do not use exceptions: a parse function that fails records one diagnostic,
// sets `failed_` and returns null; every caller returns at once, and the top level
// skips to the next `act` keyword. Recursion depth and tree height are both bounded so
// that no input can overflow the stack here or in the passes that walk the tree.
#include "Lexer.h"

#include <string>

namespace act::parse::detail {
namespace {

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

  void run() {
    while (!at(Tok::Eof) && !diags_.full()) {
      if (!at(Tok::KwAct)) {
        failed_ = false;
        errorHere("expected a definition starting with 'act'", false);
        bump();
        recover();
        continue;
      }
      failed_ = false;
      defName_.clear();
      ast::Definition def;
      parseDefinition(def);
      if (failed_) {
        if (!defName_.empty())
          broken_.push_back(defName_);
        recover();
      } else {
        file_.defs.push_back(std::move(def));
      }
    }
  }

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

  /// Records "expected WHAT, found TOKEN" at the current token (or the lexer's own
  /// message for a bad byte) and marks the definition as failed.
  /// When the token found is on a later line, the caret goes just after the previous
  /// token instead, where the missing piece belongs (like `(x + 1` then a new line).
  void errorHere(const std::string &expected, bool afterPrevious = true) {
    const Token &t = cur();
    if (t.kind == Tok::Error) {
      error(t, t.error);
      return;
    }
    std::string msg = expected + ", found " + describe(t);
    if (afterPrevious && pos_ > 0 && toks_[pos_ - 1].line != t.line) {
      const Token &p = toks_[pos_ - 1];
      if (!failed_)
        diags_.error(p.line, p.col + (unsigned)p.text.size(), msg);
      failed_ = true;
      return;
    }
    error(t, msg);
  }
  void error(const Token &t, const std::string &msg) {
    if (!failed_)
      diags_.error(t.line, t.col, msg);
    failed_ = true;
  }
  bool expect(Tok k, const std::string &expected) {
    if (accept(k))
      return true;
    errorHere(expected);
    return false;
  }

  /// Skips to the next `act` (always making progress when not already at one).
  void recover() {
    while (!at(Tok::Eof) && !at(Tok::KwAct))
      bump();
  }

  // ---- definitions -----------------------------------------------------------------
  void parseDefinition(ast::Definition &def) {
    const Token &actTok = bump(); // 'act'
    if (!at(Tok::Ident)) {
      errorHere("expected a definition name after 'act'");
      return;
    }
    const Token &nameTok = bump();
    def.name = std::string(nameTok.text);
    def.loc = locOf(nameTok);
    defName_ = def.name;

    if (!expect(Tok::LParen, "expected '(' after 'act " + def.name + "'"))
      return;
    if (at(Tok::Semi) || at(Tok::RParen)) {
      error(cur(), quoted(def.name) + " needs at least one input, e.g. act " + def.name +
                       "(x) = ...");
      return;
    }
    // Inputs.
    while (true) {
      if (!at(Tok::Ident)) {
        errorHere("expected an input name");
        return;
      }
      const Token &t = bump();
      def.inputs.push_back({std::string(t.text), locOf(t)});
      if (accept(Tok::Comma))
        continue;
      if (at(Tok::Semi) || at(Tok::RParen))
        break;
      errorHere("expected ',', ';' or ')' after input " + quoted(t.text));
      return;
    }
    // Parameters.
    if (accept(Tok::Semi)) {
      while (true) {
        ast::Param p;
        if (!parseParam(p))
          return;
        def.params.push_back(std::move(p));
        if (accept(Tok::Comma))
          continue;
        if (at(Tok::RParen))
          break;
        errorHere("expected ',' or ')' after parameter " + quoted(def.params.back().name));
        return;
      }
    }
    if (!expect(Tok::RParen, "expected ')' to end the parameters of " + quoted(def.name)))
      return;
    if (!expect(Tok::Assign, "expected '=' before the body of " + quoted(def.name)))
      return;
    Node body = parseExpr();
    if (!body)
      return;
    if (!at(Tok::Eof) && !at(Tok::KwAct)) {
      errorHere("expected the end of " + quoted(def.name) +
                    " or a new definition starting with 'act'",
                false);
      return;
    }
    def.body = std::move(body.e);
    const Token &last = toks_[pos_ - 1];
    size_t end = last.offset + last.text.size();
    def.text = std::string(src_.substr(actTok.offset, end - actTok.offset));
  }

  bool parseParam(ast::Param &p) {
    if (accept(Tok::KwConst))
      p.isConst = true;
    if (!at(Tok::Ident)) {
      errorHere(p.isConst ? "expected a parameter name after 'const'"
                          : "expected a parameter name");
      return false;
    }
    const Token &t = bump();
    p.name = std::string(t.text);
    p.loc = locOf(t);
    if (at(Tok::LBracket) && !parseShape(p))
      return false;
    if (accept(Tok::Assign))
      return parseInit(p);
    return true;
  }

  /// '[' (N)? (C)? (integer)? ']' with commas between, in that order, not empty.
  bool parseShape(ast::Param &p) {
    bump(); // '['
    const std::string help =
        "; a shape is [N], [C] or [N,C], optionally followed by a table length, "
        "e.g. [C,17]";
    int stage = 0; // 1 after N, 2 after C, 3 after the length
    if (at(Tok::RBracket)) {
      error(cur(), "empty shape for " + quoted(p.name) + help);
      return false;
    }
    while (true) {
      const Token &t = cur();
      if (t.kind == Tok::Ident && t.text == "N" && stage < 1) {
        p.shape.perSample = true;
        stage = 1;
      } else if (t.kind == Tok::Ident && t.text == "C" && stage < 2) {
        p.shape.perChannel = true;
        stage = 2;
      } else if (t.kind == Tok::Number && stage < 3) {
        if (!t.isInteger || t.number < 1) {
          error(t, "a table length must be a positive integer, found " + describe(t));
          return false;
        }
        if (t.number > (double)kMaxTableLen) {
          error(t, "table length " + std::string(t.text.substr(0, 40)) +
                       " is too large (at most " + std::to_string(kMaxTableLen) + ")");
          return false;
        }
        p.shape.tableLen = (long)t.number;
        stage = 3;
      } else if (t.kind == Tok::Error) {
        error(t, t.error);
        return false;
      } else {
        error(t, "unexpected " + describe(t) + " in the shape of " + quoted(p.name) + help);
        return false;
      }
      bump();
      if (accept(Tok::RBracket))
        return true;
      if (!at(Tok::Comma)) {
        errorHere("expected ',' or ']' in the shape of " + quoted(p.name));
        return false;
      }
      bump();
    }
  }

  /// ['-'] number, accepted at the current token; false after an error.
  bool parseSignedNumber(double &v, const std::string &what) {
    bool neg = accept(Tok::Minus);
    if (!at(Tok::Number)) {
      errorHere("expected a number as " + what);
      return false;
    }
    v = bump().number;
    if (neg)
      v = -v;
    return true;
  }

  bool parseInit(ast::Param &p) {
    const std::string what = "the initial value of " + quoted(p.name);
    if (!at(Tok::LBracket)) {
      double v;
      if (!parseSignedNumber(v, what))
        return false;
      p.init.push_back(v);
      return true;
    }
    const Token &open = bump();
    if (p.shape.tableLen == 0) {
      error(open, quoted(p.name) + " is not a table; give it one initial value, not a list");
      return false;
    }
    // After a ',' another value is required: `[1, ]` is an error.
    while (!p.init.empty() || !at(Tok::RBracket)) {
      double v;
      if (!parseSignedNumber(v, what))
        return false;
      // Bounded by the table length so a huge list cannot grow without limit.
      if ((long)p.init.size() >= p.shape.tableLen) {
        error(open, quoted(p.name) + " is a table of " + std::to_string(p.shape.tableLen) +
                        " values, but its initial list is longer");
        return false;
      }
      p.init.push_back(v);
      if (at(Tok::RBracket))
        break;
      if (!expect(Tok::Comma, "expected ',' or ']' in the initial values of " +
                                  quoted(p.name)))
        return false;
    }
    bump(); // ']'
    if ((long)p.init.size() != p.shape.tableLen) {
      error(open, quoted(p.name) + " is a table of " + std::to_string(p.shape.tableLen) +
                      " values, but its initial list has " + std::to_string(p.init.size()));
      return false;
    }
    return true;
  }

  // ---- expressions -------------------------------------------------------------------
  /// Counts parser recursion; every recursive cycle passes through parseUnary.
  struct DepthGuard {
    unsigned &depth;
    explicit DepthGuard(unsigned &d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };

  ast::ExprPtr makeNode(ast::Expr::Kind k, const Token &t) {
    return std::make_unique<ast::Expr>(k, locOf(t));
  }

  // Error reporters for the recursive expression functions live out of line, so that
  // their message strings do not enlarge every recursive stack frame.
  enum class ExprError { TooDeep, TooLarge, Chained, NoExpr, UnclosedParen, LetName,
                         LetAssign, LetIn, ArgSeparator, NamedSeparator };
  [[gnu::noinline]] void exprError(ExprError what, const Token *a = nullptr,
                                   const Token *b = nullptr) {
    auto pos = [](const Token &t) { return std::to_string(t.line) + ":" + std::to_string(t.col); };
    switch (what) {
    case ExprError::TooDeep:
      error(cur(), "expression nested too deeply (more than " + std::to_string(kMaxNesting) +
                       " levels)");
      break;
    case ExprError::TooLarge:
      error(*a, "expression too large (more than " + std::to_string(kMaxHeight) +
                    " levels of operators); split it with 'let'");
      break;
    case ExprError::Chained:
      error(cur(), "comparisons cannot be chained; select takes one comparison such as x > 0");
      break;
    case ExprError::NoExpr:
      errorHere("expected an expression");
      break;
    case ExprError::UnclosedParen:
      errorHere("expected ')' to match the '(' at " + pos(*a));
      break;
    case ExprError::LetName:
      errorHere("expected a name after 'let'");
      break;
    case ExprError::LetAssign:
      errorHere("expected '=' after 'let " + std::string(a->text) + "'");
      break;
    case ExprError::LetIn:
      errorHere("expected 'in' after the value of 'let " + std::string(a->text) + " = ...'");
      break;
    case ExprError::ArgSeparator:
    case ExprError::NamedSeparator:
      errorHere(std::string(what == ExprError::NamedSeparator ? "expected ',' or ')'"
                                                              : "expected ',', ';' or ')'") +
                " in the arguments of " + quoted(a->text) + " (opened at " + pos(*b) + ")");
      break;
    }
  }

  /// Builds `op(lhs, rhs)`, failing when the tree would grow too tall.
  Node binary(ast::Expr::Kind k, const Token &op, Node lhs, Node rhs) {
    unsigned h = 1 + std::max(lhs.h, rhs.h);
    if (h > kMaxHeight) {
      exprError(ExprError::TooLarge, &op);
      return {};
    }
    Node n{makeNode(k, op), h};
    n.e->args.reserve(2);
    n.e->args.push_back(std::move(lhs.e));
    n.e->args.push_back(std::move(rhs.e));
    return n;
  }

  Node parseExpr() {
    Node lhs = parseAdditive();
    if (!lhs)
      return {};
    ast::CmpKind kind;
    if (!cmpKind(cur().kind, kind))
      return lhs;
    const Token &op = bump();
    Node rhs = parseAdditive();
    if (!rhs)
      return {};
    ast::CmpKind next;
    if (cmpKind(cur().kind, next)) {
      exprError(ExprError::Chained);
      return {};
    }
    Node n = binary(ast::Expr::Kind::Cmp, op, std::move(lhs), std::move(rhs));
    if (n)
      n.e->cmp = kind;
    return n;
  }

  static bool cmpKind(Tok t, ast::CmpKind &k) {
    switch (t) {
    case Tok::Lt: k = ast::CmpKind::LT; return true;
    case Tok::Le: k = ast::CmpKind::LE; return true;
    case Tok::Gt: k = ast::CmpKind::GT; return true;
    case Tok::Ge: k = ast::CmpKind::GE; return true;
    case Tok::EqEq: k = ast::CmpKind::EQ; return true;
    case Tok::Ne: k = ast::CmpKind::NE; return true;
    default: return false;
    }
  }

  Node parseAdditive() {
    Node lhs = parseMultiplicative();
    while (lhs && (at(Tok::Plus) || at(Tok::Minus))) {
      const Token &op = bump();
      Node rhs = parseMultiplicative();
      if (!rhs)
        return {};
      lhs = binary(op.kind == Tok::Plus ? ast::Expr::Kind::Add : ast::Expr::Kind::Sub, op,
                   std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Node parseMultiplicative() {
    Node lhs = parseUnary();
    while (lhs && (at(Tok::Star) || at(Tok::Slash))) {
      const Token &op = bump();
      Node rhs = parseUnary();
      if (!rhs)
        return {};
      lhs = binary(op.kind == Tok::Star ? ast::Expr::Kind::Mul : ast::Expr::Kind::Div, op,
                   std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Node parseUnary() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxNesting) {
      exprError(ExprError::TooDeep);
      return {};
    }
    if (at(Tok::Minus)) {
      const Token &op = bump();
      Node operand = parseUnary();
      if (!operand)
        return {};
      Node n{makeNode(ast::Expr::Kind::Neg, op), operand.h + 1};
      n.e->args.push_back(std::move(operand.e));
      return n;
    }
    return parsePower();
  }

  Node parsePower() {
    Node base = parsePrimary();
    if (!base || !at(Tok::Caret))
      return base;
    const Token &op = bump();
    // The exponent is a unary, so x^-2 is x^(-(2)) and x^y^z is x^(y^z).
    Node exp = parseUnary();
    if (!exp)
      return {};
    return binary(ast::Expr::Kind::Pow, op, std::move(base), std::move(exp));
  }

  Node parsePrimary() {
    const Token &t = cur();
    switch (t.kind) {
    case Tok::Number: {
      bump();
      Node n{makeNode(ast::Expr::Kind::Number, t), 1};
      n.e->number = t.number;
      n.e->isInteger = t.isInteger;
      return n;
    }
    case Tok::Ident:
      if (peekTok(1).kind == Tok::LParen)
        return parseCall();
      else {
        bump();
        Node n{makeNode(ast::Expr::Kind::Var, t), 1};
        n.e->name = std::string(t.text);
        return n;
      }
    case Tok::LParen: {
      bump();
      Node inner = parseExpr();
      if (!inner)
        return {};
      if (!accept(Tok::RParen)) {
        exprError(ExprError::UnclosedParen, &t);
        return {};
      }
      return inner;
    }
    case Tok::KwLet:
      return parseLet();
    default:
      exprError(ExprError::NoExpr);
      return {};
    }
  }

  Node parseLet() {
    bump(); // 'let'
    if (!at(Tok::Ident)) {
      exprError(ExprError::LetName);
      return {};
    }
    const Token &nameTok = bump();
    if (!accept(Tok::Assign)) {
      exprError(ExprError::LetAssign, &nameTok);
      return {};
    }
    Node value = parseExpr();
    if (!value)
      return {};
    if (!accept(Tok::KwIn)) {
      exprError(ExprError::LetIn, &nameTok);
      return {};
    }
    Node body = parseExpr();
    if (!body)
      return {};
    unsigned h = 1 + std::max(value.h, body.h);
    if (h > kMaxHeight) {
      exprError(ExprError::TooLarge, &nameTok);
      return {};
    }
    Node n{makeNode(ast::Expr::Kind::Let, nameTok), h};
    n.e->name = std::string(nameTok.text);
    n.e->args.reserve(2);
    n.e->args.push_back(std::move(value.e));
    n.e->args.push_back(std::move(body.e));
    return n;
  }

  /// After an argument: ',' (another argument must follow), or the end of the list.
  /// Returns 1 to go on, 0 at the end, -1 after an error.
  int separator(bool afterSemi, const Token &nameTok, const Token &open) {
    if (accept(Tok::Comma))
      return 1;
    if (at(Tok::RParen) || (!afterSemi && at(Tok::Semi)))
      return 0;
    exprError(afterSemi ? ExprError::NamedSeparator : ExprError::ArgSeparator, &nameTok, &open);
    return -1;
  }

  /// Adds one argument's height to its call's; false (after an error) when too tall.
  bool grow(Node &call, unsigned h, const Token &nameTok) {
    call.h = std::max(call.h, h + 1);
    if (call.h <= kMaxHeight)
      return true;
    exprError(ExprError::TooLarge, &nameTok);
    return false;
  }

  /// NAME '(' [expr (',' expr)*] [';' item (',' item)*] ')' where an item is
  /// `NAME = expr` (named) or expr (trailing).
  Node parseCall() {
    const Token &nameTok = bump();
    const Token &open = bump(); // '('
    Node call{makeNode(ast::Expr::Kind::Call, nameTok), 1};
    call.e->name = std::string(nameTok.text);

    // Every pass consumes tokens or fails, so these loops terminate.
    if (!at(Tok::RParen) && !at(Tok::Semi)) {
      int more = 1;
      while (more == 1) {
        Node a = parseExpr();
        if (!a || !grow(call, a.h, nameTok))
          return {};
        call.e->args.push_back(std::move(a.e));
        if ((more = separator(false, nameTok, open)) < 0)
          return {};
      }
    }
    if (accept(Tok::Semi)) {
      call.e->hasSemicolon = true;
      int more = at(Tok::RParen) ? 0 : 1;
      while (more == 1) {
        const Token *argName = nullptr;
        if (at(Tok::Ident) && peekTok(1).kind == Tok::Assign) {
          argName = &bump();
          bump(); // '='
        }
        Node a = parseExpr();
        if (!a || !grow(call, a.h, nameTok))
          return {};
        if (argName)
          call.e->named.push_back({std::string(argName->text), locOf(*argName), std::move(a.e)});
        else
          call.e->trailing.push_back(std::move(a.e));
        if ((more = separator(true, nameTok, open)) < 0)
          return {};
      }
    }
    bump(); // ')'
    return call;
  }

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

} // namespace

void parseFile(std::string_view src, ast::File &file, DiagSink &diags,
               std::vector<std::string> &brokenNames) {
  Parser(src, file, diags, brokenNames).run();
}

} // namespace act::parse::detail

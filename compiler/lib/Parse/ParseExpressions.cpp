// act: the parser's expressions, by precedence from loosest: one comparison, + and -,
// * and /, unary minus, '^' (right-associative), then numbers, names, calls,
// parentheses and let. Nesting and tree height are bounded (see ParserImpl.h).
#include "ParserImpl.h"

#include <algorithm>
#include <string>

namespace act::parse::detail {

ast::ExprPtr Parser::makeNode(ast::Expr::Kind k, const Token &t) {
  return std::make_unique<ast::Expr>(k, locOf(t));
}

void Parser::exprError(ExprError what, const Token *a, const Token *b) {
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

Node Parser::binary(ast::Expr::Kind k, const Token &op, Node lhs, Node rhs) {
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

Node Parser::parseExpr() {
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

bool Parser::cmpKind(Tok t, ast::CmpKind &k) {
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

Node Parser::parseChain(Node (Parser::*operand)(), Tok first, ast::Expr::Kind firstKind,
                        Tok second, ast::Expr::Kind secondKind) {
  Node lhs = (this->*operand)();
  while (lhs && (at(first) || at(second))) {
    const Token &op = bump();
    Node rhs = (this->*operand)();
    if (!rhs)
      return {};
    lhs = binary(op.kind == first ? firstKind : secondKind, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

Node Parser::parseAdditive() {
  return parseChain(&Parser::parseMultiplicative, Tok::Plus, ast::Expr::Kind::Add, Tok::Minus,
                    ast::Expr::Kind::Sub);
}

Node Parser::parseMultiplicative() {
  return parseChain(&Parser::parseUnary, Tok::Star, ast::Expr::Kind::Mul, Tok::Slash,
                    ast::Expr::Kind::Div);
}

Node Parser::parseUnary() {
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

Node Parser::parsePower() {
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

Node Parser::parsePrimary() {
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

Node Parser::parseLet() {
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

int Parser::separator(bool afterSemi, const Token &nameTok, const Token &open) {
  if (accept(Tok::Comma))
    return 1;
  if (at(Tok::RParen) || (!afterSemi && at(Tok::Semi)))
    return 0;
  exprError(afterSemi ? ExprError::NamedSeparator : ExprError::ArgSeparator, &nameTok, &open);
  return -1;
}

bool Parser::grow(Node &call, unsigned h, const Token &nameTok) {
  call.h = std::max(call.h, h + 1);
  if (call.h <= kMaxHeight)
    return true;
  exprError(ExprError::TooLarge, &nameTok);
  return false;
}

Node Parser::parseCall() {
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

} // namespace act::parse::detail

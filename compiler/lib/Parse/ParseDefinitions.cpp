// act: the parser's top level: definitions, their inputs and parameters (shapes,
// initial values), error reporting, recovery at the next `act`, and parseFile.
// Expressions are in ParseExpressions.cpp; the class and the limits in ParserImpl.h.
#include "ParserImpl.h"

#include <string>

namespace act::parse::detail {

void Parser::run() {
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

// ---- errors and recovery ---------------------------------------------------------
void Parser::errorHere(const std::string &expected, bool afterPrevious) {
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

void Parser::error(const Token &t, const std::string &msg) {
  if (!failed_)
    diags_.error(t.line, t.col, msg);
  failed_ = true;
}

bool Parser::expect(Tok k, const std::string &expected) {
  if (accept(k))
    return true;
  errorHere(expected);
  return false;
}

void Parser::recover() {
  while (!at(Tok::Eof) && !at(Tok::KwAct))
    bump();
}

// ---- definitions -----------------------------------------------------------------
void Parser::parseDefinition(ast::Definition &def) {
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

bool Parser::parseParam(ast::Param &p) {
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

bool Parser::parseShape(ast::Param &p) {
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

bool Parser::parseSignedNumber(double &v, const std::string &what) {
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

bool Parser::parseInit(ast::Param &p) {
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

void parseFile(std::string_view src, ast::File &file, DiagSink &diags,
               std::vector<std::string> &brokenNames) {
  Parser(src, file, diags, brokenNames).run();
}

} // namespace act::parse::detail

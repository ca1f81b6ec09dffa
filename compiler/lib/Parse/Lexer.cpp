// act: the lexer, and the diagnostic sink shared by parser and Sema.
#include "Lexer.h"

#include <charconv>
#include <cstdio>
#include <system_error>

namespace act::parse::detail {
namespace {

bool isIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentChar(unsigned char c) { return isIdentStart(c) || (c >= '0' && c <= '9'); }
bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool isSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Bytes that can start some token or whitespace/comment; everything else is an error.
bool isKnownStart(unsigned char c) {
  if (isIdentStart(c) || isDigit(c) || isSpace(c))
    return true;
  switch (c) {
  case '#': case '.': case '+': case '-': case '*': case '/': case '^': case '(':
  case ')': case '[': case ']': case ',': case ';': case '=': case '<': case '>':
    return true;
  case '!': // only as part of "!="; handled where it is lexed
    return true;
  default:
    return false;
  }
}

std::string byteName(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) {
    std::string s = "'";
    s += (char)c;
    return s + "'";
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", (unsigned)c);
  return buf;
}

class Lexer {
public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    std::vector<Token> toks;
    while (true) {
      skipSpaceAndComments();
      if (pos_ >= src_.size())
        break;
      toks.push_back(next());
    }
    Token eof;
    eof.kind = Tok::Eof;
    eof.offset = src_.size();
    if (!toks.empty()) {
      // Just after the last token, on its line (a token never spans lines).
      const Token &last = toks.back();
      eof.line = last.line;
      eof.col = last.col + (unsigned)last.text.size();
    }
    toks.push_back(eof);
    return toks;
  }

private:
  unsigned char peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? (unsigned char)src_[pos_ + ahead] : 0;
  }
  bool atEnd(size_t ahead = 0) const { return pos_ + ahead >= src_.size(); }

  void advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  void skipSpaceAndComments() {
    while (!atEnd()) {
      unsigned char c = peek();
      if (isSpace(c)) {
        advance();
      } else if (c == '#') {
        // Any byte may appear in a comment, NUL and non-ASCII included.
        while (!atEnd() && peek() != '\n')
          advance();
      } else {
        return;
      }
    }
  }

  Token make(Tok kind, size_t start, unsigned line, unsigned col) {
    Token t;
    t.kind = kind;
    t.offset = start;
    t.line = line;
    t.col = col;
    t.text = src_.substr(start, pos_ - start);
    return t;
  }

  Token next() {
    size_t start = pos_;
    unsigned line = line_, col = col_;
    unsigned char c = peek();

    if (isIdentStart(c)) {
      while (!atEnd() && isIdentChar(peek()))
        advance();
      Token t = make(Tok::Ident, start, line, col);
      if (t.text == "act")
        t.kind = Tok::KwAct;
      else if (t.text == "let")
        t.kind = Tok::KwLet;
      else if (t.text == "in")
        t.kind = Tok::KwIn;
      else if (t.text == "const")
        t.kind = Tok::KwConst;
      return t;
    }
    if (isDigit(c) || (c == '.' && isDigit(peek(1))))
      return number(start, line, col);

    auto single = [&](Tok k) {
      advance();
      return make(k, start, line, col);
    };
    auto maybeEq = [&](Tok one, Tok two) {
      advance();
      if (!atEnd() && peek() == '=')
        advance();
      else
        return make(one, start, line, col);
      return make(two, start, line, col);
    };
    switch (c) {
    case '+': return single(Tok::Plus);
    case '-': return single(Tok::Minus);
    case '*': return single(Tok::Star);
    case '/': return single(Tok::Slash);
    case '^': return single(Tok::Caret);
    case '(': return single(Tok::LParen);
    case ')': return single(Tok::RParen);
    case '[': return single(Tok::LBracket);
    case ']': return single(Tok::RBracket);
    case ',': return single(Tok::Comma);
    case ';': return single(Tok::Semi);
    case '=': return maybeEq(Tok::Assign, Tok::EqEq);
    case '<': return maybeEq(Tok::Lt, Tok::Le);
    case '>': return maybeEq(Tok::Gt, Tok::Ge);
    case '!':
      if (peek(1) == '=' && !atEnd(1)) {
        advance();
        advance();
        return make(Tok::Ne, start, line, col);
      }
      advance();
      return errorTok(start, line, col, "unexpected character '!'; did you mean '!='?");
    default:
      break;
    }
    // A run of unknown bytes is one error, so a UTF-8 word gives one message.
    while (!atEnd() && !isKnownStart(peek()))
      advance();
    if (pos_ == start) // '.' not followed by a digit
      advance();
    std::string msg = "unexpected character " + byteName(c);
    if (c >= 0x80)
      msg += " (only ASCII is allowed outside comments)";
    return errorTok(start, line, col, msg);
  }

  Token errorTok(size_t start, unsigned line, unsigned col, std::string msg) {
    Token t = make(Tok::Error, start, line, col);
    t.error = std::move(msg);
    return t;
  }

  // digits ['.' digits*] [e [+-] digits] | '.' digits [e ...]
  Token number(size_t start, unsigned line, unsigned col) {
    bool integer = true;
    while (!atEnd() && isDigit(peek()))
      advance();
    if (!atEnd() && peek() == '.') {
      integer = false;
      advance();
      while (!atEnd() && isDigit(peek()))
        advance();
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      size_t digitsAt = 1;
      if (peek(1) == '+' || peek(1) == '-')
        digitsAt = 2;
      if (!atEnd(digitsAt) && isDigit(peek(digitsAt))) {
        integer = false;
        for (size_t i = 0; i < digitsAt; ++i)
          advance();
        while (!atEnd() && isDigit(peek()))
          advance();
      } else {
        // "2e" or "2e+": swallow the letter so the message covers it.
        for (size_t i = 0; i < digitsAt && !atEnd(); ++i)
          advance();
        return errorTok(start, line, col,
                        "malformed number '" + std::string(src_.substr(start, pos_ - start)) +
                            "': expected digits after the exponent");
      }
    }
    // A letter glued to a number ("2x") is almost certainly a missing '*'.
    if (!atEnd() && isIdentStart(peek())) {
      while (!atEnd() && isIdentChar(peek()))
        advance();
      std::string text(src_.substr(start, pos_ - start));
      return errorTok(start, line, col,
                      "malformed number '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) +
                          "'; write a '*' between a number and a name");
    }
    Token t = make(Tok::Number, start, line, col);
    t.isInteger = integer;
    // from_chars is locale-independent, unlike strtod.
    double v = 0;
    auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v,
                               std::chars_format::general);
    if (res.ec == std::errc::result_out_of_range) {
      // Underflow to 0 is harmless; overflow to infinity is not a usable constant.
      bool tiny = false;
      for (size_t i = 0; i < t.text.size(); ++i)
        if ((t.text[i] == 'e' || t.text[i] == 'E') && i + 1 < t.text.size() &&
            t.text[i + 1] == '-')
          tiny = true;
      if (!tiny) {
        std::string text(t.text.substr(0, 40));
        return errorTok(start, line, col, "number '" + text + "' is too large");
      }
      v = 0.0;
    } else if (res.ec != std::errc() || res.ptr != t.text.data() + t.text.size()) {
      return errorTok(start, line, col, "malformed number");
    }
    t.number = v;
    return t;
  }

  std::string_view src_;
  size_t pos_ = 0;
  unsigned line_ = 1;
  unsigned col_ = 1;
};

} // namespace

std::vector<Token> lex(std::string_view src) { return Lexer(src).run(); }

std::string quoted(std::string_view name) {
  if (name.size() > 40)
    return "'" + std::string(name.substr(0, 40)) + "...'";
  return "'" + std::string(name) + "'";
}

std::string describe(const Token &tok) {
  switch (tok.kind) {
  case Tok::Eof:
    return "end of file";
  case Tok::Error:
    return tok.error;
  case Tok::Ident:
    return quoted(tok.text);
  case Tok::Number:
    return "number " + quoted(tok.text);
  case Tok::KwAct:
  case Tok::KwLet:
  case Tok::KwIn:
  case Tok::KwConst:
    return "keyword " + quoted(tok.text);
  default:
    return quoted(tok.text);
  }
}

DiagSink::DiagSink(std::string_view source, const std::string &filename,
                   std::vector<Diagnostic> &out)
    : source_(source), filename_(filename), out_(out) {
  lineStarts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n')
      lineStarts_.push_back(i + 1);
}

std::string DiagSink::lineText(unsigned line) const {
  if (line == 0 || line > lineStarts_.size())
    return "";
  size_t b = lineStarts_[line - 1];
  size_t e = b;
  while (e < source_.size() && source_[e] != '\n' && source_[e] != '\r')
    ++e;
  std::string s(source_.substr(b, e - b));
  // Control bytes could garble a terminal; one byte for one keeps the caret aligned.
  for (char &c : s) {
    unsigned char u = (unsigned char)c;
    if ((u < 0x20 && u != '\t') || u == 0x7f)
      c = '?';
  }
  return s;
}

void DiagSink::error(unsigned line, unsigned col, const std::string &message) {
  if (full())
    return;
  Diagnostic d;
  d.severity = Diagnostic::Severity::Error;
  d.file = filename_;
  d.line = line ? line : 1;
  d.column = col ? col : 1;
  d.message = message;
  d.sourceLine = lineText(d.line);
  out_.push_back(std::move(d));
  if (++errors_ == kMaxErrors) {
    Diagnostic stop;
    stop.severity = Diagnostic::Severity::Note;
    stop.file = filename_;
    stop.message = "too many errors; stopping here";
    out_.push_back(std::move(stop));
  }
}

} // namespace act::parse::detail

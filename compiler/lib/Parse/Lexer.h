// act: internals shared by the front end's lexer, parser and Sema. Not installed;
// the public entry point is act/Parse/Parser.h.
#pragma once

#include "act/Diagnostic.h"
#include "act/Parse/AST.h"

#include <string>
#include <string_view>
#include <vector>

namespace act::parse::detail {

enum class Tok {
  Eof,
  Error, ///< bytes the language does not know; `Token::error` says why
  Ident,
  Number,
  KwAct,
  KwLet,
  KwIn,
  KwConst,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semi,
  Assign,
  Plus,
  Minus,
  Star,
  Slash,
  Caret,
  Lt,
  Le,
  Gt,
  Ge,
  EqEq,
  Ne,
};

struct Token {
  Tok kind = Tok::Eof;
  std::string_view text; ///< the token's bytes in the source passed to lex()
  size_t offset = 0;     ///< byte offset of the first byte
  unsigned line = 1;     ///< 1-based
  unsigned col = 1;      ///< 1-based, in bytes (a tab is one column)
  double number = 0.0;   ///< Number
  bool isInteger = false; ///< Number written with digits only
  std::string error;     ///< Error (and malformed numbers): the message
};

/// Splits `src` into tokens. Always ends with exactly one Eof token, placed just after
/// the last real token so that "found end of file" points at a visible line. Never
/// fails: unknown bytes (NUL, non-ASCII, '@', ...) become Error tokens.
std::vector<Token> lex(std::string_view src);

/// "'foo'", "number '1.5'", "keyword 'in'", "end of file": for "expected X, found Y".
std::string describe(const Token &tok);

/// Collects diagnostics with positions and source lines, and stops collecting after
/// a cap so that pathological inputs cannot produce unbounded output.
class DiagSink {
public:
  static constexpr size_t kMaxErrors = 50;

  DiagSink(std::string_view source, const std::string &filename,
           std::vector<Diagnostic> &out);

  void error(unsigned line, unsigned col, const std::string &message);
  void error(const ast::Loc &loc, const std::string &message) {
    error(loc.line, loc.col, message);
  }
  /// True once the cap was hit: callers should stop looking for more errors.
  bool full() const { return errors_ >= kMaxErrors; }
  size_t errors() const { return errors_; }

private:
  std::string lineText(unsigned line) const;

  std::string_view source_;
  std::string filename_;
  std::vector<Diagnostic> &out_;
  std::vector<size_t> lineStarts_;
  size_t errors_ = 0;
};

/// Parses `src` into `file` (whose name must already be set). Definitions with syntax
/// errors are left out of `file.defs`; their names (when the name itself parsed) go to
/// `brokenNames` so that Sema does not report calls to them as unknown.
void parseFile(std::string_view src, ast::File &file, DiagSink &diags,
               std::vector<std::string> &brokenNames);

/// Sema: checks the parsed definitions, appending errors to `diags`.
void check(const ast::File &file, const std::vector<std::string> &brokenNames,
           DiagSink &diags);

/// Quote a user-written name for a message, shortening absurdly long ones.
std::string quoted(std::string_view name);

} // namespace act::parse::detail

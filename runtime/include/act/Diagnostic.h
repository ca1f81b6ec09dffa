// act: structured compile diagnostics. Header-only and free of MLIR/LLVM types so
// that the front end, the compiler and embedding applications share one definition.
#pragma once

#include <string>
#include <vector>

namespace act {

/// One message about a source file, with a 1-based position.
struct Diagnostic {
  enum class Severity { Error, Warning, Note };

  Severity severity = Severity::Error;
  std::string file;      ///< file name as given by the caller ("<input>" for text)
  unsigned line = 0;     ///< 1-based; 0 when the message has no position
  unsigned column = 0;   ///< 1-based
  std::string message;   ///< one line, no trailing period
  std::string sourceLine; ///< the text of `line`, for the caret display

  /// "file:line:col: error: message\n<source line>\n    ^" (caret line only when a
  /// position and source line are known).
  std::string str() const {
    std::string out = file;
    if (line) {
      out += ":" + std::to_string(line) + ":" + std::to_string(column);
    }
    out += ": ";
    out += severity == Severity::Error     ? "error: "
           : severity == Severity::Warning ? "warning: "
                                           : "note: ";
    out += message;
    if (line && !sourceLine.empty()) {
      out += "\n" + sourceLine + "\n";
      // Keep tabs so the caret lines up under tab-indented text.
      for (unsigned i = 1; i < column && i <= sourceLine.size(); ++i)
        out += sourceLine[i - 1] == '\t' ? '\t' : ' ';
      out += "^";
    }
    return out;
  }
};

/// All diagnostics, one after another, each ending with a newline.
inline std::string formatDiagnostics(const std::vector<Diagnostic> &diags) {
  std::string out;
  for (const Diagnostic &d : diags)
    out += d.str() + "\n";
  return out;
}

} // namespace act

// act: lexer, parser and semantic checks for .act source text.
#pragma once

#include "act/Diagnostic.h"
#include "act/Parse/AST.h"

#include <string>
#include <string_view>
#include <vector>

namespace act::parse {

/// Parses `source` (named `filename` in diagnostics) and checks it (names, arities,
/// shapes, composition arguments). Never throws, crashes or hangs on any input.
/// Appends every error found (recovering at the next `act` keyword) to `diags`; the
/// returned File is safe to hand to MLIRGen only when no error was added.
ast::File parseAndCheck(std::string_view source, const std::string &filename,
                        std::vector<Diagnostic> &diags);

/// The closest of `candidates` to `name` by edit distance, or "" when none is close.
std::string closestMatch(const std::string &name,
                         const std::vector<std::string> &candidates);

} // namespace act::parse

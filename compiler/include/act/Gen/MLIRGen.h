// act: AST -> act dialect.
#pragma once

#include "act/Diagnostic.h"
#include "act/Parse/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <vector>

namespace act {

/// Emits one `act.activation` per definition of a checked file (calls to earlier
/// definitions are inlined), with FileLineColLoc locations, and verifies the module.
/// Returns null and appends to `diags` on failure.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const ast::File &file,
                                          std::vector<Diagnostic> &diags);

} // namespace act

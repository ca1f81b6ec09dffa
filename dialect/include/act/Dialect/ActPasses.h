// act: passes over the act dialect (declared in ActPasses.td).
#pragma once

#include "act/Dialect/ActOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

namespace act {

#define GEN_PASS_DECL
#include "act/Dialect/ActPasses.h.inc"

/// The patterns behind `act-expand`, for reuse in larger pipelines.
void populateActExpandPatterns(mlir::RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "act/Dialect/ActPasses.h.inc"

} // namespace act

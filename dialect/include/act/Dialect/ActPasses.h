// act: passes over the act dialect (declared in ActPasses.td).
#pragma once

#include "act/Dialect/ActOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include "llvm/ADT/SetVector.h"

namespace act {

#define GEN_PASS_DECL
#include "act/Dialect/ActPasses.h.inc"

/// The patterns behind `act-expand`, for reuse in larger pipelines.
void populateActExpandPatterns(mlir::RewritePatternSet &patterns,
                               bool singlePrecision = false);
/// The patterns behind `act-stabilize`; each inserts its name into `fired` when it
/// rewrites (the set must outlive the patterns).
void populateActStabilizePatterns(mlir::RewritePatternSet &patterns,
                                  llvm::SmallSetVector<llvm::StringRef, 8> &fired);
/// Applies the act-stabilize patterns to one activation's body and adds the names
/// of the rewrites that fired to its `act.stabilized` attribute.
mlir::LogicalResult stabilizeActivation(ActivationOp act);

#define GEN_PASS_REGISTRATION
#include "act/Dialect/ActPasses.h.inc"

} // namespace act

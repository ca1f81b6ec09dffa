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

/// Whether act-params-to-inputs moves a parameter varying along N (`perSample`)
/// and C (`perChannel`) for tensors whose extent is 1 along the unit dimensions:
/// learnable, not a table, and with one value per element (each dimension it does
/// not vary along is a unit one, and so is S, which none varies along).
inline bool movesToInput(bool isConst, int64_t tableLength, bool perSample, bool perChannel,
                         bool unitN, bool unitC, bool unitS) {
  return !isConst && tableLength == 0 && unitS && (perSample || unitN) && (perChannel || unitC);
}
/// The learnable parameters of `act` (not tables) with a value per element of
/// tensors of extent 1 along `unitDims` (letters of "NCS"), in order.
llvm::SmallVector<unsigned> elementwiseParams(ActivationOp act, llvm::StringRef unitDims);
/// Turns parameters `params` of `act` (learnable, not tables, in increasing order)
/// into inputs after its own, in that order (act-params-to-inputs).
void moveParamsToInputs(ActivationOp act, llvm::ArrayRef<unsigned> params);

#define GEN_PASS_REGISTRATION
#include "act/Dialect/ActPasses.h.inc"

} // namespace act

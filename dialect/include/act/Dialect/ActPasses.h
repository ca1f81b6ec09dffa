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

/// Whether a parameter varying along N (`perSample`) and C (`perChannel`) has one
/// value per element of tensors whose extent is 1 along the unit dimensions: each
/// dimension it does not vary along is one of them (and S, which none varies along).
inline bool hasValuePerElement(bool perSample, bool perChannel, bool unitN, bool unitC,
                               bool unitS) {
  return unitS && (perSample || unitN) && (perChannel || unitC);
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

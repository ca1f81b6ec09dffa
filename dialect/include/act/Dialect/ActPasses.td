//===- ActPasses.td - passes over the act dialect ------------------------===//

#ifndef ACT_PASSES_TD
#define ACT_PASSES_TD

include "mlir/Pass/PassBase.td"

def ActExpand : Pass<"act-expand", "mlir::ModuleOp"> {
  let summary = "Expand act primitives into arith/math/memref in stable forms";
  let description = [{
    Rewrites every act primitive inside `act.activation` bodies into `arith`, `math`
    and (for `act.pwl`) `memref.load` ops, choosing forms that do not overflow:
    `sigmoid` from `exp(-|x|)`, `softplus` as `max(x,0) + log1p(exp(-|x|))`,
    `smooth_max`/`logsumexp` with the maximum subtracted. After this pass a body
    contains only ops every target can lower.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect"];
}

#endif // ACT_PASSES_TD

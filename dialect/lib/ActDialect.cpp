// act: dialect registration and constant materialisation.
#include "act/Dialect/ActDialect.h"
#include "act/Dialect/ActOps.h"

using namespace mlir;

#include "act/Dialect/ActDialect.cpp.inc"

void act::ActDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "act/Dialect/ActOps.cpp.inc"
      >();
}

// Folded scalar bodies are plain arith constants; no act.constant op is needed.
Operation *act::ActDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                                Type type, Location loc) {
  if (auto floatAttr = dyn_cast<FloatAttr>(value))
    return builder.create<arith::ConstantOp>(loc, type, floatAttr);
  return nullptr;
}

namespace {
/// v * sigmoid(g) (either operand order) -> act.gate(v, g): gating is one op, so its
/// derivative and its stable expansion apply to every spelling of Swish-like units.
struct MulSigmoidToGate : OpRewritePattern<arith::MulFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::MulFOp mul,
                                PatternRewriter &rewriter) const override {
    for (unsigned i = 0; i < 2; ++i) {
      auto sig = mul->getOperand(i).getDefiningOp<act::SigmoidOp>();
      if (!sig)
        continue;
      rewriter.replaceOpWithNewOp<act::GateOp>(mul, mul->getOperand(1 - i),
                                               sig.getInput());
      return success();
    }
    return failure();
  }
};
/// tanh(softplus(z)) -> act.tanh_softplus(z) (Mish's gate): one exp and one division
/// instead of exp, log1p and tanh, with a derivative as cheap.
struct TanhOfSoftplus : OpRewritePattern<math::TanhOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::TanhOp tanh, PatternRewriter &rewriter) const override {
    auto sp = tanh.getOperand().getDefiningOp<act::SoftplusOp>();
    if (!sp)
      return failure();
    rewriter.replaceOpWithNewOp<act::TanhSoftplusOp>(tanh, sp.getInput());
    return success();
  }
};
} // namespace

void act::ActDialect::getCanonicalizationPatterns(RewritePatternSet &results) const {
  results.add<MulSigmoidToGate, TanhOfSoftplus>(getContext());
}

#include "act/Dialect/ActInterfaces.cpp.inc"

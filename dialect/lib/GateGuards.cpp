// act: what ScalarBuilder::gateMul may assume about its factors, so that the
// inf * 0 rule of a gate costs one compare or none instead of two (ScalarBuilder.h).
#include "act/Dialect/ScalarBuilder.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

namespace act {

bool ScalarBuilder::nanFollows(mlir::Value g, mlir::Value v, int depth) {
  if (g == v)
    return true;
  mlir::Operation *op = g.getDefiningOp();
  if (depth == 0 || !op ||
      !mlir::isa<mlir::arith::AddFOp, mlir::arith::SubFOp, mlir::arith::MulFOp,
                 mlir::arith::DivFOp, mlir::arith::NegFOp>(op))
    return false;
  return llvm::any_of(op->getOperands(),
                      [&](mlir::Value x) { return nanFollows(x, v, depth - 1); });
}

mlir::Value ScalarBuilder::nanBase(mlir::Value v, int depth) {
  mlir::Operation *op = v.getDefiningOp();
  if (!op || depth == 0)
    return v;
  auto finiteConstant = [](mlir::Value x, bool nonzero) {
    mlir::FloatAttr f;
    return mlir::matchPattern(x, mlir::m_Constant(&f)) &&
           std::isfinite(f.getValueAsDouble()) && (!nonzero || f.getValueAsDouble() != 0);
  };
  if (auto neg = mlir::dyn_cast<mlir::arith::NegFOp>(op))
    return nanBase(neg.getOperand(), depth - 1);
  if (mlir::isa<mlir::arith::AddFOp, mlir::arith::SubFOp, mlir::arith::MulFOp>(op)) {
    bool isMul = mlir::isa<mlir::arith::MulFOp>(op);
    for (unsigned i = 0; i < 2; ++i)
      if (finiteConstant(op->getOperand(i), isMul))
        return nanBase(op->getOperand(1 - i), depth - 1);
    return v;
  }
  if (auto sel = mlir::dyn_cast<mlir::arith::SelectOp>(op)) { // a guard: 0 or w
    if (finiteConstant(sel.getTrueValue(), false))
      return nanBase(sel.getFalseValue(), depth - 1);
    if (finiteConstant(sel.getFalseValue(), false))
      return nanBase(sel.getTrueValue(), depth - 1);
    return v;
  }
  if (auto gate = mlir::dyn_cast<GateOp>(op)) {
    mlir::Value b = nanBase(gate.getValue(), depth - 1);
    return nanBase(gate.getGate(), depth - 1) == b ? b : v;
  }
  return v;
}

bool ScalarBuilder::inUnitInterval(mlir::Value x, int depth) {
  mlir::Operation *op = x.getDefiningOp();
  if (!op || depth == 0)
    return false;
  if (mlir::isa<SigmoidOp>(op))
    return true;
  if (auto gate = mlir::dyn_cast<GateOp>(op))
    return inUnitInterval(gate.getValue(), depth - 1);
  if (auto mul = mlir::dyn_cast<mlir::arith::MulFOp>(op))
    return inUnitInterval(mul.getLhs(), depth - 1) && inUnitInterval(mul.getRhs(), depth - 1);
  return false;
}

bool ScalarBuilder::unitAndNanFollows(mlir::Value s, mlir::Value v, int depth) {
  mlir::Operation *op = s.getDefiningOp();
  if (!op || depth == 0 || !inUnitInterval(s))
    return false;
  if (auto sig = mlir::dyn_cast<SigmoidOp>(op))
    return nanFollows(sig.getInput(), v);
  if (auto gate = mlir::dyn_cast<GateOp>(op))
    return nanFollows(gate.getGate(), v) || unitAndNanFollows(gate.getValue(), v, depth - 1);
  auto mul = mlir::cast<mlir::arith::MulFOp>(op);
  return unitAndNanFollows(mul.getLhs(), v, depth - 1) ||
         unitAndNanFollows(mul.getRhs(), v, depth - 1);
}

bool ScalarBuilder::isSaturatedProduct(mlir::Value s, mlir::Value v) {
  auto sel = s.getDefiningOp<mlir::arith::SelectOp>();
  auto nonzero = sel ? sel.getCondition().getDefiningOp<mlir::arith::CmpFOp>() : nullptr;
  auto mul = sel ? sel.getTrueValue().getDefiningOp<mlir::arith::MulFOp>() : nullptr;
  mlir::FloatAttr zero;
  if (!nonzero || !mul || nonzero.getPredicate() != mlir::arith::CmpFPredicate::UNE ||
      !mlir::matchPattern(sel.getFalseValue(), mlir::m_Constant(&zero)) ||
      !zero.getValue().isZero())
    return false;
  mlir::Value u = nonzero.getLhs();
  bool isVU = (mul.getLhs() == v && mul.getRhs() == u) || (mul.getLhs() == u && mul.getRhs() == v);
  return isVU && unitAndNanFollows(u, v);
}

} // namespace act

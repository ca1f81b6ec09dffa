// act-autodiff: reverse-mode differentiation of scalar bodies.
//
// The derivative body is the forward body followed by the adjoint computation, so
// CSE shares every forward value the derivatives use.
#include "act/Dialect/ActPasses.h"
#include "act/Dialect/ScalarBuilder.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include "llvm/ADT/MapVector.h"

using namespace mlir;
using namespace act;

namespace act {
#define GEN_PASS_DEF_ACTAUTODIFF
#include "act/Dialect/ActPasses.h.inc"
} // namespace act

namespace {

/// Gradient contributions to a table parameter: (knot index, weight) pairs.
using TablePairs = llvm::MapVector<Value, SmallVector<std::pair<Value, Value>>>;

class ReverseMode {
public:
  ReverseMode(Block &body, Operation *yield, bool guard)
      : body(body), builder(yield), guard(guard) {}

  /// Adjoints of every value `target` depends on, built before the terminator.
  /// Table contributions go to `tables` when given.
  LogicalResult run(Value target, TablePairs *tables) {
    adjoints.clear();
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    ScalarBuilder a{builder, target.getLoc(), target.getType()};
    adjoints[target] = a.c(1);
    for (Operation *op : llvm::reverse(ops)) {
      if (op->getNumResults() != 1)
        continue;
      auto it = adjoints.find(op->getResult(0));
      if (it == adjoints.end())
        continue;
      Value g = it->second;
      if (auto pwl = dyn_cast<PwlOp>(op)) {
        pwlAdjoint(pwl, g, tables);
        continue;
      }
      auto rule = dyn_cast<DifferentiableOpInterface>(op);
      if (!rule) {
        if (llvm::none_of(op->getOperandTypes(), [](Type t) { return isa<FloatType>(t); }))
          continue; // constants and table loads: nothing to propagate
        return op->emitOpError("has no derivative rule; act-autodiff cannot "
                               "differentiate through it");
      }
      SmallVector<Value> partials;
      if (failed(rule.buildPartials(builder, partials)))
        return failure();
      for (auto [operand, partial] : llvm::zip(op->getOperands(), partials))
        if (partial && isa<FloatType>(operand.getType()))
          accumulate(operand, chain(g, partial, op->getLoc()));
    }
    return success();
  }

  /// The adjoint of `v`, or 0 when the target does not depend on it.
  Value adjoint(Value v, Type type, Location loc) {
    if (Value g = adjoints.lookup(v))
      return g;
    ScalarBuilder a{builder, loc, type};
    return a.c(0);
  }
  OpBuilder &getBuilder() { return builder; }

private:
  Block &body;
  OpBuilder builder;
  bool guard;
  DenseMap<Value, Value> adjoints;

  /// g * partial, but exactly 0 when g is 0: a branch masked off upstream contributes
  /// nothing even where its own partial is inf or NaN (no NaN leaks).
  Value chain(Value g, Value partial, Location loc) {
    if (matchPattern(g, m_OneFloat()))
      return partial;
    if (!guard)
      return builder.create<arith::MulFOp>(loc, g, partial);
    return builder.create<SafeMulOp>(loc, g, partial);
  }

  void accumulate(Value v, Value contribution) {
    Value &slot = adjoints[v];
    if (!slot) {
      slot = contribution;
      return;
    }
    ScalarBuilder a{builder, contribution.getLoc(), v.getType()};
    slot = a.add(slot, contribution);
  }

  // pwl, with s = PwlSegment, dy = y[hi] - y[lo], W = br - bl:
  //   inside: dr/dx = dy / d, dr/dbl = dy (t - n) / W, dr/dbr = -dy t / W,
  //           dr/dy[lo] = 1 - frac, dr/dy[hi] = frac
  //   left:   dr/dx = kl, dr/dbl = -kl, dr/dkl = x - bl, dr/dy[0] = 1
  //   right:  dr/dx = kr, dr/dbr = -kr, dr/dkr = x - br, dr/dy[n] = 1
  void pwlAdjoint(PwlOp op, Value g, TablePairs *tables) {
    ScalarBuilder a{builder, op.getLoc(), op.getType()};
    Value x = op.getInput(), table = op.getTable();
    Value bl = op.getLeft(), br = op.getRight(), kl = op.getLeftSlope(),
          kr = op.getRightSlope();
    PwlSegment s = PwlSegment::build(a, x, table, bl, br);
    Value dy = a.sub(s.load(a, table, s.hi), s.load(a, table, s.lo));
    // Divisions by the constants d and W become products with their reciprocals,
    // computed once per channel (a per-element division costs as much as several
    // vector products); the partials move by an ulp at most.
    Value invD = s.invD, invW = a.div(a.c(1), a.sub(br, bl));
    auto region = [&](Value left, Value right, Value inside) {
      return a.select(s.isLeft, left, a.select(s.isRight, right, inside));
    };
    Value zero = a.c(0);
    accumulate(x, chain(g, region(kl, kr, a.mul(dy, invD)), op.getLoc()));
    // dy / W is shared by both knots' partials: two products a vector fewer.
    Value dyOverW = a.mul(dy, invW);
    accumulate(bl, chain(g, region(a.neg(kl), zero, a.mul(dyOverW, a.sub(s.t, a.c(double(s.n))))),
                         op.getLoc()));
    accumulate(br, chain(g, region(zero, a.neg(kr), a.neg(a.mul(dyOverW, s.t))), op.getLoc()));
    accumulate(kl, chain(g, a.select(s.isLeft, a.sub(x, bl), zero), op.getLoc()));
    accumulate(kr, chain(g, a.select(s.isRight, a.sub(x, br), zero), op.getLoc()));
    if (!tables)
      return;
    // The pairs are always (lo, hi = lo + 1): left of bl lo is 0, right of br hi
    // is n (the segment index clamps), so the weights alone pick y[0] or y[n] and
    // a kernel can test one index against each entry for both pairs.
    Value frac = s.frac;
    Value wFirst = region(a.c(1), zero, a.sub(a.c(1), frac));
    Value wSecond = region(zero, a.c(1), frac);
    auto &pairs = (*tables)[table];
    pairs.emplace_back(s.lo, chain(g, wFirst, op.getLoc()));
    pairs.emplace_back(s.hi, chain(g, wSecond, op.getLoc()));
  }
};

struct ActAutodiffPass : act::impl::ActAutodiffBase<ActAutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<ActivationOp> acts;
    for (ActivationOp act : getOperation().getOps<ActivationOp>())
      if (!act->hasAttr("act.grad_of"))
        acts.push_back(act);
    for (ActivationOp act : acts)
      if (failed(differentiate(act)))
        return signalPassFailure();
  }

  LogicalResult differentiate(ActivationOp act) {
    if (order < 1)
      return act.emitOpError("act-autodiff needs order >= 1");
    OpBuilder top(act);
    top.setInsertionPointAfter(act);
    auto grad = cast<ActivationOp>(top.clone(*act.getOperation()));
    std::string suffix = order == 1 ? "__grad" : "__grad" + std::to_string(order);
    grad.setSymName((act.getSymName() + suffix).str());
    grad->setAttr("act.grad_of", top.getStringAttr(act.getSymName()));
    grad->setAttr("act.grad_order", top.getI64IntegerAttr(order));

    Block &body = grad.getBodyBlock();
    auto yield = cast<YieldOp>(body.getTerminator());
    Value f = yield.getResults().front();
    ReverseMode rm(body, yield, guardZeroAdjoints);
    SmallVector<Value> results{f};

    if (order > 1) {
      Value target = f, x = body.getArgument(0);
      for (unsigned k = 0; k < order; ++k) {
        if (failed(rm.run(target, nullptr)))
          return failure();
        target = rm.adjoint(x, f.getType(), grad.getLoc());
        results.push_back(target);
      }
    } else {
      TablePairs tables;
      if (failed(rm.run(f, &tables)))
        return failure();
      for (unsigned i = 0; i < act.getNumInputs(); ++i)
        results.push_back(rm.adjoint(body.getArgument(i), f.getType(), grad.getLoc()));
      SmallVector<int64_t> pairCounts;
      for (unsigned p = 0; p < act.getNumParams(); ++p) {
        if (act.getParamConst()[p])
          continue;
        Value arg = body.getArgument(act.getNumInputs() + p);
        if (!act.getTableLength(p)) {
          results.push_back(rm.adjoint(arg, f.getType(), grad.getLoc()));
          pairCounts.push_back(0);
          continue;
        }
        auto &pairs = tables[arg];
        for (auto [idx, weight] : pairs)
          results.append({idx, weight});
        pairCounts.push_back((int64_t)pairs.size());
      }
      grad->setAttr("act.table_pairs", top.getDenseI64ArrayAttr(pairCounts));
    }
    OpBuilder b(yield);
    b.create<YieldOp>(yield.getLoc(), results);
    yield.erase();
    // The adjoint sums can form fragile spellings of their own (cos(x) - x gives
    // -sin(x) - 1): the act-stabilize rewrites apply to derivative bodies too.
    return stabilizeActivation(grad);
  }
};

} // namespace

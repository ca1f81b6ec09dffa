// act-expand: rewrite act primitives into arith/math/memref in stable forms.
//
// Each pattern writes one primitive as the formula in its comment. Patterns may emit
// other act ops (gate -> sigmoid); the greedy driver expands those in turn.
#include "act/Dialect/ActPasses.h"
#include "act/Dialect/ScalarBuilder.h"
#include "act/Dialect/StableMath.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;
using namespace act;

namespace act {
#define GEN_PASS_DEF_ACTEXPAND
#include "act/Dialect/ActPasses.h.inc"
} // namespace act

namespace {
using P = arith::CmpFPredicate;

using Arith = ScalarBuilder;

template <typename OpT>
using ExpandPattern = RulePattern<OpT>;

/// smooth_max(a1..an; beta) = sum(ai wi) / sum(wi), wi = exp(beta ai - max_j beta aj).
/// For n = 2 the same value is (a1 - a2) sigmoid(beta (a1 - a2)) + a2.
Value smoothMax(ValueRange in, Value beta, Arith &a) {
  if (in.size() == 2) {
    Value d = a.sub(in[0], in[1]);
    return a.add(a.gateMul(d, a.sigmoid(a.mul(beta, d))), in[1]);
  }
  auto [z, m] = a.scaledWithMax(in, beta);
  Value num = a.c(0), den = a.c(0);
  for (auto [v, zi] : llvm::zip(in, z)) {
    Value w = a.exp(a.sub(zi, m));
    num = a.add(num, a.mul(v, w));
    den = a.add(den, w);
  }
  return a.div(num, den);
}

/// sigmoid(z) and sigmoid(-z) for float kernels, from one exp and one divisor:
/// with w = min(-z, 104), c = 2^-64 where w > 0 (else 1), E = e^w c and
/// d = c + E = c (1 + e^-z): sigmoid(z) = c / d and sigmoid(-z) = E / d. The
/// scaling keeps e^104 finite where w > 0 (act-approximate-math folds it into the
/// exponent), so sigmoid rounds once into the subnormals and sigmoid(-z) reaches 1;
/// where w <= 0 it is 1, so sigmoid(-z) keeps its precision down to e^-87. Beyond
/// w = 104 sigmoid(z) is 0 in float. Both are products with r = 1/d (c r is c/d
/// exactly, c being a power of two, above the subnormals), so a kernel that needs both
/// signs divides once, and forward and fused kernels compute y the same way.
struct FloatSigmoid {
  Value positive, negative;
};
FloatSigmoid floatSigmoid(Arith &a, Value z, bool bothSigns) {
  Value w = a.neg(z);
  w = a.select(a.cmp(P::OGT, w, a.c(104)), a.c(104), w); // NaN stays NaN
  // Where only sigmoid(z) is wanted c = 2^-64 throughout: c r is then bitwise the
  // same as with c = 1 for w <= 0 (c + E and r scale exactly by 2^-64; where E
  // would be subnormal it is below 2^-24 of c), one compare and select fewer.
  Value scale = bothSigns ? a.select(a.cmp(P::OGT, w, a.c(0)), a.c(0x1p-64), a.c(1))
                          : a.c(0x1p-64);
  Value e = a.mul(a.exp(w), scale);
  Value r = a.div(a.c(1), a.add(scale, e));
  return {a.mul(scale, r), a.mul(e, r)};
}

/// p x - q x = (p - q) x for parameters p and q (ACON's p1 x - p2 x, which is how
/// smooth_max(p1 x, p2 x) and its derivative start): one rounding where the
/// difference of the products would cancel, a finite value at x = inf where
/// p2 x - ... was inf - inf or 0 inf, and in the kernels p - q is computed once per
/// row (one multiply a vector instead of two and a subtraction).
struct FactorParameterDifference : OpRewritePattern<arith::SubFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::SubFOp op, PatternRewriter &rewriter) const override {
    auto lhs = op.getLhs().getDefiningOp<arith::MulFOp>();
    auto rhs = op.getRhs().getDefiningOp<arith::MulFOp>();
    auto act = op->getParentOfType<ActivationOp>();
    if (!lhs || !rhs || !act)
      return failure();
    auto isParam = [&](Value v) {
      auto arg = dyn_cast<BlockArgument>(v);
      return arg && arg.getOwner() == &act.getBodyBlock() &&
             arg.getArgNumber() >= act.getNumInputs() && isa<FloatType>(arg.getType());
    };
    for (unsigned i = 0; i < 2; ++i)
      for (unsigned j = 0; j < 2; ++j) {
        Value p = lhs->getOperand(i), x = lhs->getOperand(1 - i);
        Value q = rhs->getOperand(j), y = rhs->getOperand(1 - j);
        if (x != y || !isParam(p) || !isParam(q) || isParam(x))
          continue;
        Value d = rewriter.create<arith::SubFOp>(op.getLoc(), p, q);
        rewriter.replaceOpWithNewOp<arith::MulFOp>(op, d, x);
        return success();
      }
    return failure();
  }
};

void addRules(RewritePatternSet &patterns, bool singlePrecision) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<FactorParameterDifference>(ctx);
  // erfcx(z) as a Chebyshev series, 14 terms for float kernels, 26 otherwise.
  if (singlePrecision)
    patterns.add<ExpandPattern<ErfcxOp>>(ctx, [](ErfcxOp op, Arith &a) {
      return act::erfcxSeries(a, op.getInput(), /*singlePrecision=*/true);
    });
  else
    patterns.add<ExpandPattern<ErfcxOp>>(ctx, [](ErfcxOp op, Arith &a) {
      return act::erfcxSeries(a, op.getInput(), /*singlePrecision=*/false);
    });
  // sigmoid(x) = r for x >= 0, e/d otherwise, with e = exp(-|x|) <= 1, d = 1 + e
  // and r = 1/d: one exp and one division, shared by sigmoid(-x) (derivatives).
  // e/d is e r corrected by one Newton step (q + (e - q d) r), as exact as a
  // division. Float kernels use floatSigmoid instead: no branch, no Newton step.
  if (singlePrecision)
    patterns.add<ExpandPattern<SigmoidOp>>(ctx, [](SigmoidOp op, Arith &a) {
      Value x = op.getInput();
      // Derivative bodies use sigmoid(-z) beside sigmoid(z): both come from one exp.
      // A forward body's sigmoid(-z) is the sigmoid of the value -z.
      auto body = op->getParentOfType<ActivationOp>();
      bool bothSigns = body && body->hasAttr("act.grad_of");
      if (auto neg = x.getDefiningOp<arith::NegFOp>(); neg && bothSigns)
        return floatSigmoid(a, neg.getOperand(), bothSigns).negative;
      return floatSigmoid(a, x, bothSigns).positive;
    });
  else
    patterns.add<ExpandPattern<SigmoidOp>>(ctx, [](SigmoidOp op, Arith &a) {
      Value x = op.getInput();
      Value e = a.exp(a.neg(a.abs(x)));
      Value d = a.add(a.c(1), e);
      Value r = a.div(a.c(1), d);
      Value q = a.mul(e, r);
      Value eOverD = a.fma(a.fma(a.neg(q), d, e), r, q);
      return a.select(a.cmp(P::OGE, x, a.c(0)), r, eOverD);
    });
  // softplus(x) = max(x, 0) + log1p(exp(-|x|))
  patterns.add<ExpandPattern<SoftplusOp>>(ctx, [](SoftplusOp op, Arith &a) {
    Value x = op.getInput();
    return a.add(a.max(x, a.c(0)), a.log1p(a.exp(a.neg(a.abs(x)))));
  });
  // tanh(softplus(x)): one exp, one division (StableMath.h)
  if (singlePrecision)
    patterns.add<ExpandPattern<TanhSoftplusOp>>(ctx, [](TanhSoftplusOp op, Arith &a) {
      return act::tanhSoftplus(a, op.getInput(), /*singlePrecision=*/true);
    });
  else
    patterns.add<ExpandPattern<TanhSoftplusOp>>(
        ctx, [](TanhSoftplusOp op, Arith &a) { return act::tanhSoftplus(a, op.getInput()); });
  // relu(x) = maximum(x, 0), NaN-propagating
  patterns.add<ExpandPattern<ReluOp>>(
      ctx, [](ReluOp op, Arith &a) { return a.max(op.getInput(), a.c(0)); });
  patterns.add<ExpandPattern<Relu6Op>>(
      ctx, [](Relu6Op op, Arith &a) { return a.relu6(op.getInput()); });
  // hard_sigmoid(x) = relu6(x + 3) / 6
  patterns.add<ExpandPattern<HardSigmoidOp>>(ctx, [](HardSigmoidOp op, Arith &a) {
    return a.div(a.relu6(a.add(op.getInput(), a.c(3))), a.c(6));
  });
  // hard_swish(x) = x * relu6(x + 3) / 6
  patterns.add<ExpandPattern<HardSwishOp>>(ctx, [](HardSwishOp op, Arith &a) {
    Value x = op.getInput();
    return a.gateMul(x, a.div(a.relu6(a.add(x, a.c(3))), a.c(6)));
  });
  // gelu(x) = x Phi(x), with Phi(x) = erfc(-x / sqrt 2) / 2 from erfcx and an exact
  // exp(-x^2 / 2), so the left tail keeps its relative accuracy (StableMath.h).
  if (singlePrecision)
    patterns.add<ExpandPattern<GeluDerivOp>>(ctx, [](GeluDerivOp op, Arith &a) {
      return act::geluDerivative(a, op.getInput(), true);
    });
  else
    patterns.add<ExpandPattern<GeluDerivOp>>(
        ctx, [](GeluDerivOp op, Arith &a) { return act::geluDerivative(a, op.getInput()); });
  if (singlePrecision)
    patterns.add<ExpandPattern<GeluOp>>(
        ctx, [](GeluOp op, Arith &a) { return act::gelu(a, op.getInput(), true); });
  else
    patterns.add<ExpandPattern<GeluOp>>(
        ctx, [](GeluOp op, Arith &a) { return act::gelu(a, op.getInput()); });
  // gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3):
  // 1 + tanh(u) cancels for u << 0, sigmoid(2u) does not.
  patterns.add<ExpandPattern<GeluTanhOp>>(ctx, [](GeluTanhOp op, Arith &a) {
    Value x = op.getInput();
    return Value(a.b.create<GateOp>(a.loc, x, geluTanhArg(a, x)));
  });
  // sinc(x) = sin(x) / x, sinc(0) = 1
  patterns.add<ExpandPattern<SincOp>>(ctx, [](SincOp op, Arith &a) {
    Value x = op.getInput();
    Value s = a.div(a.b.create<math::SinOp>(a.loc, x), x);
    return a.select(a.cmp(P::OEQ, x, a.c(0)), a.c(1), s);
  });
  // gauss(x) = exp(-x^2), with x^2 split exactly (StableMath.h)
  patterns.add<ExpandPattern<GaussOp>>(
      ctx, [](GaussOp op, Arith &a) { return expNegSquare(a, op.getInput(), 1.0); });
  // sign(x) = 1 if x > 0, -1 if x < 0, else x (keeps ±0 and NaN)
  patterns.add<ExpandPattern<SignOp>>(ctx, [](SignOp op, Arith &a) {
    Value x = op.getInput();
    return a.select(a.cmp(P::OGT, x, a.c(0)), a.c(1),
                    a.select(a.cmp(P::OLT, x, a.c(0)), a.c(-1), x));
  });
  // gate(v, g) = v * sigmoid(g)
  patterns.add<ExpandPattern<GateOp>>(ctx, [](GateOp op, Arith &a) {
    return a.gateMul(op.getValue(), a.sigmoid(op.getGate()));
  });
  // hard_gate(v, g) = v * relu6(g + 3) / 6
  patterns.add<ExpandPattern<HardGateOp>>(ctx, [](HardGateOp op, Arith &a) {
    return a.gateMul(op.getValue(), a.div(a.relu6(a.add(op.getGate(), a.c(3))), a.c(6)));
  });
  // clamp(v, lo, hi) = minimum(maximum(v, lo), hi)
  patterns.add<ExpandPattern<ClampOp>>(ctx, [](ClampOp op, Arith &a) {
    return a.min(a.max(op.getValue(), op.getLo()), op.getHi());
  });
  // safe_mul(a, b) = 0 where a == 0, else a * b
  patterns.add<ExpandPattern<SafeMulOp>>(ctx, [](SafeMulOp op, Arith &a) {
    Value lhs = op.getLhs();
    return a.zeroWhere0(lhs, a.mul(lhs, op.getRhs()));
  });
  patterns.add<ExpandPattern<SmoothMaxOp>>(ctx, [](SmoothMaxOp op, Arith &a) {
    return smoothMax(op.getInputs(), op.getBeta(), a);
  });
  // smooth_min(a; beta) = smooth_max(a; -beta)
  patterns.add<ExpandPattern<SmoothMinOp>>(ctx, [](SmoothMinOp op, Arith &a) {
    return smoothMax(op.getInputs(), a.neg(op.getBeta()), a);
  });
  // logsumexp(a; beta) = (m + log(sum exp(beta ai - m))) / beta, m = max beta ai;
  // for n = 2: (m + log1p(exp(-|beta a1 - beta a2|))) / beta.
  patterns.add<ExpandPattern<LogSumExpOp>>(ctx, [](LogSumExpOp op, Arith &a) {
    Value beta = op.getBeta();
    auto [z, m] = a.scaledWithMax(op.getInputs(), beta);
    Value lse;
    if (z.size() == 2) {
      lse = a.log1p(a.exp(a.neg(a.abs(a.sub(z[0], z[1])))));
    } else {
      Value s = a.c(0);
      for (Value zi : z)
        s = a.add(s, a.exp(a.sub(zi, m)));
      lse = a.log(s);
    }
    return a.div(a.add(m, lse), beta);
  });
  // pwl: inside y[i] + (y[i+1] - y[i]) (t - i); left y[0] + kl (x - bl); right
  // y[n] + kr (x - br), with t and i from PwlSegment.
  patterns.add<ExpandPattern<PwlOp>>(ctx, [](PwlOp op, Arith &a) {
    Value x = op.getInput(), table = op.getTable();
    Value bl = op.getLeft(), br = op.getRight();
    PwlSegment s = PwlSegment::build(a, x, table, bl, br);
    Value y0 = s.load(a, table, s.lo), y1 = s.load(a, table, s.hi);
    Value inside = a.add(y0, a.mul(a.sub(y1, y0), s.frac));
    Value first = s.load(a, table, s.index(a, 0));
    Value last = s.load(a, table, s.index(a, s.n));
    Value left = a.add(first, a.mul(op.getLeftSlope(), a.sub(x, bl)));
    Value right = a.add(last, a.mul(op.getRightSlope(), a.sub(x, br)));
    return a.select(s.isLeft, left, a.select(s.isRight, right, inside));
  });
}

struct ActExpandPass : act::impl::ActExpandBase<ActExpandPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateActExpandPatterns(patterns, singlePrecision);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void act::populateActExpandPatterns(RewritePatternSet &patterns, bool singlePrecision) {
  addRules(patterns, singlePrecision);
}

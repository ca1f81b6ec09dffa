// act: local derivative rules, one per op, the math in a comment above each
// (in the manner of Halide's src/Derivative.cpp). Each rule appends
// d(result)/d(operand) per operand; null marks an operand with no derivative.
//
// Kink conventions (docs/derivatives.md): a comparison that is false at the kink
// picks the branch, so relu'(0) = 0 and max(a, b) at a tie differentiates into b
// (canonicalisation moves constants last, so max(x, 0) and max(0, x) agree).
#include "act/Dialect/ActOps.h"
#include "act/Dialect/Derivatives.h"
#include "act/Dialect/ScalarBuilder.h"
#include "act/Dialect/StableMath.h"

#include <cmath>

using namespace mlir;
using namespace act;

namespace {
using P = arith::CmpFPredicate;
ScalarBuilder at(OpBuilder &b, Operation *op) {
  return ScalarBuilder{b, op->getLoc(), op->getResult(0).getType()};
}
} // namespace

//===----------------------------------------------------------------------===//
// act ops
//===----------------------------------------------------------------------===//

// d/dx sigmoid(x) = s (1 - s) = sigmoid(x) sigmoid(-x): 1 - s would round to 0 for
// x > 17 (float) or 37 (double) where the derivative is still e^-x.
LogicalResult SigmoidOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.mul(getResult(), a.sigmoid(a.neg(getInput()))));
  return success();
}
// d/dx softplus(x) = sigmoid(x)
LogicalResult SoftplusOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.sigmoid(getInput()));
  return success();
}
// d/dx erfcx(x) = 2x erfcx(x) - 2/sqrt(pi)
LogicalResult ErfcxOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.sub(a.mul(a.mul(a.c(2), getInput()), getResult()), a.c(M_2_SQRTPI)));
  return success();
}
// d/dx tanh(softplus(x)) = (1 - tanh^2(softplus(x))) sigmoid(x), in the stable
// form of StableMath.h
LogicalResult TanhSoftplusOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(act::tanhSoftplusDerivative(a, getInput()));
  return success();
}
// d/dx relu(x) = [x > 0]
LogicalResult ReluOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.indicator(a.cmp(P::OGT, getInput(), a.c(0))));
  return success();
}
// d/dx relu6(x) = [0 < x < 6]
LogicalResult Relu6Op::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  p.push_back(a.indicator(a.andi(a.cmp(P::OGT, x, a.c(0)), a.cmp(P::OLT, x, a.c(6)))));
  return success();
}
// d/dx hard_sigmoid(x) = [-3 < x < 3] / 6
LogicalResult HardSigmoidOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  Value in = a.andi(a.cmp(P::OGT, x, a.c(-3)), a.cmp(P::OLT, x, a.c(3)));
  p.push_back(a.select(in, a.c(1.0 / 6.0), a.c(0)));
  return success();
}
// d/dx x hard_sigmoid(x) = hard_sigmoid(x) + x [-3 < x < 3] / 6
LogicalResult HardSwishOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  Value in = a.andi(a.cmp(P::OGT, x, a.c(-3)), a.cmp(P::OLT, x, a.c(3)));
  Value hs = b.create<HardSigmoidOp>(getLoc(), x);
  p.push_back(a.add(hs, a.select(in, a.div(x, a.c(6)), a.c(0))));
  return success();
}
// d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi): act.gelu_deriv,
// which act-expand writes with erfcx so neither tail cancels (StableMath.h).
LogicalResult GeluOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  p.push_back(b.create<GeluDerivOp>(getLoc(), getInput()));
  return success();
}
// d/dx (Phi(x) + x phi(x)) = 2 phi(x) + x phi'(x) = phi(x) (2 - x^2); phi's exact
// square keeps the tails, and the gate makes x = +-inf give 0, not 0 * inf.
LogicalResult GeluDerivOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  Value phi = a.mul(expNegSquare(a, x, 0.5), a.c(1 / std::sqrt(2 * M_PI)));
  p.push_back(a.gateMul(phi, a.sub(a.c(2), a.mul(x, x))));
  return success();
}
// gelu_tanh(x) = x s(2u), u = k (x + c x^3):
// d/dx = s(2u) + x 2u' s(2u) s(-2u), 2u' = 2k (1 + 3 c x^2)
LogicalResult GeluTanhOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  const double k = std::sqrt(2.0 / M_PI), c = 0.044715;
  Value z = geluTanhArg(a, x);
  Value dz = a.mul(a.c(2 * k), a.add(a.c(1), a.mul(a.c(3 * c), a.mul(x, x))));
  Value s = a.sigmoid(z), sn = a.sigmoid(a.neg(z));
  p.push_back(a.add(s, a.gateMul(a.mul(x, dz), a.mul(s, sn))));
  return success();
}
// d/dx sinc(x) = (cos x - sinc x) / x; for |x| < 1.5, where the difference cancels
// (entirely near 0), the series sum_{k>=1} (-1)^k 2k x^(2k-1) / (2k+1)!, 13 terms
// (truncation < 1e-17 relative).
LogicalResult SincOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value x = getInput();
  Value cos = b.create<math::CosOp>(getLoc(), x);
  Value y = a.mul(x, x), series = a.c(0);
  double coef[13], fact = 1;
  for (int k = 1; k <= 13; ++k) {
    fact *= (2.0 * k) * (2.0 * k + 1);
    coef[k - 1] = (k % 2 ? -2.0 : 2.0) * k / fact;
  }
  for (int k = 12; k >= 0; --k)
    series = a.add(a.mul(series, y), a.c(coef[k]));
  Value small = a.cmp(P::OLT, a.abs(x), a.c(1.5));
  p.push_back(a.select(small, a.mul(x, series), a.div(a.sub(cos, getResult()), x)));
  return success();
}
// d/dx exp(-x^2) = -2 x exp(-x^2)
LogicalResult GaussOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.mul(a.mul(a.c(-2), getInput()), getResult()));
  return success();
}
// d/dx sign(x) = 0
LogicalResult SignOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  p.push_back(a.c(0));
  return success();
}
// d/dv v sigmoid(g) = sigmoid(g);  d/dg = v s (1 - s) = v sigmoid(g) sigmoid(-g)
LogicalResult GateOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value s = a.sigmoid(getGate());
  p.push_back(s);
  p.push_back(a.gateMul(getValue(), a.mul(s, a.sigmoid(a.neg(getGate())))));
  return success();
}
// d/dv v hard_sigmoid(g) = hard_sigmoid(g);  d/dg = v [-3 < g < 3] / 6
LogicalResult HardGateOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value g = getGate();
  p.push_back(b.create<HardSigmoidOp>(getLoc(), g));
  Value in = a.andi(a.cmp(P::OGT, g, a.c(-3)), a.cmp(P::OLT, g, a.c(3)));
  p.push_back(a.select(in, a.div(getValue(), a.c(6)), a.c(0)));
  return success();
}
// clamp(v, lo, hi) = min(max(v, lo), hi), m = max(v, lo):
// d/dv = [v > lo][m < hi], d/dlo = [!(v > lo)][m < hi], d/dhi = [!(m < hi)]
LogicalResult ClampOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value v = getValue(), lo = getLo(), hi = getHi();
  Value aboveLo = a.cmp(P::OGT, v, lo);
  Value m = a.max(v, lo);
  Value belowHi = a.cmp(P::OLT, m, hi);
  p.push_back(a.select(belowHi, a.indicator(aboveLo), a.c(0)));
  p.push_back(a.select(belowHi, a.select(aboveLo, a.c(0), a.c(1)), a.c(0)));
  p.push_back(a.select(belowHi, a.c(0), a.c(1)));
  return success();
}

// d safe_mul(a, b) = b, a (the derivative of a * b)
LogicalResult SafeMulOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  p.append({getRhs(), getLhs()});
  return success();
}

namespace {
/// Softmax weights w_i of beta * a_i (stable: n = 2 via sigmoid of the difference,
/// otherwise with the maximum subtracted).
SmallVector<Value> softmaxWeights(ScalarBuilder &a, ValueRange in, Value beta) {
  SmallVector<Value> w;
  if (in.size() == 2) {
    w.push_back(a.sigmoid(a.mul(beta, a.sub(in[0], in[1]))));
    w.push_back(a.sigmoid(a.mul(beta, a.sub(in[1], in[0]))));
    return w;
  }
  auto [z, m] = a.scaledWithMax(in, beta);
  Value sum = a.c(0);
  for (Value zi : z) {
    w.push_back(a.exp(a.sub(zi, m)));
    sum = a.add(sum, w.back());
  }
  for (Value &wi : w)
    wi = a.div(wi, sum);
  return w;
}

/// f = sum a_i w_i, w = softmax(beta a):
/// df/da_i = w_i (1 + beta (a_i - f)), df/dbeta = sum w_i (a_i - f)^2.
/// For n = 2, with d = a1 - a2, z = beta d, s = sigmoid(z), t = sigmoid(-z) (f = d s + a2):
/// df/da1 = s (1 + z t) = s + z s t, df/da2 = t (1 - z s) = t - z s t, df/dbeta = d^2 s t;
/// no a_i - f, which
/// cancels when beta d is large. Products with z or d saturate (inf * 0 = 0).
void smoothMaxPartials(ScalarBuilder &a, ValueRange in, Value beta,
                       SmallVectorImpl<Value> &p, bool negateBeta) {
  Value effBeta = negateBeta ? a.neg(beta) : beta;
  Value dbeta;
  if (in.size() == 2) {
    Value d = a.sub(in[0], in[1]);
    Value z = a.mul(effBeta, d);
    Value s = a.sigmoid(z), t = a.sigmoid(a.neg(z));
    // s (1 + z t) = s + q and t (1 - z s) = t - q share q = z s t: one saturating
    // product of z with s t in [0, 1/4] (one compare for its guard).
    Value st = a.mul(s, t);
    Value q = a.gateMul(z, st);
    p.push_back(a.add(s, q));
    p.push_back(a.sub(t, q));
    dbeta = a.gateMul(d, a.gateMul(d, st));
  } else {
    // a_i - f = sum_j w_j (a_i - a_j): differences of the operands, not of a_i and
    // f, which agree to many digits when one weight dominates.
    SmallVector<Value> w = softmaxWeights(a, in, effBeta);
    for (auto [i, ai, wi] : llvm::enumerate(in, w)) {
      Value diff = a.c(0);
      for (auto [j, aj, wj] : llvm::enumerate(in, w))
        if (i != j)
          diff = a.add(diff, a.mul(wj, a.sub(ai, aj)));
      p.push_back(a.mul(wi, a.add(a.c(1), a.mul(effBeta, diff))));
      Value term = a.mul(wi, a.mul(diff, diff));
      dbeta = dbeta ? a.add(dbeta, term) : term;
    }
  }
  p.push_back(negateBeta ? a.neg(dbeta) : dbeta);
}
} // namespace

LogicalResult SmoothMaxOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  smoothMaxPartials(a, getInputs(), getBeta(), p, false);
  return success();
}
// smooth_min(a; beta) = smooth_max(a; -beta): the chain rule negates d/dbeta.
LogicalResult SmoothMinOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  smoothMaxPartials(a, getInputs(), getBeta(), p, true);
  return success();
}
// L = log(sum exp(beta a_i)) / beta: dL/da_i = w_i, dL/dbeta = (sum w_i a_i - L) / beta.
// For n = 2 the last is -H(w) / beta^2 with the entropy
// H = s softplus(-z) + t softplus(z), z = beta (a1 - a2): no cancellation.
LogicalResult LogSumExpOp::buildPartials(OpBuilder &b, SmallVectorImpl<Value> &p) {
  auto a = at(b, *this);
  Value beta = getBeta();
  SmallVector<Value> w = softmaxWeights(a, getInputs(), beta);
  Value mean;
  for (auto [ai, wi] : llvm::zip(getInputs(), w)) {
    p.push_back(wi);
    Value term = a.mul(wi, ai);
    mean = mean ? a.add(mean, term) : term;
  }
  if (getInputs().size() == 2) {
    Value z = a.mul(beta, a.sub(getInputs()[0], getInputs()[1]));
    Value sp = b.create<SoftplusOp>(getLoc(), z);
    Value spn = b.create<SoftplusOp>(getLoc(), a.neg(z));
    Value h = a.add(a.gateMul(spn, w[0]), a.gateMul(sp, w[1]));
    p.push_back(a.neg(a.div(h, a.mul(beta, beta))));
    return success();
  }
  p.push_back(a.div(a.sub(mean, getResult()), beta));
  return success();
}

//===----------------------------------------------------------------------===//
// arith and math ops (external models)
//===----------------------------------------------------------------------===//

namespace {
using Rule = void (*)(Operation *, ScalarBuilder &, SmallVectorImpl<Value> &);

template <typename OpT>
struct Model : DifferentiableOpInterface::ExternalModel<Model<OpT>, OpT> {
  static Rule rule;
  LogicalResult buildPartials(Operation *op, OpBuilder &b,
                              SmallVectorImpl<Value> &p) const {
    auto a = at(b, op);
    rule(op, a, p);
    return success();
  }
};
template <typename OpT>
Rule Model<OpT>::rule = nullptr;

template <typename OpT>
void attach(MLIRContext *ctx, Rule rule) {
  Model<OpT>::rule = rule;
  OpT::template attachInterface<Model<OpT>>(*ctx);
}

Value x0(Operation *op) { return op->getOperand(0); }
Value x1(Operation *op) { return op->getOperand(1); }
Value r(Operation *op) { return op->getResult(0); }
} // namespace

void act::registerDerivativeModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    // d(a + b) = 1, 1
    attach<arith::AddFOp>(ctx, [](Operation *, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.append({a.c(1), a.c(1)});
    });
    // d(a - b) = 1, -1
    attach<arith::SubFOp>(ctx, [](Operation *, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.append({a.c(1), a.c(-1)});
    });
    // d(a * b) = b, a
    attach<arith::MulFOp>(ctx, [](Operation *op, ScalarBuilder &, SmallVectorImpl<Value> &p) {
      p.append({x1(op), x0(op)});
    });
    // d(a / b) = 1 / b, -(a / b) / b
    attach<arith::DivFOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.append({a.div(a.c(1), x1(op)), a.neg(a.div(r(op), x1(op)))});
    });
    // d(-a) = -1
    attach<arith::NegFOp>(ctx, [](Operation *, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.c(-1));
    });
    // d max(a, b) = [a > b], [!(a > b)]: a tie goes to b
    Rule maxRule = [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value gt = a.cmp(P::OGT, x0(op), x1(op));
      p.append({a.indicator(gt), a.select(gt, a.c(0), a.c(1))});
    };
    // d min(a, b) = [a < b], [!(a < b)]: a tie goes to b
    Rule minRule = [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value lt = a.cmp(P::OLT, x0(op), x1(op));
      p.append({a.indicator(lt), a.select(lt, a.c(0), a.c(1))});
    };
    attach<arith::MaximumFOp>(ctx, maxRule);
    attach<arith::MaxNumFOp>(ctx, maxRule);
    attach<arith::MinimumFOp>(ctx, minRule);
    attach<arith::MinNumFOp>(ctx, minRule);
    // d select(c, a, b) = -, [c], [!c]: the branch not taken gets exactly 0
    attach<arith::SelectOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value c = x0(op);
      p.append({Value(), a.indicator(c), a.select(c, a.c(0), a.c(1))});
    });
  });
  registry.addExtension(+[](MLIRContext *ctx, math::MathDialect *) {
    // d exp(x) = exp(x)
    attach<math::ExpOp>(ctx, [](Operation *op, ScalarBuilder &, SmallVectorImpl<Value> &p) {
      p.push_back(r(op));
    });
    // d expm1(x) = exp(x)
    attach<math::ExpM1Op>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.exp(x0(op)));
    });
    // d log(x) = 1 / x
    attach<math::LogOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.div(a.c(1), x0(op)));
    });
    // d log1p(x) = 1 / (1 + x)
    attach<math::Log1pOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.div(a.c(1), a.add(a.c(1), x0(op))));
    });
    // d sqrt(x) = 0.5 / sqrt(x)
    attach<math::SqrtOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.div(a.c(0.5), r(op)));
    });
    // d |x| = sign(x) (0 at 0)
    attach<math::AbsFOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.b.create<SignOp>(a.loc, x0(op)));
    });
    // d sin(x) = cos(x)
    attach<math::SinOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.b.create<math::CosOp>(a.loc, x0(op)));
    });
    // d cos(x) = -sin(x)
    attach<math::CosOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.neg(a.b.create<math::SinOp>(a.loc, x0(op))));
    });
    // d tan(x) = 1 + tan(x)^2
    attach<math::TanOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.add(a.c(1), a.mul(r(op), r(op))));
    });
    // d tanh(x) = 1 - tanh(x)^2 = 4 sigmoid(2x) sigmoid(-2x): 1 - t^2 rounds to 0 for
    // |x| > 9 (float) or 19 (double) where the derivative is still 4 e^(-2|x|).
    attach<math::TanhOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value x2 = a.add(x0(op), x0(op));
      p.push_back(a.mul(a.c(4), a.mul(a.sigmoid(x2), a.sigmoid(a.neg(x2)))));
    });
    // d sinh(x) = cosh(x)
    attach<math::SinhOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.b.create<math::CoshOp>(a.loc, x0(op)));
    });
    // d cosh(x) = sinh(x)
    attach<math::CoshOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.b.create<math::SinhOp>(a.loc, x0(op)));
    });
    // d asinh(x) = 1 / sqrt(x^2 + 1), for |x| > 1 as u / sqrt(1 + u^2), u = 1 / |x|
    // (x^2 overflows from |x| = 1.8e19 in float)
    attach<math::AsinhOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value x = x0(op), ax = a.abs(x), u = a.div(a.c(1), ax);
      Value big = a.cmp(P::OGT, ax, a.c(1));
      Value v = a.select(big, u, x);
      Value r = a.div(a.c(1), a.sqrt(a.add(a.c(1), a.mul(v, v))));
      p.push_back(a.select(big, a.mul(u, r), r));
    });
    // d atan(x) = 1 / (1 + x^2), for |x| > 1 as u^2 / (1 + u^2), u = 1 / x
    attach<math::AtanOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value x = x0(op), u = a.div(a.c(1), x);
      Value big = a.cmp(P::OGT, a.abs(x), a.c(1));
      Value v = a.select(big, u, x), v2 = a.mul(v, v);
      Value r = a.div(a.c(1), a.add(a.c(1), v2));
      p.push_back(a.select(big, a.mul(v2, r), r));
    });
    // d erf(x) = 2 / sqrt(pi) exp(-x^2), x^2 split exactly (StableMath.h)
    attach<math::ErfOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.mul(a.c(M_2_SQRTPI), expNegSquare(a, x0(op), 1.0)));
    });
    // d fma(a, b, c) = b, a, 1
    attach<math::FmaOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.append({op->getOperand(1), op->getOperand(0), a.c(1)});
    });
    // d pow(a, b) = b pow(a, b - 1), pow(a, b) log(a)
    attach<math::PowFOp>(ctx, [](Operation *op, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      Value base = x0(op), e = x1(op);
      Value pm1 = a.b.create<math::PowFOp>(a.loc, base, a.sub(e, a.c(1)));
      p.push_back(a.mul(e, pm1));
      p.push_back(a.mul(r(op), a.log(base)));
    });
    // d floor(x) = 0 (almost everywhere)
    attach<math::FloorOp>(ctx, [](Operation *, ScalarBuilder &a, SmallVectorImpl<Value> &p) {
      p.push_back(a.c(0));
    });
  });
}

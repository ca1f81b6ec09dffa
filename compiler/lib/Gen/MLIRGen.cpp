// act: MLIRGen, the checked AST to the act dialect.
//
// One private class with a gen() per node kind (toy's MLIRGen shape). Values are f64
// in the dialect; kernels retype bodies to the element type they compute in.
#include "act/Gen/MLIRGen.h"

#include "act/Dialect/ActOps.h"
#include "act/Parse/Builtins.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <cmath>
#include <map>

using namespace mlir;

namespace act {
namespace {

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &ctx, const ast::File &file, std::vector<Diagnostic> &diags)
      : ctx(ctx), builder(&ctx), file(file), diags(diags), f64(builder.getF64Type()) {}

  OwningOpRef<ModuleOp> gen() {
    auto module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module.getBody());
    for (const ast::Definition &def : file.defs)
      if (!gen(def))
        return nullptr;
    // Verifier messages become act diagnostics rather than stderr output.
    ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
      error(d.getLocation(), d.str());
      return success();
    });
    if (failed(verify(module)))
      return nullptr;
    return module;
  }

private:
  MLIRContext &ctx;
  OpBuilder builder;
  const ast::File &file;
  std::vector<Diagnostic> &diags;
  Type f64;

  /// Names visible in the expression being generated (innermost last).
  std::vector<std::pair<std::string, Value>> env;
  /// The parameters of the definition whose body is being generated (for binding a
  /// callee's parameters by name when composing definitions).
  std::map<std::string, Value> params;

  Location loc(const ast::Loc &l) {
    return FileLineColLoc::get(&ctx, l.file ? *l.file : *file.name, l.line, l.col);
  }

  std::string sourceLine(unsigned line) {
    size_t start = 0;
    for (unsigned i = 1; i < line && start != std::string::npos; ++i) {
      start = file.source.find('\n', start);
      if (start != std::string::npos)
        ++start;
    }
    if (start == std::string::npos || start > file.source.size())
      return "";
    size_t end = file.source.find('\n', start);
    return file.source.substr(start, end == std::string::npos ? end : end - start);
  }

  void error(Location l, const std::string &message) {
    Diagnostic d;
    d.file = *file.name;
    d.message = message;
    if (auto flc = dyn_cast<FileLineColLoc>(l)) {
      d.file = flc.getFilename().str();
      d.line = flc.getLine();
      d.column = flc.getColumn();
      d.sourceLine = sourceLine(d.line);
    }
    diags.push_back(std::move(d));
  }
  Value error(const ast::Loc &l, const std::string &message) {
    error(loc(l), message);
    return nullptr;
  }

  Value lookup(const std::string &name) {
    for (auto it = env.rbegin(); it != env.rend(); ++it)
      if (it->first == name)
        return it->second;
    return nullptr;
  }

  Value constant(Location l, double v) {
    return builder.create<arith::ConstantOp>(l, f64, builder.getF64FloatAttr(v));
  }

  bool gen(const ast::Definition &def) {
    SmallVector<Attribute> inits;
    SmallVector<bool> consts;
    SmallVector<StringRef> inputNames, paramNames, shapes;
    std::vector<std::string> shapeStrs;
    for (const ast::Input &in : def.inputs)
      inputNames.push_back(in.name);
    for (const ast::Param &p : def.params) {
      paramNames.push_back(p.name);
      std::string s = p.shape.str();
      shapeStrs.push_back(s.size() >= 2 ? s.substr(1, s.size() - 2) : s);
      inits.push_back(DenseF64ArrayAttr::get(&ctx, p.init));
      consts.push_back(p.isConst);
    }
    for (const std::string &s : shapeStrs)
      shapes.push_back(s);

    auto op = builder.create<ActivationOp>(
        loc(def.loc), def.name, builder.getStrArrayAttr(inputNames),
        builder.getStrArrayAttr(paramNames), builder.getStrArrayAttr(shapes),
        builder.getArrayAttr(inits), builder.getDenseBoolArrayAttr(consts),
        builder.getStringAttr(def.text));
    Block *block = builder.createBlock(&op.getBody());
    env.clear();
    params.clear();
    for (const ast::Input &in : def.inputs)
      env.emplace_back(in.name, block->addArgument(f64, loc(in.loc)));
    for (const ast::Param &p : def.params) {
      Type type = p.shape.tableLen ? Type(MemRefType::get({p.shape.tableLen}, f64)) : f64;
      Value arg = block->addArgument(type, loc(p.loc));
      env.emplace_back(p.name, arg);
      params[p.name] = arg;
    }
    Value result = gen(*def.body);
    if (!result)
      return false;
    builder.create<YieldOp>(loc(def.loc), ValueRange{result});
    builder.setInsertionPointAfter(op);
    return true;
  }

  Value gen(const ast::Expr &e) {
    using K = ast::Expr::Kind;
    Location l = loc(e.loc);
    switch (e.kind) {
    case K::Number:
      return constant(l, e.number);
    case K::Var: {
      if (Value v = lookup(e.name))
        return v;
      if (e.name == "pi")
        return constant(l, M_PI);
      if (e.name == "e")
        return constant(l, M_E);
      return error(e.loc, "unknown name '" + e.name + "'");
    }
    case K::Neg: {
      Value v = gen(*e.args[0]);
      return v ? builder.create<arith::NegFOp>(l, v) : nullptr;
    }
    case K::Add:
    case K::Sub:
    case K::Mul:
    case K::Div: {
      Value a = gen(*e.args[0]), b = a ? gen(*e.args[1]) : nullptr;
      if (!b)
        return nullptr;
      if (e.kind == K::Add)
        return builder.create<arith::AddFOp>(l, a, b);
      if (e.kind == K::Sub)
        return builder.create<arith::SubFOp>(l, a, b);
      if (e.kind == K::Mul)
        return builder.create<arith::MulFOp>(l, a, b);
      return builder.create<arith::DivFOp>(l, a, b);
    }
    case K::Pow:
      return genPow(e);
    case K::Cmp:
      return error(e.loc, "comparisons are only allowed as the condition of select");
    case K::Let: {
      Value v = gen(*e.args[0]);
      if (!v)
        return nullptr;
      env.emplace_back(e.name, v);
      Value body = gen(*e.args[1]);
      env.pop_back();
      return body;
    }
    case K::Call:
      if (findBuiltin(e.name))
        return genBuiltin(e);
      if (const ast::Definition *callee = file.find(e.name))
        return genInline(e, *callee);
      return error(e.loc, "unknown function '" + e.name + "'");
    }
    return nullptr;
  }

  /// `a ^ n` with an integer literal n (|n| <= 64) becomes multiplications by
  /// repeated squaring (and a division for n < 0); anything else is math.powf.
  Value genPow(const ast::Expr &e) {
    Location l = loc(e.loc);
    Value base = gen(*e.args[0]);
    if (!base)
      return nullptr;
    const ast::Expr *ex = e.args[1].get();
    bool negative = false;
    if (ex->kind == ast::Expr::Kind::Neg) {
      negative = true;
      ex = ex->args[0].get();
    }
    if (ex->kind == ast::Expr::Kind::Number && ex->isInteger && ex->number <= 64) {
      auto n = (unsigned)ex->number;
      Value result = constant(l, 1.0);
      bool first = true;
      for (Value sq = base; n; n >>= 1) {
        if (n & 1) {
          result = first ? sq : builder.create<arith::MulFOp>(l, result, sq).getResult();
          first = false;
        }
        if (n > 1)
          sq = builder.create<arith::MulFOp>(l, sq, sq);
      }
      return negative ? builder.create<arith::DivFOp>(l, constant(l, 1.0), result)
                      : result;
    }
    Value exponent = gen(*e.args[1]);
    return exponent ? builder.create<math::PowFOp>(l, base, exponent) : nullptr;
  }

  bool genAll(const std::vector<ast::ExprPtr> &exprs, SmallVectorImpl<Value> &out) {
    for (const ast::ExprPtr &x : exprs) {
      Value v = gen(*x);
      if (!v)
        return false;
      out.push_back(v);
    }
    return true;
  }

  Value genSelect(const ast::Expr &e) {
    const ast::Expr &cond = *e.args[0];
    if (cond.kind != ast::Expr::Kind::Cmp)
      return error(cond.loc, "the condition of select must be a comparison");
    Value lhs = gen(*cond.args[0]), rhs = lhs ? gen(*cond.args[1]) : nullptr;
    Value a = rhs ? gen(*e.args[1]) : nullptr, b = a ? gen(*e.args[2]) : nullptr;
    if (!b)
      return nullptr;
    // Ordered predicates: a NaN condition is false and selects the else branch,
    // except `!=`, which holds for NaN as in IEEE comparison.
    using P = arith::CmpFPredicate;
    P pred = P::OLT;
    switch (cond.cmp) {
    case ast::CmpKind::LT: pred = P::OLT; break;
    case ast::CmpKind::LE: pred = P::OLE; break;
    case ast::CmpKind::GT: pred = P::OGT; break;
    case ast::CmpKind::GE: pred = P::OGE; break;
    case ast::CmpKind::EQ: pred = P::OEQ; break;
    case ast::CmpKind::NE: pred = P::UNE; break;
    }
    Value c = builder.create<arith::CmpFOp>(loc(cond.loc), pred, lhs, rhs);
    return builder.create<arith::SelectOp>(loc(e.loc), c, a, b);
  }

  Value genBuiltin(const ast::Expr &e) {
    Location l = loc(e.loc);
    const std::string &n = e.name;
    if (n == "select")
      return genSelect(e);
    if (n == "pwl")
      return genPwl(e);
    SmallVector<Value> args, trailing;
    if (!genAll(e.args, args) || !genAll(e.trailing, trailing))
      return nullptr;
    auto unary = [&]() -> Value {
      Value x = args[0];
#define ACT_UNARY(NAME, OP)                                                            \
  if (n == NAME)                                                                       \
    return builder.create<OP>(l, x);
      ACT_UNARY("exp", math::ExpOp)
      ACT_UNARY("expm1", math::ExpM1Op)
      ACT_UNARY("log", math::LogOp)
      ACT_UNARY("log1p", math::Log1pOp)
      ACT_UNARY("sqrt", math::SqrtOp)
      ACT_UNARY("abs", math::AbsFOp)
      ACT_UNARY("sin", math::SinOp)
      ACT_UNARY("cos", math::CosOp)
      ACT_UNARY("tan", math::TanOp)
      ACT_UNARY("tanh", math::TanhOp)
      ACT_UNARY("sinh", math::SinhOp)
      ACT_UNARY("cosh", math::CoshOp)
      ACT_UNARY("asinh", math::AsinhOp)
      ACT_UNARY("atan", math::AtanOp)
      ACT_UNARY("erf", math::ErfOp)
      ACT_UNARY("sign", SignOp)
      ACT_UNARY("sigmoid", SigmoidOp)
      ACT_UNARY("softplus", SoftplusOp)
      ACT_UNARY("relu", ReluOp)
      ACT_UNARY("relu6", Relu6Op)
      ACT_UNARY("hard_sigmoid", HardSigmoidOp)
      ACT_UNARY("hard_swish", HardSwishOp)
      ACT_UNARY("gelu", GeluOp)
      ACT_UNARY("gelu_tanh", GeluTanhOp)
      ACT_UNARY("sinc", SincOp)
      ACT_UNARY("gauss", GaussOp)
#undef ACT_UNARY
      return nullptr;
    };
    if (args.size() == 1 && trailing.empty())
      if (Value v = unary())
        return v;
    if (n == "pow")
      return builder.create<math::PowFOp>(l, args[0], args[1]);
    if (n == "min" || n == "max") {
      Value r = args[0];
      for (Value v : ArrayRef<Value>(args).drop_front())
        r = n == "max" ? builder.create<arith::MaximumFOp>(l, r, v).getResult()
                       : builder.create<arith::MinimumFOp>(l, r, v).getResult();
      return r;
    }
    if (n == "clamp")
      return builder.create<ClampOp>(l, args[0], args[1], args[2]);
    if (n == "gate")
      return builder.create<GateOp>(l, args[0], args[1]);
    if (n == "hard_gate")
      return builder.create<HardGateOp>(l, args[0], args[1]);
    if (trailing.size() == 1) {
      if (n == "smooth_max")
        return builder.create<SmoothMaxOp>(l, f64, args, trailing[0]);
      if (n == "smooth_min")
        return builder.create<SmoothMinOp>(l, f64, args, trailing[0]);
      if (n == "logsumexp")
        return builder.create<LogSumExpOp>(l, f64, args, trailing[0]);
    }
    return error(e.loc, "wrong arguments for '" + n + "'");
  }

  Value genPwl(const ast::Expr &e) {
    if (e.args.size() != 1 || e.trailing.size() != 5)
      return error(e.loc, "pwl takes pwl(x; y, bl, br, kl, kr)");
    Value x = gen(*e.args[0]);
    Value table = x ? gen(*e.trailing[0]) : nullptr;
    if (!table)
      return nullptr;
    if (!isa<MemRefType>(table.getType()))
      return error(e.trailing[0]->loc, "pwl's knot values must be a table parameter");
    SmallVector<Value> rest;
    for (unsigned i = 1; i < 5; ++i) {
      Value v = gen(*e.trailing[i]);
      if (!v)
        return nullptr;
      if (isa<MemRefType>(v.getType()))
        return error(e.trailing[i]->loc, "a table parameter can only be pwl's 'y'");
      rest.push_back(v);
    }
    return builder.create<PwlOp>(loc(e.loc), x, table, rest[0], rest[1], rest[2],
                                 rest[3]);
  }

  /// Calls of earlier definitions are inlined: the callee's body is generated with
  /// its inputs bound to the arguments and each parameter bound to (in order) a named
  /// argument, the caller's parameter of the same name, or its initial value.
  Value genInline(const ast::Expr &e, const ast::Definition &callee) {
    if (e.args.size() != callee.inputs.size())
      return error(e.loc, "'" + callee.name + "' takes " +
                              std::to_string(callee.inputs.size()) + " inputs");
    std::vector<std::pair<std::string, Value>> calleeEnv;
    std::map<std::string, Value> calleeParams;
    for (size_t i = 0; i < e.args.size(); ++i) {
      Value v = gen(*e.args[i]);
      if (!v)
        return nullptr;
      calleeEnv.emplace_back(callee.inputs[i].name, v);
    }
    for (const ast::Param &p : callee.params) {
      Value v;
      const ast::NamedArg *named = nullptr;
      for (const ast::NamedArg &a : e.named)
        if (a.name == p.name)
          named = &a;
      if (named) {
        v = gen(*named->value);
        if (!v)
          return nullptr;
      } else if (auto it = params.find(p.name); it != params.end()) {
        v = it->second;
      } else if (!p.init.empty() && !p.shape.tableLen) {
        v = constant(loc(e.loc), p.init[0]);
      } else {
        return error(e.loc, "'" + callee.name + "' parameter '" + p.name +
                                "' is not bound; pass it as " + callee.name +
                                "(...; " + p.name + " = ...)");
      }
      bool isTable = isa<MemRefType>(v.getType());
      Type want = p.shape.tableLen ? Type(MemRefType::get({p.shape.tableLen}, f64)) : f64;
      if (v.getType() != want)
        return error(named ? named->loc : e.loc,
                     "'" + p.name + "' of '" + callee.name + "' needs " +
                         (p.shape.tableLen ? "a table parameter of shape " + p.shape.str()
                                           : std::string("a scalar value")) +
                         (isTable ? ", got a table" : ""));
      calleeEnv.emplace_back(p.name, v);
      calleeParams[p.name] = v;
    }
    std::swap(env, calleeEnv);
    std::swap(params, calleeParams);
    Value result = gen(*callee.body);
    std::swap(env, calleeEnv);
    std::swap(params, calleeParams);
    return result;
  }
};

} // namespace

OwningOpRef<ModuleOp> mlirGen(MLIRContext &context, const ast::File &file,
                              std::vector<Diagnostic> &diags) {
  context.getOrLoadDialect<ActDialect>();
  return MLIRGenImpl(context, file, diags).gen();
}

} // namespace act

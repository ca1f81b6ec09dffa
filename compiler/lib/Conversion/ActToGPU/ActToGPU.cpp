// convert-act-to-gpu: scalar bodies -> fused grid-stride GPU kernels.
#include "act/Conversion/Passes.h"

#include "../ActToKernels/ElementBody.h"

#include "act/Dialect/ScalarBuilder.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_CONVERTACTTOGPU
#include "act/Conversion/Passes.h.inc"

namespace {

/// One forward kernel: every thread walks elements i = tid, tid + threads, ...
class GPUKernelEmitter : ElementBody {
public:
  GPUKernelEmitter(ActivationOp act, FloatType elemType, bool channelsLast)
      : ElementBody(act, elemType), channelsLast(channelsLast) {}

  LogicalResult emit(gpu::GPUModuleOp gpuModule, StringRef name) {
    Location loc = act.getLoc();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    Type buf = MemRefType::get({ShapedType::kDynamic}, elemType);
    SmallVector<Type> argTypes(numIn + 1 + numParams, buf);
    argTypes.append(3, builder.getIndexType());

    builder.setInsertionPoint(gpuModule.getBody()->getTerminator());
    auto fn = builder.create<gpu::GPUFuncOp>(loc, name,
                                             builder.getFunctionType(argTypes, {}));
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), builder.getUnitAttr());
    Block &entry = fn.getBody().front();
    builder.setInsertionPointToStart(&entry);
    ValueRange args = entry.getArguments();
    ValueRange inputs = args.take_front(numIn);
    Value output = args[numIn];
    params = args.slice(numIn + 1, numParams);
    Value dimN = args[numIn + 1 + numParams], dimC = args[numIn + 2 + numParams],
          dimS = args[numIn + 3 + numParams];

    Value bid = builder.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value bdim = builder.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
    Value tid = builder.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    Value gdim = builder.create<gpu::GridDimOp>(loc, gpu::Dimension::x);
    Value first = builder.create<arith::AddIOp>(
        loc, builder.create<arith::MulIOp>(loc, bid, bdim), tid);
    Value stride = builder.create<arith::MulIOp>(loc, gdim, bdim);
    Value cs = builder.create<arith::MulIOp>(loc, dimC, dimS);
    Value total = builder.create<arith::MulIOp>(loc, dimN, cs);
    auto loop = builder.create<scf::ForOp>(loc, first, total, stride);
    builder.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    // ncs: i = (n*C + c)*S + s; nsc: i = (n*S + s)*C + c.
    Value n = builder.create<arith::DivUIOp>(loc, i, cs);
    Value c = channelsLast
                  ? builder.create<arith::RemUIOp>(loc, i, dimC).getResult()
                  : builder.create<arith::RemUIOp>(
                        loc, builder.create<arith::DivUIOp>(loc, i, dimS), dimC)
                        .getResult();
    IRMapping mapping;
    mapParams(mapping, n, c, dimC);
    Block &body = act.getBodyBlock();
    for (unsigned k = 0; k < numIn; ++k)
      mapping.map(body.getArgument(k),
                  builder.create<memref::LoadOp>(loc, inputs[k], ValueRange{i}));
    FailureOr<SmallVector<Value>> results = cloneBody(mapping);
    if (failed(results))
      return failure();
    builder.create<memref::StoreOp>(loc, (*results)[0], output, ValueRange{i});
    builder.setInsertionPointToEnd(&entry);
    builder.create<gpu::ReturnOp>(loc);
    return success();
  }

private:
  bool channelsLast;
};

/// Math functions that MLIR 19's GPU-to-NVVM lowering has no libdevice mapping for,
/// rewritten in ones it has.
template <typename OpT>
struct MathRewrite : OpRewritePattern<OpT> {
  using Rule = Value (*)(OpT, ScalarBuilder &);
  MathRewrite(MLIRContext *ctx, Rule rule) : OpRewritePattern<OpT>(ctx), rule(rule) {}
  LogicalResult matchAndRewrite(OpT op, PatternRewriter &rewriter) const override {
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    rewriter.replaceOp(op, rule(op, a));
    return success();
  }
  Rule rule;
};

void populateGPUMathRewrites(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  // sinh(x) = (expm1(x) - expm1(-x)) / 2, accurate near 0
  patterns.add<MathRewrite<math::SinhOp>>(ctx, [](math::SinhOp op, ScalarBuilder &a) {
    Value x = op.getOperand();
    Value e = a.b.create<math::ExpM1Op>(a.loc, x);
    Value f = a.b.create<math::ExpM1Op>(a.loc, a.neg(x));
    return a.mul(a.c(0.5), a.sub(e, f));
  });
  // cosh(x) = (exp(x) + exp(-x)) / 2
  patterns.add<MathRewrite<math::CoshOp>>(ctx, [](math::CoshOp op, ScalarBuilder &a) {
    Value x = op.getOperand();
    return a.mul(a.c(0.5), a.add(a.exp(x), a.exp(a.neg(x))));
  });
  // asinh(x) = sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2))), accurate near 0;
  // for |x| > 2^28, log(2|x|) (x^2 would overflow).
  patterns.add<MathRewrite<math::AsinhOp>>(ctx, [](math::AsinhOp op, ScalarBuilder &a) {
    Value x = op.getOperand();
    Value ax = a.abs(x);
    Value x2 = a.mul(x, x);
    Value small = a.log1p(a.add(ax, a.div(x2, a.add(a.c(1), a.sqrt(a.add(a.c(1), x2))))));
    Value large = a.add(a.log(ax), a.c(M_LN2));
    Value r = a.select(a.cmp(ScalarBuilder::P::OGT, ax, a.c(268435456.0)), large, small);
    return a.select(a.cmp(ScalarBuilder::P::OLT, x, a.c(0)), a.neg(r), r);
  });
}

struct ConvertActToGPUPass : impl::ConvertActToGPUBase<ConvertActToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<std::string> dts(dtypes.begin(), dtypes.end());
    if (dts.empty())
      dts = {"f32", "f64"};
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(ctx));
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    auto target = NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda",
                                            chip, "+ptx80");
    auto gpuModule = b.create<gpu::GPUModuleOp>(module.getLoc(), "act_kernels",
                                                b.getArrayAttr({target}));
    SmallVector<ActivationOp> acts(module.getOps<ActivationOp>());
    for (ActivationOp act : acts) {
      if (act->hasAttr("act.grad_of")) { // derivatives: CPU only for now
        act.erase();
        continue;
      }
      for (const std::string &dt : dts) {
        FloatType type = dt == "f32" ? FloatType(b.getF32Type()) : FloatType(b.getF64Type());
        for (bool nsc : {false, true})
          if (failed(GPUKernelEmitter(act, type, nsc)
                         .emit(gpuModule, kernelName(act.getSymName(), "fwd", dt,
                                                     nsc ? "nsc" : "ncs"))))
            return signalPassFailure();
      }
      act.erase();
    }
    RewritePatternSet patterns(ctx);
    populateGPUMathRewrites(patterns);
    if (failed(applyPatternsAndFoldGreedily(gpuModule, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
} // namespace act

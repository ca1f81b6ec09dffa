// convert-act-to-gpu: scalar bodies -> fused grid-stride GPU kernels.
#include "act/Conversion/Passes.h"

#include "../ActToKernels/ElementBody.h"
#include "GPUKernels.h"

#include "act/Dialect/ScalarBuilder.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
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
  /// `aligned`: the variant for 16-byte aligned inputs and output, where each thread
  /// takes 4 consecutive elements so that their loads and stores merge into 128-bit
  /// accesses.
  GPUKernelEmitter(ActivationOp act, FloatType elemType, bool channelsLast, bool aligned)
      : ElementBody(act, elemType), channelsLast(channelsLast), aligned(aligned) {}

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
    if (aligned)
      for (Value buffer : args.take_front(numIn + 1))
        builder.create<memref::AssumeAlignmentOp>(loc, buffer, 16);
    Value dimN = args[numIn + 1 + numParams], dimC = args[numIn + 2 + numParams],
          dimS = args[numIn + 3 + numParams];

    GridThread thread = gridThread(builder, loc);
    Value first = thread.index, stride = thread.count;
    Value cs = builder.create<arith::MulIOp>(loc, dimC, dimS);
    Value total = builder.create<arith::MulIOp>(loc, dimN, cs);
    // Index arithmetic (the divisions recovering n and c above all) in 32 bits when
    // the tensor allows it: 64-bit division is many times slower on the GPU.
    Value limit = builder.create<arith::ConstantIndexOp>(loc, (int64_t)1 << 30);
    Value narrow = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, total, limit);
    auto ifOp = builder.create<scf::IfOp>(loc, narrow, /*withElseRegion=*/true);
    for (bool is32 : {true, false}) {
      builder.setInsertionPointToStart(is32 ? ifOp.thenBlock() : ifOp.elseBlock());
      if (!aligned) {
        if (failed(emitLoop(is32, first, stride, total, dimC, dimS, cs, inputs, output)))
          return failure();
        continue;
      }
      // Rows a multiple of 4 long: a quad never crosses a row, so its (n, c) is
      // found once (ncs), or its channels are c0..c0+3 of one (n, s) (nsc).
      Value rowLen = channelsLast ? dimC : dimS;
      Value four = builder.create<arith::ConstantIndexOp>(loc, 4);
      Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
      Value whole = builder.create<arith::CmpIOp>(
          loc, arith::CmpIPredicate::eq, builder.create<arith::RemUIOp>(loc, rowLen, four),
          zero);
      auto split = builder.create<scf::IfOp>(loc, whole, /*withElseRegion=*/true);
      for (bool perQuad : {true, false}) {
        OpBuilder::InsertionGuard g(builder);
        builder.setInsertionPointToStart(perQuad ? split.thenBlock() : split.elseBlock());
        if (failed(emitQuadLoop(is32, perQuad, first, stride, total, dimC, dimS, cs, inputs,
                                output)))
          return failure();
      }
    }
    builder.setInsertionPointToEnd(&entry);
    builder.create<gpu::ReturnOp>(loc);
    return success();
  }

private:
  bool channelsLast, aligned;
  /// Elements each thread handles per trip, `stride` apart (coalesced, and several
  /// independent loads in flight per thread).
  static constexpr int64_t kUnroll = 4;

  Value toWidth(Value v, bool is32) {
    if (!is32)
      return v;
    return builder.create<arith::IndexCastOp>(v.getLoc(), builder.getI32Type(), v);
  }
  Value toIndex(Value v, bool is32) {
    if (!is32)
      return v;
    return builder.create<arith::IndexCastOp>(v.getLoc(), builder.getIndexType(), v);
  }

  /// The grid-stride loop, unrolled kUnroll times, in 32- or 64-bit index arithmetic.
  LogicalResult emitLoop(bool is32, Value first, Value stride, Value total, Value dimC,
                         Value dimS, Value cs, ValueRange inputs, Value output) {
    Location loc = act.getLoc();
    Value f = toWidth(first, is32), st = toWidth(stride, is32), tot = toWidth(total, is32);
    Value c = toWidth(dimC, is32), sz = toWidth(dimS, is32), csw = toWidth(cs, is32);
    Value unroll = is32 ? builder.create<arith::ConstantIntOp>(loc, kUnroll, 32).getResult()
                        : builder.create<arith::ConstantIndexOp>(loc, kUnroll).getResult();
    Value step = builder.create<arith::MulIOp>(loc, st, unroll);
    auto loop = builder.create<scf::ForOp>(loc, f, tot, step);
    builder.setInsertionPointToStart(loop.getBody());
    for (int64_t u = 0; u < kUnroll; ++u) {
      Value i = loop.getInductionVar();
      if (u) {
        Value k = is32 ? builder.create<arith::ConstantIntOp>(loc, u, 32).getResult()
                       : builder.create<arith::ConstantIndexOp>(loc, u).getResult();
        i = builder.create<arith::AddIOp>(loc, i, builder.create<arith::MulIOp>(loc, st, k));
      }
      Value inside = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, i, tot);
      auto guard = builder.create<scf::IfOp>(loc, inside, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(guard.thenBlock());
      // ncs: i = (n*C + c)*S + s; nsc: i = (n*S + s)*C + c.
      Value n = builder.create<arith::DivUIOp>(loc, i, csw);
      Value ch = channelsLast
                     ? builder.create<arith::RemUIOp>(loc, i, c).getResult()
                     : builder.create<arith::RemUIOp>(
                           loc, builder.create<arith::DivUIOp>(loc, i, sz), c)
                           .getResult();
      if (failed(emitElement(toIndex(i, is32), toIndex(n, is32), toIndex(ch, is32), dimC,
                             inputs, output)))
        return failure();
    }
    return success();
  }

  /// (n, c) of element i, in the loop's width, as index values.
  std::pair<Value, Value> channelOf(Value i, bool is32, Value c, Value sz, Value csw) {
    Location loc = act.getLoc();
    Value n = builder.create<arith::DivUIOp>(loc, i, csw);
    Value ch = channelsLast ? builder.create<arith::RemUIOp>(loc, i, c).getResult()
                            : builder.create<arith::RemUIOp>(
                                  loc, builder.create<arith::DivUIOp>(loc, i, sz), c)
                                  .getResult();
    return {toIndex(n, is32), toIndex(ch, is32)};
  }

  /// Aligned variant: quad q covers elements 4q..4q+3, all loads first, then the four
  /// bodies, then the stores, so nothing stands between accesses to be merged; the
  /// last total % 4 elements go to the first threads.
  LogicalResult emitQuadLoop(bool is32, bool perQuad, Value first, Value stride,
                             Value total, Value dimC, Value dimS, Value cs,
                             ValueRange inputs, Value output) {
    Location loc = act.getLoc();
    Value f = toWidth(first, is32), st = toWidth(stride, is32), tot = toWidth(total, is32);
    Value c = toWidth(dimC, is32), sz = toWidth(dimS, is32), csw = toWidth(cs, is32);
    auto cst = [&](int64_t v) {
      return is32 ? builder.create<arith::ConstantIntOp>(loc, v, 32).getResult()
                  : builder.create<arith::ConstantIndexOp>(loc, v).getResult();
    };
    Value quads = builder.create<arith::DivUIOp>(loc, tot, cst(4));
    auto loop = builder.create<scf::ForOp>(loc, f, quads, st);
    {
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(loop.getBody());
      Value base = builder.create<arith::MulIOp>(loc, loop.getInductionVar(), cst(4));
      Block &body = act.getBodyBlock();
      SmallVector<Value> idx;
      SmallVector<SmallVector<Value>> loaded(4);
      for (int64_t u = 0; u < 4; ++u) {
        Value i = u ? builder.create<arith::AddIOp>(loc, base, cst(u)).getResult() : base;
        idx.push_back(toIndex(i, is32));
        for (unsigned k = 0; k < act.getNumInputs(); ++k)
          loaded[u].push_back(
              builder.create<memref::LoadOp>(loc, inputs[k], ValueRange{idx.back()}));
      }
      SmallVector<Value> results;
      std::pair<Value, Value> quadChannel;
      if (perQuad)
        quadChannel = channelOf(base, is32, c, sz, csw);
      for (int64_t u = 0; u < 4; ++u) {
        Value i = toWidth(idx[u], is32);
        auto [n, ch] = perQuad ? quadChannel : channelOf(i, is32, c, sz, csw);
        if (perQuad && channelsLast && u)
          ch = builder.create<arith::AddIOp>(loc, ch,
                                             builder.create<arith::ConstantIndexOp>(loc, u));
        IRMapping mapping;
        mapParams(mapping, n, ch, dimC);
        for (unsigned k = 0; k < act.getNumInputs(); ++k)
          mapping.map(body.getArgument(k), loaded[u][k]);
        FailureOr<SmallVector<Value>> r = cloneBody(mapping);
        if (failed(r))
          return failure();
        results.push_back((*r)[0]);
      }
      for (int64_t u = 0; u < 4; ++u)
        builder.create<memref::StoreOp>(loc, results[u], output, ValueRange{idx[u]});
    }
    Value tailStart = builder.create<arith::MulIOp>(loc, quads, cst(4));
    Value tailIndex = builder.create<arith::AddIOp>(loc, tailStart, f);
    Value inTail = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, tailIndex, tot);
    auto guard = builder.create<scf::IfOp>(loc, inTail, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(builder);
    builder.setInsertionPointToStart(guard.thenBlock());
    auto [n, ch] = channelOf(tailIndex, is32, c, sz, csw);
    return emitElement(toIndex(tailIndex, is32), n, ch, dimC, inputs, output);
  }

  LogicalResult emitElement(Value i, Value n, Value c, Value dimC, ValueRange inputs,
                            Value output) {
    Location loc = act.getLoc();
    IRMapping mapping;
    mapParams(mapping, n, c, dimC);
    Block &body = act.getBodyBlock();
    for (unsigned k = 0; k < act.getNumInputs(); ++k)
      mapping.map(body.getArgument(k),
                  builder.create<memref::LoadOp>(loc, inputs[k], ValueRange{i}));
    FailureOr<SmallVector<Value>> results = cloneBody(mapping);
    if (failed(results))
      return failure();
    builder.create<memref::StoreOp>(loc, (*results)[0], output, ValueRange{i});
    return success();
  }
};

/// Math functions that MLIR 19's GPU-to-NVVM lowering has no libdevice mapping for,
/// rewritten in ones it has.
template <typename OpT>
using MathRewrite = RulePattern<OpT>;

void populateGPUMathRewrites(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  // fma(a, b, c) keeps its single rounding as the LLVM intrinsic.
  patterns.add<MathRewrite<math::FmaOp>>(ctx, [](math::FmaOp op, ScalarBuilder &a) {
    return Value(a.b.create<LLVM::FMAOp>(a.loc, op.getA(), op.getB(), op.getC()));
  });
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
    SmallVector<gpu::GPUModuleOp> gpuModules;
    auto target = NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda",
                                            chip, "+ptx80");
    SmallVector<ActivationOp> acts(module.getOps<ActivationOp>());
    // Forward kernels first: each activation gets its gpu.module (one PTX module).
    llvm::StringMap<gpu::GPUModuleOp> moduleOf;
    for (ActivationOp act : acts) {
      if (act->hasAttr("act.grad_of"))
        continue;
      b.setInsertionPointToEnd(module.getBody());
      auto gpuModule = b.create<gpu::GPUModuleOp>(
          act.getLoc(), (act.getSymName() + "__kernels").str(), b.getArrayAttr({target}));
      gpuModules.push_back(gpuModule);
      moduleOf[act.getSymName()] = gpuModule;
      for (const std::string &dt : dts) {
        FloatType type = dt == "f32" ? FloatType(b.getF32Type()) : FloatType(b.getF64Type());
        for (bool nsc : {false, true})
          for (bool aligned : {false, true})
            if (failed(GPUKernelEmitter(act, type, nsc, aligned)
                           .emit(gpuModule, kernelName(act.getSymName(),
                                                       aligned ? "fwd16" : "fwd", dt,
                                                       nsc ? "nsc" : "ncs"))))
              return signalPassFailure();
      }
    }
    // Order-1 derivative bodies (act-autodiff, when run): backward and fused
    // kernels into their activation's module, plus the gradient reduction.
    for (ActivationOp act : acts) {
      auto of = act->getAttrOfType<StringAttr>("act.grad_of");
      if (!of)
        continue;
      auto order = act->getAttrOfType<IntegerAttr>("act.grad_order");
      gpu::GPUModuleOp gpuModule = moduleOf.lookup(of.getValue());
      if ((order && order.getInt() != 1) || !gpuModule)
        continue; // higher derivatives: CPU only
      for (const std::string &dt : dts) {
        FloatType type = dt == "f32" ? FloatType(b.getF32Type()) : FloatType(b.getF64Type());
        for (bool nsc : {false, true})
          for (bool fused : {false, true})
            if (failed(emitGPUGradKernel(gpuModule, act, type, nsc, fused,
                                         kernelName(of.getValue(), fused ? "fwdbwd" : "bwd",
                                                    dt, nsc ? "nsc" : "ncs"))))
              return signalPassFailure();
        if (llvm::is_contained(act.getParamConst(), false)) // a learnable parameter
          emitGPUReduceKernel(gpuModule, type, (of.getValue() + "__reduce_" + dt).str());
      }
    }
    for (ActivationOp act : acts)
      act.erase();
    FrozenRewritePatternSet patterns = [&] {
      RewritePatternSet set(ctx);
      populateGPUMathRewrites(set);
      populateGpuShufflePatterns(set); // f64 shuffles as two 32-bit ones
      return FrozenRewritePatternSet(std::move(set));
    }();
    for (gpu::GPUModuleOp gpuModule : gpuModules)
      if (failed(applyPatternsAndFoldGreedily(gpuModule, patterns)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace act

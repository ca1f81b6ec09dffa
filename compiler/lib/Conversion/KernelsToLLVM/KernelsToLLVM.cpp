// act-kernels-to-llvm: kernels (func/scf/memref/arith/math) -> LLVM dialect (CPU).
#include "act/Conversion/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>
#include <dlfcn.h>
#include <string>

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_MATHTOLIBM
#include "act/Conversion/Passes.h.inc"

bool vectorLibmLoaded() {
#if defined(__x86_64__)
  static const bool loaded = [] {
    if (const char *e = std::getenv("ACT_NO_LIBMVEC"); e && *e && *e != '0')
      return false;
    return dlopen("libmvec.so.1", RTLD_NOW | RTLD_GLOBAL) != nullptr;
  }();
  return loaded;
#else
  return false;
#endif
}

namespace {
/// A math op on a vector as wide as the host's registers (16 or 8 floats, 8 or 4
/// doubles) as one call of libmvec's variant under the x86-64 vector function ABI
/// (`_ZGVeN16v_sinf`: AVX-512, 16 lanes, one vector argument), where libm's would be
/// one scalar call a lane: sin, cos, atan, asinh... took 1-3.5 ns an element.
template <typename Op>
struct VectorLibmCall : OpRewritePattern<Op> {
  VectorLibmCall(MLIRContext *ctx, StringRef name)
      : OpRewritePattern<Op>(ctx, /*benefit=*/2), name(name) {}
  LogicalResult matchAndRewrite(Op op, PatternRewriter &rewriter) const override {
    auto type = dyn_cast<VectorType>(op->getResult(0).getType());
    if (!type || type.getRank() != 1 || type.isScalable())
      return failure();
    Type element = type.getElementType();
    if (!element.isF32() && !element.isF64())
      return failure();
    unsigned bits = (unsigned)type.getNumElements() * element.getIntOrFloatBitWidth();
    if (bits != hostVectorBits() || (bits != 512 && bits != 256))
      return failure();
    std::string callee = std::string("_ZGV") + (bits == 512 ? "e" : "d") + "N" +
                         std::to_string(type.getNumElements()) +
                         std::string(op->getNumOperands(), 'v') + "_" + name +
                         (element.isF32() ? "f" : "");
    auto module = op->template getParentOfType<ModuleOp>();
    if (!module.lookupSymbol(callee)) {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(module.getBody());
      auto decl = rewriter.create<func::FuncOp>(
          op->getLoc(), callee,
          rewriter.getFunctionType(op->getOperandTypes(), op->getResultTypes()));
      decl.setPrivate();
    }
    rewriter.replaceOpWithNewOp<func::CallOp>(op, callee, op->getResultTypes(),
                                              op->getOperands());
    return success();
  }
  std::string name;
};

struct MathToLibmPass : impl::MathToLibmBase<MathToLibmPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (vectorLibmLoaded()) {
      MLIRContext *ctx = &getContext();
      patterns.add<VectorLibmCall<math::SinOp>>(ctx, "sin");
      patterns.add<VectorLibmCall<math::CosOp>>(ctx, "cos");
      patterns.add<VectorLibmCall<math::TanOp>>(ctx, "tan");
      patterns.add<VectorLibmCall<math::AsinOp>>(ctx, "asin");
      patterns.add<VectorLibmCall<math::AcosOp>>(ctx, "acos");
      patterns.add<VectorLibmCall<math::AtanOp>>(ctx, "atan");
      patterns.add<VectorLibmCall<math::SinhOp>>(ctx, "sinh");
      patterns.add<VectorLibmCall<math::CoshOp>>(ctx, "cosh");
      patterns.add<VectorLibmCall<math::AsinhOp>>(ctx, "asinh");
      patterns.add<VectorLibmCall<math::AcoshOp>>(ctx, "acosh");
      patterns.add<VectorLibmCall<math::AtanhOp>>(ctx, "atanh");
      patterns.add<VectorLibmCall<math::CbrtOp>>(ctx, "cbrt");
      patterns.add<VectorLibmCall<math::LogOp>>(ctx, "log");
      patterns.add<VectorLibmCall<math::Log2Op>>(ctx, "log2");
      patterns.add<VectorLibmCall<math::Log10Op>>(ctx, "log10");
      patterns.add<VectorLibmCall<math::Exp2Op>>(ctx, "exp2");
      patterns.add<VectorLibmCall<math::ErfOp>>(ctx, "erf");
      patterns.add<VectorLibmCall<math::PowFOp>>(ctx, "pow");
    }
    populateMathToLibmConversionPatterns(patterns);
    ConversionTarget target(getContext());
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addIllegalOp<math::AcosOp, math::AcoshOp, math::AsinOp, math::AsinhOp,
                        math::AtanOp, math::Atan2Op, math::AtanhOp, math::CbrtOp,
                        math::CosOp, math::CoshOp, math::ErfOp, math::ExpOp, math::Exp2Op,
                        math::ExpM1Op, math::LogOp, math::Log10Op, math::Log1pOp,
                        math::Log2Op, math::PowFOp, math::SinOp, math::SinhOp, math::TanOp,
                        math::TanhOp>();
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

/// arith.maxnumf/minnumf as llvm.intr.maxnum/minnum. arith-expand-ops would write
/// them as two compares and two selects (NaN tests), which the x86 backend keeps
/// as such without LLVM's IR optimisation; the intrinsics become one vmaxps/vminps
/// where an operand is a constant, as pwl's segment index clamp has.
struct NumMinMaxToIntrinsicsPass
    : PassWrapper<NumMinMaxToIntrinsicsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(NumMinMaxToIntrinsicsPass)
  void runOnOperation() override {
    getOperation().walk([](Operation *op) {
      if (!isa<arith::MaxNumFOp, arith::MinNumFOp>(op))
        return;
      OpBuilder b(op);
      Value a = op->getOperand(0), c = op->getOperand(1);
      Value r = isa<arith::MaxNumFOp>(op)
                    ? b.create<LLVM::MaxNumOp>(op->getLoc(), a.getType(), a, c).getResult()
                    : b.create<LLVM::MinNumOp>(op->getLoc(), a.getType(), a, c).getResult();
      op->getResult(0).replaceAllUsesWith(r);
      op->erase();
    });
  }
};

/// vector, memref, arith, math, func and cf to the LLVM dialect in one conversion
/// (one type converter, one walk), where the upstream passes, one a dialect, each
/// walked the module and built their patterns (2.7 of the pipeline's 7.8 ms an
/// activation's fwd+bwd; 1.8 in one). The kernels' vectors are one-dimensional, so the vector lowerings
/// createConvertVectorToLLVMPass runs first (contractions, transposes, n-D
/// broadcasts and transfers) have nothing to do.
struct KernelsToLLVMConversionPass
    : PassWrapper<KernelsToLLVMConversionPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(KernelsToLLVMConversionPass)
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<LLVM::LLVMDialect>();
  }
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    LowerToLLVMOptions options(ctx);
    LLVMTypeConverter converter(ctx, options);
    RewritePatternSet patterns(ctx);
    // What ConvertVectorToLLVM lowers first that 1-D kernels hold: broadcasts
    // (to splats), constant masks, bitcasts, shape casts.
    vector::populateVectorBroadcastLoweringPatterns(patterns);
    vector::populateVectorMaskOpLoweringPatterns(patterns);
    vector::populateVectorBitCastLoweringPatterns(patterns);
    vector::populateVectorShapeCastLoweringPatterns(patterns);
    vector::populateVectorMaskMaterializationPatterns(patterns, /*force32BitVectorIndices=*/true);
    populateVectorToLLVMConversionPatterns(converter, patterns,
                                           /*reassociateFPReductions=*/false,
                                           /*force32BitVectorIndices=*/true);
    populateFinalizeMemRefToLLVMConversionPatterns(converter, patterns);
    arith::populateArithToLLVMConversionPatterns(converter, patterns);
    populateMathToLLVMConversionPatterns(converter, patterns);
    SymbolTable symbols(getOperation());
    populateFuncToLLVMConversionPatterns(converter, patterns, &symbols);
    cf::populateControlFlowToLLVMConversionPatterns(converter, patterns);
    LLVMConversionTarget target(*ctx);
    target.addLegalOp<ModuleOp>();
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

/// Lets the x86 backend keep 512-bit vectors (by default it splits them into
/// 256-bit halves on CPUs that prefer those) when the kernels were emitted that wide.
struct WideVectorsPass : PassWrapper<WideVectorsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(WideVectorsPass)
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    auto pair = [&](StringRef k, StringRef v) {
      return ArrayAttr::get(ctx, {StringAttr::get(ctx, k), StringAttr::get(ctx, v)});
    };
    if (hostVectorBits() < 512)
      return; // narrower vectors are legal everywhere
    std::string bits = std::to_string(hostVectorBits());
    getOperation().walk([&](LLVM::LLVMFuncOp fn) {
      if (!fn.isExternal())
        fn.setPassthroughAttr(ArrayAttr::get(
            ctx, {pair("min-legal-vector-width", bits), pair("prefer-vector-width", bits)}));
    });
  }
};
} // namespace
} // namespace act

void act::buildKernelsToLLVMPipeline(OpPassManager &pm, bool canonical) {
  if (!canonical) {
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  // float32 exp, expm1, log1p and tanh become vectorisable arithmetic; the other
  // transcendentals go to libm (accurate log1p/expm1; MathToLLVM would expand those
  // as log(1 + x) and exp(x) - 1). What remains (abs, sqrt, floor, fma, ...) maps
  // to intrinsics.
  pm.addPass(act::createApproximateMath());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // After the math is expanded, so the chains it measures are the real ones.
  pm.addPass(act::createStageLoops());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(act::createMathToLibm());
  pm.addPass(std::make_unique<act::NumMinMaxToIntrinsicsPass>());
  // bf16 <-> f32 as integer code (round to nearest even, NaN kept): LLVM would call
  // __truncsfbf2, which Debian 12's libgcc lacks. f16 uses F16C or libgcc.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(std::make_unique<act::KernelsToLLVMConversionPass>());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(std::make_unique<act::WideVectorsPass>());
}

void act::registerKernelsToLLVMPipeline() {
  PassPipelineRegistration<>("act-kernels-to-llvm",
                             "Lower act kernels to the LLVM dialect for the CPU",
                             [](OpPassManager &pm) { buildKernelsToLLVMPipeline(pm); });
}

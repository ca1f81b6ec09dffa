// act-kernels-to-llvm: kernels (func/scf/memref/arith/math) -> LLVM dialect (CPU).
#include "act/Conversion/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
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

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_MATHTOLIBM
#include "act/Conversion/Passes.h.inc"

namespace {
struct MathToLibmPass : impl::MathToLibmBase<MathToLibmPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
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

// act: the pipeline's stages, shared by actc and the runtime.
#include "act/Pipeline/Pipeline.h"

#include "act/Conversion/Passes.h"
#include "act/Dialect/ActPasses.h"
#include "act/Dialect/Derivatives.h"
#include "act/Gen/MLIRGen.h"
#include "act/Parse/Parser.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

namespace act {

void registerAllDialects(DialectRegistry &registry) {
  registry.insert<ActDialect, arith::ArithDialect, math::MathDialect,
                  memref::MemRefDialect, func::FuncDialect, scf::SCFDialect, vector::VectorDialect,
                  cf::ControlFlowDialect, LLVM::LLVMDialect, gpu::GPUDialect,
                  NVVM::NVVMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerDerivativeModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

struct DiagnosticCollector::Impl {
  MLIRContext &ctx;
  DiagnosticEngine::HandlerID id;
};

DiagnosticCollector::DiagnosticCollector(MLIRContext &ctx, std::vector<Diagnostic> &out,
                                         const std::string *source)
    : impl(new Impl{ctx, {}}) {
  impl->id = ctx.getDiagEngine().registerHandler([&out, source](mlir::Diagnostic &d) {
    Diagnostic diag;
    diag.severity = d.getSeverity() == DiagnosticSeverity::Error ? Diagnostic::Severity::Error
                    : d.getSeverity() == DiagnosticSeverity::Warning
                        ? Diagnostic::Severity::Warning
                        : Diagnostic::Severity::Note;
    diag.message = d.str();
    if (auto loc = dyn_cast<FileLineColLoc>(d.getLocation())) {
      diag.file = loc.getFilename().str();
      diag.line = loc.getLine();
      diag.column = loc.getColumn();
      if (source) {
        StringRef text(*source);
        for (unsigned i = 1; i < diag.line && !text.empty(); ++i)
          text = text.split('\n').second;
        diag.sourceLine = text.split('\n').first.str();
      }
    }
    out.push_back(std::move(diag));
    return success();
  });
}

DiagnosticCollector::~DiagnosticCollector() {
  impl->ctx.getDiagEngine().eraseHandler(impl->id);
}

OwningOpRef<ModuleOp> compileToAct(MLIRContext &ctx, const std::string &source,
                                   const std::string &filename, ast::File &ast,
                                   std::vector<Diagnostic> &diags) {
  size_t before = diags.size();
  ast = parse::parseAndCheck(source, filename, diags);
  for (size_t i = before; i < diags.size(); ++i)
    if (diags[i].severity == Diagnostic::Severity::Error)
      return nullptr;
  return mlirGen(ctx, ast, diags);
}

/// Pass managers of the pipeline's stages: the IR is verified once when a
/// stage ends (runStage), not after each of its passes: the per-pass verifier was
/// about a tenth of a JIT compile. act-opt and lit tests, and builds with
/// ACT_VERIFY_EACH_PASS=1 in the environment, verify after every pass.
static void verifyAtStageEnd(PassManager &pm) {
  static const bool eachPass = [] {
    const char *e = std::getenv("ACT_VERIFY_EACH_PASS");
    return e && *e && *e != '0';
  }();
  pm.enableVerifier(eachPass);
}

static LogicalResult runStage(PassManager &pm, ModuleOp module) {
  if (failed(pm.run(module)))
    return failure();
  return verify(module);
}

LogicalResult simplifyAct(ModuleOp module) {
  PassManager pm(module.getContext());
  verifyAtStageEnd(pm);
  // Stable forms first, so canonicalisation and later act-autodiff see them; CSE
  // before, so repeated spellings (exp(b*x) twice) are one value the patterns match.
  pm.addPass(createCSEPass());
  pm.addPass(createActStabilize());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  return runStage(pm, module);
}

LogicalResult differentiate(ModuleOp module, unsigned order, bool guardZeroAdjoints) {
  PassManager pm(module.getContext());
  verifyAtStageEnd(pm);
  pm.addPass(createActAutodiff(ActAutodiffOptions{order, guardZeroAdjoints}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  return runStage(pm, module);
}

/// act-expand, convert-act-to-kernels and the cleanups after them.
static void addKernelPasses(PassManager &pm, const KernelOptions &opts) {
  ActExpandOptions expand;
  expand.singlePrecision = llvm::none_of(opts.dtypes, [](const std::string &d) {
    return d == "f64";
  });
  pm.addPass(createActExpand(expand));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  ConvertActToKernelsOptions kernelOpts;
  kernelOpts.dtypes = opts.dtypes;
  kernelOpts.layouts = opts.layouts;
  kernelOpts.kinds = opts.kinds;
  kernelOpts.vectorBits = opts.vectorBits;
  kernelOpts.columnClass = opts.columnClass;
  kernelOpts.forwardRows = opts.forwardRows;
  pm.addPass(createConvertActToKernels(kernelOpts));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
}

LogicalResult lowerToKernels(ModuleOp module, const KernelOptions &opts) {
  PassManager pm(module.getContext());
  verifyAtStageEnd(pm);
  addKernelPasses(pm, opts);
  return runStage(pm, module);
}

LogicalResult lowerToLLVMDialect(ModuleOp module, const KernelOptions &opts) {
  PassManager pm(module.getContext());
  verifyAtStageEnd(pm);
  addKernelPasses(pm, opts);
  buildKernelsToLLVMPipeline(pm, /*canonical=*/true);
  return runStage(pm, module);
}

std::string cudaToolkitPath() {
  for (const char *var : {"ACT_CUDA_PATH", "CUDA_HOME", "CUDA_PATH"})
    if (const char *v = std::getenv(var); v && *v)
      return v;
  return "/usr/local/cuda";
}

std::string lowerToPTX(ModuleOp module, const std::string &chip) {
  PassManager pm(module.getContext());
  pm.addPass(createActAutodiff(ActAutodiffOptions{1, true}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createActExpand());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  ConvertActToGPUOptions gpuOpts;
  gpuOpts.chip = chip;
  pm.addPass(createConvertActToGPU(gpuOpts));
  buildKernelsToPTXPipeline(pm, cudaToolkitPath());
  if (failed(pm.run(module)))
    return "";
  return extractPTX(module);
}

LogicalResult lowerToLLVMDialect(ModuleOp module) {
  PassManager pm(module.getContext());
  verifyAtStageEnd(pm);
  buildKernelsToLLVMPipeline(pm);
  return runStage(pm, module);
}

std::string translateToLLVMIR(ModuleOp module) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return "";
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (tmBuilder) {
    if (auto tm = tmBuilder->createTargetMachine()) {
      llvmModule->setDataLayout((*tm)->createDataLayout());
      llvmModule->setTargetTriple((*tm)->getTargetTriple().getTriple());
      auto optimize = makeOptimizingTransformer(2, 0, tm->get());
      if (auto err = optimize(llvmModule.get()))
        llvm::consumeError(std::move(err));
    } else {
      llvm::consumeError(tm.takeError());
    }
  } else {
    llvm::consumeError(tmBuilder.takeError());
  }
  std::string out;
  llvm::raw_string_ostream os(out);
  llvmModule->print(os, nullptr);
  return out;
}

} // namespace act

// act runtime: lowering one activation to machine code with mlir::ExecutionEngine.
#include "JIT.h"

#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <mutex>

using namespace mlir;

namespace act::detail {

namespace {
void initNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}
} // namespace

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  }
  return "?";
}

KernelSet::~KernelSet() = default;

std::unique_ptr<KernelSet> KernelSet::build(ModuleOp actModule, const std::string &name,
                                            DType dtype, unsigned order) {
  initNativeTarget();
  MLIRContext *ctx = actModule.getContext();
  std::vector<Diagnostic> diags;
  DiagnosticCollector collect(*ctx, diags);

  // Work on a module holding only this activation.
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(ctx));
  auto act = actModule.lookupSymbol<ActivationOp>(name);
  if (!act)
    throw Error("internal: no activation '" + name + "' in the module");
  OpBuilder builder(ctx);
  builder.setInsertionPointToEnd(module->getBody());
  builder.clone(*act.getOperation());

  if (failed(differentiate(*module, order)) ||
      failed(lowerToKernels(*module, KernelOptions{{dtypeName(dtype)}, {"ncs", "nsc"}})) ||
      failed(lowerToLLVMDialect(*module)))
    throw CompileError(diags);

  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder)
    throw Error("cannot target the host CPU: " + llvm::toString(tmBuilder.takeError()));
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = tmBuilder->createTargetMachine();
  if (!tm)
    throw Error("cannot target the host CPU: " + llvm::toString(tm.takeError()));

  ExecutionEngineOptions options;
  options.transformer = makeOptimizingTransformer(3, 0, tm->get());
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = ExecutionEngine::create(*module, options, std::move(*tm));
  if (!engine)
    throw Error("JIT compilation of '" + name +
                "' failed: " + llvm::toString(engine.takeError()));

  std::unique_ptr<KernelSet> set(new KernelSet());
  set->engine = std::move(*engine);
  const char *layouts[2] = {"ncs", "nsc"};
  for (int l = 0; l < 2; ++l) {
    auto lookup = [&](const char *kind) {
      auto fn = set->engine->lookupPacked(kernelName(name, kind, dtypeName(dtype), layouts[l]));
      if (!fn)
        throw Error("internal: kernel missing: " + llvm::toString(fn.takeError()));
      return *fn;
    };
    set->fwd[l] = lookup("fwd");
    if (order > 1) {
      set->derivs[l] = lookup(("derivs" + std::to_string(order)).c_str());
      continue;
    }
    set->bwd[l] = lookup("bwd");
    set->fwdbwd[l] = lookup("fwdbwd");
  }
  return set;
}

} // namespace act::detail

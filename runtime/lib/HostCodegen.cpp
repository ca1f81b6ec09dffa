// act runtime: machine code for the host CPU (HostCodegen.h).
#include "HostCodegen.h"

#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "mlir/ExecutionEngine/OptUtils.h"

#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

using namespace mlir;

namespace act::detail {

bool loopStrengthReduction() {
  static const bool on = [] {
    const char *e = std::getenv("ACT_JIT_LSR");
    return e && *e && *e != '0';
  }();
  return on;
}

namespace {
/// LSR is switched by a command-line option of LLVM's code generator (there is no
/// per-TargetMachine setting): set once for the process, before the first build.
void disableLoopStrengthReduction() {
  if (loopStrengthReduction())
    return;
  auto &options = llvm::cl::getRegisteredOptions();
  if (auto it = options.find("disable-lsr"); it != options.end())
    if (auto *flag = static_cast<llvm::cl::opt<bool> *>(it->second))
      flag->setValue(true);
}

} // namespace

const Host &host() {
  static const Host *h = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      llvm::consumeError(jtmb.takeError());
      return (Host *)nullptr;
    }
    jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Less);
    disableLoopStrengthReduction();
    jtmb->setRelocationModel(llvm::Reloc::PIC_);
    // The small code model: JITLink places a build's code and constants in one
    // allocation, so constants are RIP-relative operands (folded into broadcasts),
    // where the JIT's default large model loaded each address with a movabs first
    // (acon_c's nsc wide backward step: 14 of its 297 instructions).
    jtmb->setCodeModel(llvm::CodeModel::Small);
    auto *out = new Host{*jtmb, jtmb->getTargetTriple().str(), jtmb->getCPU(),
                         jtmb->getFeatures().getString()};
    return out;
  }();
  if (!h)
    throw Error("cannot target the host CPU");
  return *h;
}

llvm::orc::LLJIT &processJIT() {
  static llvm::orc::LLJIT *jit = [] {
    act::vectorLibmLoaded(); // before any link: cached kernels may call libmvec
    auto built = llvm::orc::LLJITBuilder()
                     .setJITTargetMachineBuilder(host().builder)
                     .create();
    if (!built) {
      llvm::consumeError(built.takeError());
      return (llvm::orc::LLJIT *)nullptr;
    }
    return built->release();
  }();
  if (!jit)
    throw Error("cannot create the JIT for the host CPU");
  return *jit;
}

namespace {
/// Target machines are not safe for concurrent code generation; builds borrow one
/// from this pool and return it (creating one costs about as much as a small kernel).
class TargetMachinePool {
public:
  std::unique_ptr<llvm::TargetMachine> take() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!free.empty()) {
        auto tm = std::move(free.back());
        free.pop_back();
        return tm;
      }
    }
    auto tm = host().builder.createTargetMachine();
    if (!tm)
      throw Error("cannot target the host CPU: " + llvm::toString(tm.takeError()));
    return std::move(*tm);
  }
  void give(std::unique_ptr<llvm::TargetMachine> tm) {
    std::lock_guard<std::mutex> lock(mutex);
    free.push_back(std::move(tm));
  }

private:
  std::mutex mutex;
  std::vector<std::unique_ptr<llvm::TargetMachine>> free;
};

TargetMachinePool &tmPool() {
  static auto *pool = new TargetMachinePool();
  return *pool;
}

/// Adds `_mlir_<f>(ptr args)` for every function `f` defined in `module`, calling `f`
/// with argument i loaded from *args[i] (the calling convention of
/// mlir::ExecutionEngine::lookupPacked), and makes `f` itself internal so that it is
/// inlined into its wrapper instead of being compiled twice.
void packFunctionArguments(llvm::Module &module) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::IRBuilder<> builder(ctx);
  std::vector<llvm::Function *> kernels;
  for (llvm::Function &f : module.functions())
    if (!f.isDeclaration() && f.hasExternalLinkage())
      kernels.push_back(&f);
  for (llvm::Function *f : kernels) {
    auto *type = llvm::FunctionType::get(builder.getVoidTy(), builder.getPtrTy(), false);
    auto *wrapper = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                           "_mlir_" + f->getName(), module);
    builder.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", wrapper));
    llvm::Value *argList = wrapper->getArg(0);
    std::vector<llvm::Value *> args;
    for (llvm::Argument &arg : f->args()) {
      llvm::Value *slot = builder.CreateConstGEP1_64(builder.getPtrTy(), argList, arg.getArgNo());
      llvm::Value *ptr = builder.CreateLoad(builder.getPtrTy(), slot);
      args.push_back(builder.CreateLoad(arg.getType(), ptr));
    }
    llvm::Value *result = builder.CreateCall(f, args);
    if (!result->getType()->isVoidTy()) {
      llvm::Value *slot = builder.CreateConstGEP1_64(builder.getPtrTy(), argList, f->arg_size());
      builder.CreateStore(result, builder.CreateLoad(builder.getPtrTy(), slot));
    }
    builder.CreateRetVoid();
    f->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
}

/// Runs `passes` over `module` for `tm`.
void runIrPasses(llvm::Module &module, IrPasses passes, llvm::TargetMachine *tm) {
  if (passes == IrPasses::None)
    return;
  if (passes != IrPasses::RotateLoops) {
    unsigned level = (unsigned)passes - (unsigned)IrPasses::O1 + 1;
    if (llvm::Error err = makeOptimizingTransformer(level, 0, tm)(&module))
      throw Error("optimising the kernels failed: " + llvm::toString(std::move(err)));
    return;
  }
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm;
  if (llvm::Error err = pb.parsePassPipeline(mpm, "function(loop-rotate,instcombine)"))
    throw Error("internal: " + llvm::toString(std::move(err)));
  mpm.run(module, mam);
}

} // namespace

IrPasses irPasses(ModuleOp actModule, const std::vector<std::string> &names) {
  static const int forced = [] {
    const char *e = std::getenv("ACT_JIT_OPT");
    return e && *e ? std::clamp(std::atoi(e), 0, 3) : -1;
  }();
  if (forced >= 0)
    return forced == 0 ? IrPasses::None : IrPasses((int)IrPasses::O1 + forced - 1);
  for (const std::string &name : names)
    if (auto act = dyn_cast_or_null<ActivationOp>(actModule.lookupSymbol(name)))
      for (unsigned i = 0, n = act.getParamNames().size(); i < n; ++i)
        if (act.getTableLength(i) > 0)
          return IrPasses::RotateLoops;
  return IrPasses::None;
}

const char *irPassesName(IrPasses passes) {
  switch (passes) {
  case IrPasses::None: return "O0";
  case IrPasses::RotateLoops: return "rotate";
  case IrPasses::O1: return "O1";
  case IrPasses::O2: return "O2";
  case IrPasses::O3: return "O3";
  }
  return "?";
}

std::unique_ptr<llvm::MemoryBuffer> optimizeAndGenerate(llvm::Module &module,
                                                        BuildStats &stats, bool quick,
                                                        IrPasses passes) {
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<llvm::TargetMachine> tm = tmPool().take();
  module.setDataLayout(tm->createDataLayout());
  module.setTargetTriple(tm->getTargetTriple().str());
  packFunctionArguments(module);
  if (!quick)
    runIrPasses(module, passes, tm.get());
  stats.optMs += msSince(t0);
  llvm::CodeGenOptLevel level = tm->getOptLevel();
  if (quick)
    tm->setOptLevel(llvm::CodeGenOptLevel::None);
  auto object = llvm::orc::SimpleCompiler(*tm)(module);
  tm->setOptLevel(level);
  tmPool().give(std::move(tm));
  if (!object)
    throw Error("code generation failed: " + llvm::toString(object.takeError()));
  return std::move(*object);
}

std::unique_ptr<llvm::MemoryBuffer>
bundleObjects(const std::vector<std::unique_ptr<llvm::MemoryBuffer>> &objects) {
  std::string out = "ACTOBJS1";
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out.push_back(char(v >> (8 * i)));
  };
  put(objects.size(), 4);
  for (const auto &o : objects) {
    put(o->getBufferSize(), 8);
    out += o->getBuffer();
  }
  return llvm::MemoryBuffer::getMemBufferCopy(out, "act-kernels");
}

std::vector<std::unique_ptr<llvm::MemoryBuffer>> unbundleObjects(llvm::StringRef bundle) {
  auto get = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= uint64_t((uint8_t)bundle[at + i]) << (8 * i);
    return v;
  };
  if (bundle.size() < 12 || !bundle.starts_with("ACTOBJS1"))
    throw Error("internal: malformed object bundle");
  uint64_t count = get(8, 4);
  size_t at = 12;
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects;
  for (uint64_t i = 0; i < count; ++i) {
    if (bundle.size() - at < 8)
      throw Error("internal: malformed object bundle");
    uint64_t size = get(at, 8);
    at += 8;
    if (bundle.size() - at < size)
      throw Error("internal: malformed object bundle");
    objects.push_back(llvm::MemoryBuffer::getMemBufferCopy(bundle.substr(at, size),
                                                           "act-kernels"));
    at += size;
  }
  if (at != bundle.size())
    throw Error("internal: malformed object bundle");
  return objects;
}

} // namespace act::detail

// act runtime: lowering activations to machine code and linking it into the process.
//
//   act op(s) --differentiate, lowerToLLVMDialect (kernels, then LLVM)--> LLVM dialect
//     --translate, pack--> LLVM IR --TargetMachine (codegen -O1)--> object file
//     --(kernel cache)--> ORC LLJIT (JITLink, process symbols) --> packed entry points
//
// The object file is the unit both of caching and of linking, so a cache hit does
// exactly what a miss does after code generation. The cache key hashes the act ops'
// text (the lowering is a function of it and of this build of act), the element type,
// the order and the host target, so a hit skips MLIR and LLVM entirely.
#include "JIT.h"

#include "KernelCache.h"

#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <unistd.h>

using namespace mlir;

namespace act::detail {

namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// The host target, detected once.
struct Host {
  mutable llvm::orc::JITTargetMachineBuilder builder; // createTargetMachine() is not const
  std::string triple, cpu, features;
};

/// Whether code generation runs LLVM's loop strength reduction: off unless
/// ACT_JIT_LSR=1 (experiments; part of the cache key). The kernels' loops index
/// every buffer by one induction variable already; LSR cost about a fifth of code
/// generation (llc -O1 on a fwd+bwd module: 58 -> 46 ms without it).
bool loopStrengthReduction() {
  static const bool on = [] {
    const char *e = std::getenv("ACT_JIT_LSR");
    return e && *e && *e != '0';
  }();
  return on;
}

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

/// The process-wide JIT. Never destroyed: code may be unlinked by KernelSets that
/// live in static objects, after function-local statics are gone.
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

/// The act op `name` of `actModule`, printed without its source text: what the
/// cache key hashes.
std::string printActivation(ModuleOp actModule, const std::string &name) {
  Operation *op = actModule.lookupSymbol(name);
  if (!op || !isa<ActivationOp>(op))
    throw Error("internal: no activation '" + name + "' in the module");
  // The source text is documentation only: two spellings of one formula share code.
  Operation *copy = op->clone();
  copy->removeAttr("formula");
  std::string text;
  llvm::raw_string_ostream os(text);
  copy->print(os, OpPrintingFlags().printGenericOpForm().useLocalScope());
  copy->destroy();
  return text;
}

/// LLVM IR passes before code generation. The MLIR pipeline has already
/// vectorised, canonicalised, CSE'd and hoisted the kernels; for most activations the
/// inner loops that -O1 gives are no shorter than without it (e.g. 42 vs 43
/// instructions for swish forward, 229 both for acon_c backward), while it costs
/// about a third of the compile time: none. Activations with a table parameter
/// (pwlu) get loop rotation and instcombine: their gradient loops carry one register
/// a table entry, and in the unrotated loops the register allocator moved 40 of
/// them a vector step (pwlu ncs backward 0.745 -> 0.681 ms on 1M floats in cache,
/// where -O2 gave 0.656, for 3 ms of compile time where -O2 took 25-90).
/// ACT_JIT_OPT=0..3 sets LLVM's -O0..-O3 pipeline for every build (experiments);
/// the choice is part of the cache key.
enum class IrPasses { None, RotateLoops, O1, O2, O3 };

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

/// Packs `module`'s kernels, runs `passes` and generates an object file.
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

/// Several object files as one buffer (the kernel cache's payload):
/// "ACTOBJS1", a 4-byte count, then each object as an 8-byte size and its bytes
/// (integers little endian).
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

/// The objects of a bundle; throws act::Error when it is malformed.
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

/// Lowers the activations `names` of `actModule` (cloned, the module is left
/// unchanged) to object files for the host, bundled.
std::vector<std::string> layoutNames(unsigned parts) {
  std::vector<std::string> out;
  if (parts & layoutBit(Layout::NCS))
    out.push_back("ncs");
  if (parts & layoutBit(Layout::NSC))
    out.push_back("nsc");
  return out;
}

/// The order-1 kernel kinds in `parts` (higher orders have one kind, derivs).
std::vector<std::string> kindNames(unsigned parts, unsigned order) {
  if (order > 1)
    return {"fwd", "derivs"};
  std::vector<std::string> out;
  if (parts & kForward)
    out.push_back("fwd");
  if (parts & kBackward)
    out.push_back("bwd");
  if (parts & kForwardBackward)
    out.push_back("fwdbwd");
  return out;
}

/// The kernels of one compile in groups, each lowered on its own: one group per
/// layout, or with one layout the larger kernels first, so their code generation
/// starts earliest: the derivative kernels, but the forward ones where they go by
/// transposed tiles (`forwardFirst`: pwlu nsc fwd+bwd compile 54 -> 47 ms, while
/// for other activations forward first cost 1-3 ms); one group when code generation
/// gets one thread.
struct KernelGroup {
  std::vector<std::string> layouts, kinds;
};
std::vector<KernelGroup> kernelGroups(unsigned what, unsigned order, unsigned threads,
                                      bool forwardFirst) {
  std::vector<std::string> layouts = layoutNames(what), kinds = kindNames(what, order);
  if (threads <= 1)
    return {{layouts, kinds}};
  if (layouts.size() > 1)
    return {{{layouts[0]}, kinds}, {{layouts[1]}, kinds}};
  if (kinds.size() > 1) {
    KernelGroup derivatives{layouts, std::vector<std::string>(kinds.begin() + 1, kinds.end())};
    KernelGroup forward{layouts, {kinds[0]}};
    if (forwardFirst)
      return {forward, derivatives};
    return {derivatives, forward};
  }
  return {{layouts, kinds}};
}

std::unique_ptr<llvm::MemoryBuffer> compileToObject(ModuleOp actModule,
                                                    const std::vector<std::string> &names,
                                                    DType dtype, unsigned order,
                                                    unsigned what, BuildStats &stats) {
  auto start = std::chrono::steady_clock::now();
  const IrPasses passes = irPasses(actModule, names);
  const bool quick = what & kQuick;
  MLIRContext *ctx = actModule.getContext();
  std::vector<Diagnostic> diags;
  DiagnosticCollector collect(*ctx, diags);

  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(ctx));
  OpBuilder builder(ctx);
  builder.setInsertionPointToEnd(module->getBody());
  for (const std::string &name : names)
    builder.clone(*actModule.lookupSymbol(name));

  // Forward kernels alone need no derivative bodies.
  bool needsGrad = order > 1 || (what & (kBackward | kForwardBackward));
  if (needsGrad && failed(differentiate(*module, order)))
    throw CompileError(diags);

  // Each group is lowered on this thread (MLIR) into an LLVMContext of its own, then
  // optimised and generated on a thread of its own while the next group is lowered:
  // a forward-and-backward compile generates the backward kernel while it lowers the
  // forward one, instead of lowering both first.
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  if (const char *env = std::getenv("ACT_JIT_THREADS"); env && std::atoi(env) > 0)
    threads = (unsigned)std::atoi(env);
  // Channels-last forward kernels of a columns class with a per-channel table go by
  // transposed tiles, the larger kernel of the pair.
  bool tiledForward = (what & layoutBit(Layout::NSC)) && !(what & layoutBit(Layout::NCS)) &&
                      columnClassIn(what) > 0 &&
                      llvm::any_of(names, [&](const std::string &name) {
                        auto act = cast<ActivationOp>(actModule.lookupSymbol(name));
                        return llvm::any_of(llvm::seq(0u, act.getNumParams()), [&](unsigned p) {
                          return act.isPerChannel(p) && act.getTableLength(p) > 0;
                        });
                      });
  std::vector<KernelGroup> groups = kernelGroups(what, order, threads, tiledForward);
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects(groups.size());
  std::vector<std::string> errors(groups.size());
  std::vector<BuildStats> groupStats(groups.size());
  std::vector<std::thread> workers;
  auto joinAll = llvm::make_scope_exit([&] {
    for (std::thread &w : workers)
      w.join();
  });
  double lowerMs = msSince(start);
  for (size_t g = 0; g < groups.size(); ++g) {
    auto t0 = std::chrono::steady_clock::now();
    OwningOpRef<ModuleOp> groupModule =
        g + 1 < groups.size() ? OwningOpRef<ModuleOp>(module->clone()) : std::move(module);
    // A group lowers only the bodies its kinds are built from: forward kernels from
    // the activation, the others from its derivative bodies (act-expand and the
    // canonicalisations after it would otherwise work on both: acon_c nsc's forward
    // group lowered 0.8 ms slower).
    bool forwardKind = llvm::is_contained(groups[g].kinds, "fwd");
    bool derivativeKind =
        llvm::any_of(groups[g].kinds, [](const std::string &k) { return k != "fwd"; });
    for (ActivationOp act : llvm::make_early_inc_range(groupModule->getOps<ActivationOp>()))
      if (act->hasAttr("act.grad_of") ? !derivativeKind : !forwardKind)
        act.erase();
    KernelOptions options{{dtypeName(dtype)}, groups[g].layouts, groups[g].kinds, quick ? 1u : 0u};
    options.columnClass = columnClassIn(what);
    options.forwardRows = forwardRowsIn(what);
    if (failed(lowerToLLVMDialect(*groupModule, options)))
      throw CompileError(diags);
    auto llvmContext = std::make_unique<llvm::LLVMContext>();
    std::unique_ptr<llvm::Module> llvmModule =
        translateModuleToLLVMIR(groupModule->getOperation(), *llvmContext, "act-kernels");
    if (!llvmModule)
      throw CompileError(diags);
    lowerMs += msSince(t0);
    auto generate = [&, g, context = std::move(llvmContext),
                     kernels = std::move(llvmModule)]() mutable {
      try {
        objects[g] = optimizeAndGenerate(*kernels, groupStats[g], quick, passes);
      } catch (const std::exception &e) {
        errors[g] = e.what();
      }
      kernels.reset(); // before its context
    };
    if (g + 1 < groups.size())
      workers.emplace_back(std::move(generate));
    else
      generate();
  }
  joinAll.release();
  for (std::thread &w : workers)
    w.join();
  for (const std::string &e : errors)
    if (!e.empty())
      throw Error(e);
  // lowerMs: MLIR and translation (this thread); codegenMs: the rest of the wall time.
  stats.lowerMs += lowerMs;
  stats.optMs += groupStats.back().optMs;
  stats.codegenMs += msSince(start) - lowerMs;
  return bundleObjects(objects);
}

} // namespace

class JITCode {
public:
  /// Links the objects of the bundle `object` into a JITDylib of their own.
  /// Throws act::Error.
  explicit JITCode(std::unique_ptr<llvm::MemoryBuffer> object) {
    static std::atomic<uint64_t> counter{0};
    llvm::orc::LLJIT &jit = processJIT();
    auto dylib = jit.createJITDylib("act-kernels-" + std::to_string(counter++));
    if (!dylib)
      throw Error("JIT: " + llvm::toString(dylib.takeError()));
    jd = &*dylib;
    try {
      for (auto &o : unbundleObjects(object->getBuffer()))
        if (llvm::Error err = jit.addObjectFile(*jd, std::move(o)))
          throw Error("JIT: " + llvm::toString(std::move(err)));
    } catch (...) {
      unlink();
      throw;
    }
  }
  ~JITCode() { unlink(); }

  /// The packed entry point of kernel `kernel`. Throws act::Error.
  PackedKernel lookup(const std::string &kernel) {
    auto addr = processJIT().lookup(*jd, "_mlir_" + kernel);
    if (!addr)
      throw Error("JIT: kernel missing: " + llvm::toString(addr.takeError()));
    return addr->toPtr<PackedKernel>();
  }

private:
  void unlink() {
    if (jd)
      llvm::consumeError(processJIT().getExecutionSession().removeJITDylib(*jd));
    jd = nullptr;
  }
  llvm::orc::JITDylib *jd = nullptr;
};

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

/// Compiles (or loads from the cache) the kernels of `names`, links them and looks
/// up every set's entry points.
std::vector<std::unique_ptr<KernelSet>>
KernelSet::buildUnit(ModuleOp actModule, const std::vector<std::string> &names, DType dtype,
          unsigned order, unsigned parts, const std::string &cacheDir, BuildStats *statsOut) {
  BuildStats stats;
  auto t0 = std::chrono::steady_clock::now();
  const Host &h = host();
  CacheKeyBytes key{};
  if (!cacheDir.empty()) {
    CacheKey hasher(h.triple, h.cpu, h.features);
    // The vector width is the host's unless ACT_VECTOR_BITS narrows it.
    hasher.add(std::string("cpu-kernels ") + irPassesName(irPasses(actModule, names)))
        .add(dtypeName(dtype))
        .add(order)
        .add(parts)
        .add(names.size());
    hasher.add(hostVectorBits()).add(defaultStageWork()).add(loopStrengthReduction() ? 1u : 0u);
    hasher.add(vectorLibmLoaded() ? "libmvec" : "libm");
    for (const std::string &name : names)
      hasher.add(printActivation(actModule, name));
    key = hasher.finish();
  } else {
    for (const std::string &name : names)
      if (!isa_and_nonnull<ActivationOp>(actModule.lookupSymbol(name)))
        throw Error("internal: no activation '" + name + "' in the module");
  }
  stats.keyMs = msSince(t0);

  auto link = [&](std::unique_ptr<llvm::MemoryBuffer> object) {
    auto t1 = std::chrono::steady_clock::now();
    auto code = std::make_shared<JITCode>(std::move(object));
    std::vector<std::unique_ptr<KernelSet>> sets;
    for (const std::string &name : names)
      sets.push_back(KernelSet::lookupIn(code, name, dtype, order, parts));
    stats.linkMs += msSince(t1);
    return sets;
  };

  std::vector<std::unique_ptr<KernelSet>> sets;
  if (!cacheDir.empty()) {
    t0 = std::chrono::steady_clock::now();
    if (auto object = loadCachedObject(cacheDir, key)) {
      stats.keyMs += msSince(t0);
      try {
        sets = link(std::move(object));
        stats.cacheHit = true;
      } catch (const Error &) {
        // A well-formed entry that does not link (never expected): rebuild it.
        ::unlink((cacheDir + "/" + cacheFileName(key)).c_str());
      }
    }
  }
  if (!stats.cacheHit) {
    std::unique_ptr<llvm::MemoryBuffer> object =
        compileToObject(actModule, names, dtype, order, parts, stats);
    if (!cacheDir.empty())
      storeCachedObject(cacheDir, key, object->getBuffer());
    sets = link(std::move(object));
  }
  if (statsOut)
    *statsOut = stats;
  if (std::getenv("ACT_JIT_TIMING"))
    std::fprintf(stderr, "act-jit: %zu activation(s) %s: key %.3f ms, lower %.2f ms, "
                 "opt %.2f ms, codegen %.2f ms, link %.3f ms\n", names.size(),
                 stats.cacheHit ? "hit" : "miss", stats.keyMs, stats.lowerMs,
                 stats.optMs, stats.codegenMs - stats.optMs, stats.linkMs);
  return sets;
}

/// The entry points of activation `act`'s kernels in `code`.
std::unique_ptr<KernelSet> KernelSet::lookupIn(const std::shared_ptr<JITCode> &code,
                                               const std::string &act, DType dtype,
                                               unsigned order, unsigned parts) {
  std::unique_ptr<KernelSet> set(new KernelSet());
  set->code = code;
  const char *names[2] = {"ncs", "nsc"};
  for (int l = 0; l < 2; ++l) {
    if (!(parts & (1u << l)))
      continue;
    auto lookup = [&](const std::string &kind) {
      return code->lookup(kernelName(act, kind, dtypeName(dtype), names[l]));
    };
    if (order > 1) {
      set->fwd[l] = lookup("fwd");
      set->derivs[l] = lookup("derivs" + std::to_string(order));
      continue;
    }
    if (parts & kForward)
      set->fwd[l] = lookup("fwd");
    if (parts & kBackward)
      set->bwd[l] = lookup("bwd");
    if (parts & kForwardBackward)
      set->fwdbwd[l] = lookup("fwdbwd");
  }
  return set;
}

std::unique_ptr<KernelSet> KernelSet::build(ModuleOp actModule, const std::string &name,
                                            DType dtype, unsigned order, unsigned parts,
                                            const std::string &cacheDir, BuildStats *stats) {
  auto sets = buildUnit(actModule, {name}, dtype, order, parts, cacheDir, stats);
  return std::move(sets.front());
}

std::vector<std::unique_ptr<KernelSet>>
KernelSet::buildBatch(ModuleOp actModule, const std::vector<std::string> &names, DType dtype,
                      const std::string &cacheDir, BuildStats *stats, unsigned parts) {
  std::vector<std::unique_ptr<KernelSet>> sets;
  BuildStats total;
  total.cacheHit = !names.empty();
  for (size_t from = 0; from < names.size(); from += kBatchGroup) {
    std::vector<std::string> unit(names.begin() + (ptrdiff_t)from,
                                  names.begin() + (ptrdiff_t)std::min(names.size(), from + kBatchGroup));
    BuildStats part;
    for (auto &set : buildUnit(actModule, unit, dtype, 1, parts, cacheDir, &part))
      sets.push_back(std::move(set));
    total.cacheHit = total.cacheHit && part.cacheHit;
    total.keyMs += part.keyMs;
    total.lowerMs += part.lowerMs;
    total.optMs += part.optMs;
    total.codegenMs += part.codegenMs;
    total.linkMs += part.linkMs;
  }
  if (stats)
    *stats = total;
  return sets;
}

} // namespace act::detail

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

#include "HostCodegen.h"
#include "KernelCache.h"

#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <unistd.h>

using namespace mlir;

namespace act::detail {

namespace {

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

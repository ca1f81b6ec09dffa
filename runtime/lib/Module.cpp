// act runtime: the public API (Module, Activation) over the compiler and the JIT.
#include "act/act.h"

#include "Cuda.h"
#include "GpuKernels.h"
#include "JIT.h"
#include "FlushDenormals.h"
#include "KernelCache.h"
#include "ThreadPool.h"

#include "act/Dialect/ActOps.h"
#include "act/Parse/Parser.h"
#include "act/Pipeline/Pipeline.h"

#include "act/cuda.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <atomic>
#include <fstream>
#include <set>
#include <map>
#include <mutex>
#include <sstream>

using namespace act;

const char *act::version() { return ACT_VERSION; }

void act::setNumThreads(unsigned threads) { detail::ThreadPool::resizeGlobal(threads); }
unsigned act::numThreads() { return detail::ThreadPool::global().size(); }

//===----------------------------------------------------------------------===//
// ParamInfo
//===----------------------------------------------------------------------===//

std::string ParamInfo::shape() const {
  ast::Shape s{perSample, perChannel, tableLength};
  return s.str();
}

int64_t ParamInfo::numValues(const TensorShape &t) const {
  return (perSample ? t.n : 1) * (perChannel ? t.c : 1) * std::max<int64_t>(tableLength, 1);
}

std::vector<double> ParamInfo::initialValues(const TensorShape &t) const {
  if (init.empty())
    throw Error("parameter '" + name + "' has no initial value; pass its values");
  int64_t count = numValues(t);
  std::vector<double> out((size_t)count);
  size_t period = init.size();
  for (int64_t i = 0; i < count; ++i)
    out[(size_t)i] = init[(size_t)i % period]; // one value, or one table row repeated
  return out;
}

CompileError::CompileError(std::vector<Diagnostic> diagnostics)
    : Error(diagnostics.empty() ? std::string("compilation failed")
                                : formatDiagnostics(diagnostics)),
      diags(std::move(diagnostics)) {}

//===----------------------------------------------------------------------===//
// Shared compiler state
//===----------------------------------------------------------------------===//

namespace {
/// What every activation of a module shares: the MLIR context and the act module.
/// MLIR contexts are not safe for concurrent mutation, so JIT builds take `mutex`.
struct Compiled {
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::DISABLED};
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::mutex mutex;
};
} // namespace

struct Activation::Impl {
  std::shared_ptr<Compiled> compiled;
  std::string name, formula;
  std::vector<std::string> inputs;
  std::vector<ParamInfo> params;

  CompileOptions options;
  static constexpr int kNumDTypes = 4;
  /// Order-1 kernels per element type, layout and kind (forward, backward, fused),
  /// each compiled on its first use: a forward pass never waits for derivatives. A
  /// batch fills every slot with one set. Guarded by compiled->mutex.
  enum Kind { Forward, Backward, ForwardBackward, kNumKinds };
  std::shared_ptr<detail::KernelSet> kernels[kNumDTypes][2][kNumKinds];
  std::atomic<detail::PackedKernel> ready[kNumDTypes][2][kNumKinds] = {};
  std::once_flag gpuBuilt;
  std::unique_ptr<detail::GpuKernelSet> gpu;
  std::mutex higherMutex;
  std::map<std::pair<unsigned, int>, std::unique_ptr<detail::KernelSet>> higher; // order >= 2

  static unsigned kindBit(int kind) {
    return kind == Forward    ? detail::kForward
           : kind == Backward ? detail::kBackward
                              : detail::kForwardBackward;
  }

  detail::PackedKernel getKernel(DType dtype, Layout layout, Kind kind) {
    int d = (int)dtype, l = layout == Layout::NSC;
    if (detail::PackedKernel fn = ready[d][l][kind].load(std::memory_order_acquire))
      return fn;
    std::lock_guard<std::mutex> lock(compiled->mutex);
    if (!kernels[d][l][kind]) {
      unsigned parts = detail::layoutBit(layout) | kindBit(kind);
      setKernels(dtype, parts,
                 detail::KernelSet::build(*compiled->module, name, dtype, 1, parts,
                                          detail::cacheDirectory(options)));
    }
    return ready[d][l][kind].load(std::memory_order_acquire);
  }

  /// Installs order-1 kernels for `dtype` in the slots `parts` names; the caller
  /// holds compiled->mutex.
  void setKernels(DType dtype, unsigned parts, std::shared_ptr<detail::KernelSet> set) {
    int d = (int)dtype;
    for (int l = 0; l < 2; ++l) {
      if (!(parts & (1u << l)))
        continue;
      Layout layout = l ? Layout::NSC : Layout::NCS;
      for (int k = 0; k < kNumKinds; ++k) {
        if (!(parts & kindBit(k)))
          continue;
        kernels[d][l][k] = set;
        detail::PackedKernel fn = k == Forward    ? set->forward(layout)
                                  : k == Backward ? set->backward(layout, false)
                                                  : set->backward(layout, true);
        ready[d][l][k].store(fn, std::memory_order_release);
      }
    }
  }
  /// Whether every order-1 slot `parts` names has kernels for `dtype`.
  bool hasKernels(DType dtype, unsigned parts) const {
    for (int l = 0; l < 2; ++l)
      for (int k = 0; k < kNumKinds; ++k)
        if ((parts & (1u << l)) && (parts & kindBit(k)) && !kernels[(int)dtype][l][k])
          return false;
    return true;
  }

  const detail::GpuKernelSet &getGpuKernels() {
    std::call_once(gpuBuilt, [&] {
      std::lock_guard<std::mutex> lock(compiled->mutex);
      bool learnable = std::any_of(params.begin(), params.end(),
                                   [](const ParamInfo &p) { return !p.isConst; });
      gpu = detail::GpuKernelSet::load(lowerActivationToPTX(), name, learnable);
    });
    return *gpu;
  }

  /// This activation's forward kernels as PTX for the chosen (or the device's) chip.
  std::string lowerActivationToPTX() {
    std::string arch = options.chip.empty() ? cuda::deviceArch() : options.chip;
    mlir::MLIRContext *ctx = compiled->module->getContext();
    std::vector<Diagnostic> diags;
    DiagnosticCollector collect(*ctx, diags);
    mlir::OwningOpRef<mlir::ModuleOp> one = mlir::ModuleOp::create(mlir::UnknownLoc::get(ctx));
    mlir::OpBuilder builder(ctx);
    builder.setInsertionPointToEnd(one->getBody());
    builder.clone(*compiled->module->lookupSymbol(name));
    std::string ptx = lowerToPTX(*one, arch);
    if (ptx.empty())
      throw CompileError(diags);
    return ptx;
  }

  void requireTarget(Target want) const {
    if (options.target == want)
      return;
    throw Error("'" + name + "' was compiled for " +
                (options.target == Target::CUDA ? "CUDA; use launch() with device pointers"
                                                : "the CPU; use forward()/backward()"));
  }

  /// f, f', ..., f^(order) kernels (order >= 2), both layouts.
  const detail::KernelSet &getKernels(DType dtype, unsigned order) {
    std::lock_guard<std::mutex> lock(higherMutex);
    std::unique_ptr<detail::KernelSet> &set = higher[{order, (int)dtype}];
    if (!set) {
      std::lock_guard<std::mutex> jit(compiled->mutex);
      set = detail::KernelSet::build(*compiled->module, name, dtype, order,
                                     detail::kBothLayouts, detail::cacheDirectory(options));
    }
    return *set;
  }
};

struct Module::Impl {
  std::shared_ptr<Compiled> compiled = std::make_shared<Compiled>();
  CompileOptions options;
  std::vector<std::string> names;
  std::vector<Activation> activations;
};

//===----------------------------------------------------------------------===//
// Module
//===----------------------------------------------------------------------===//

Module::Module(std::shared_ptr<Impl> impl) : impl(std::move(impl)) {}
Module::Module(Module &&) noexcept = default;
Module &Module::operator=(Module &&) noexcept = default;
Module::~Module() = default;

namespace {
/// JIT-compiles a trivial activation once per process, before the first Module
/// exists. LLVM creates function-local statics on its first JIT; doing that here,
/// inside Module::compile, makes them outlive every Module (even one held in a static
/// variable), so no ExecutionEngine is destroyed after them at exit.
void warmUpJIT() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto compiled = std::make_shared<Compiled>();
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    compiled->ctx.appendDialectRegistry(registry);
    compiled->ctx.loadAllAvailableDialects();
    std::vector<Diagnostic> diags;
    ast::File file;
    compiled->module = compileToAct(compiled->ctx, "act warmup(x) = x", "<warm-up>", file,
                                    diags);
    if (compiled->module)
      detail::KernelSet::build(*compiled->module, "warmup", DType::F32, 1,
                               detail::layoutBit(Layout::NCS) | detail::kForward,
                               detail::cacheDirectory(CompileOptions{}));
  });
}
} // namespace

Module Module::compile(std::string_view source, std::string filename,
                       const CompileOptions &options) {
  warmUpJIT();
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  Compiled &c = *impl->compiled;
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  c.ctx.appendDialectRegistry(registry);
  c.ctx.loadAllAvailableDialects();

  std::vector<Diagnostic> diags;
  std::string text(source);
  ast::File file;
  {
    DiagnosticCollector collect(c.ctx, diags, &text);
    c.module = compileToAct(c.ctx, text, filename, file, diags);
    if (c.module && mlir::failed(simplifyAct(*c.module)))
      c.module = nullptr;
  }
  if (!c.module) {
    if (diags.empty())
      diags.push_back(Diagnostic{Diagnostic::Severity::Error, filename, 0, 0,
                                 "compilation failed", ""});
    throw CompileError(std::move(diags));
  }

  for (const ast::Definition &def : file.defs) {
    Activation a;
    a.impl = std::make_shared<Activation::Impl>();
    a.impl->compiled = impl->compiled;
    a.impl->options = options;
    a.impl->name = def.name;
    a.impl->formula = def.text;
    for (const ast::Input &in : def.inputs)
      a.impl->inputs.push_back(in.name);
    for (const ast::Param &p : def.params)
      a.impl->params.push_back(ParamInfo{p.name, p.shape.perSample, p.shape.perChannel,
                                         p.shape.tableLen, p.isConst, p.init});
    impl->names.push_back(def.name);
    impl->activations.push_back(std::move(a));
  }
  return Module(std::move(impl));
}

Module Module::compileFile(const std::string &path, const CompileOptions &options) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CompileError({Diagnostic{Diagnostic::Severity::Error, path, 0, 0,
                                   "cannot open file", ""}});
  std::stringstream ss;
  ss << in.rdbuf();
  return compile(ss.str(), path, options);
}

const std::vector<std::string> &Module::names() const { return impl->names; }

const Activation *Module::find(std::string_view name) const {
  for (const Activation &a : impl->activations)
    if (a.name() == name)
      return &a;
  return nullptr;
}

const Activation &Module::get(std::string_view name) const {
  if (const Activation *a = find(name))
    return *a;
  std::string msg = "no activation named '" + std::string(name) + "'";
  std::string close = parse::closestMatch(std::string(name), impl->names);
  if (!close.empty())
    msg += "; did you mean '" + close + "'?";
  throw Error(msg);
}

void Module::compileKernels(DType dtype, const std::vector<std::string> &names) {
  compileKernels(dtype, names, KernelSelection{});
}

void Module::compileKernels(DType dtype, const std::vector<std::string> &names,
                            const KernelSelection &which) {
  unsigned parts = (which.ncs ? detail::layoutBit(Layout::NCS) : 0) |
                   (which.nsc ? detail::layoutBit(Layout::NSC) : 0) |
                   (which.forward ? detail::kForward : 0) |
                   (which.backward ? detail::kBackward : 0) |
                   (which.fused ? detail::kForwardBackward : 0) |
                   (which.quick ? detail::kQuick : 0);
  if (!(parts & detail::kBothLayouts) || !(parts & detail::kAllKinds))
    return;
  if (impl->options.target != Target::CPU)
    throw Error("compileKernels: the module was compiled for CUDA; kernels are built "
                "on the first launch()");
  std::vector<Activation::Impl *> chosen;
  std::set<std::string> seen;
  for (const std::string &name : names.empty() ? impl->names : names)
    if (seen.insert(name).second)
      chosen.push_back(get(name).impl.get());
  std::lock_guard<std::mutex> lock(impl->compiled->mutex);
  std::vector<Activation::Impl *> todo;
  std::vector<std::string> todoNames;
  for (Activation::Impl *a : chosen)
    if (!a->hasKernels(dtype, parts)) {
      todo.push_back(a);
      todoNames.push_back(a->name);
    }
  std::vector<std::unique_ptr<detail::KernelSet>> sets = detail::KernelSet::buildBatch(
      *impl->compiled->module, todoNames, dtype, detail::cacheDirectory(impl->options),
      nullptr, parts);
  for (size_t i = 0; i < todo.size(); ++i)
    todo[i]->setKernels(dtype, parts, std::move(sets[i]));
}

//===----------------------------------------------------------------------===//
// Activation
//===----------------------------------------------------------------------===//

const std::string &Activation::name() const { return impl->name; }
const std::string &Activation::formula() const { return impl->formula; }
std::string Activation::canonicalForm() const {
  std::lock_guard<std::mutex> lock(impl->compiled->mutex);
  return printCanonical(impl->compiled->module->lookupSymbol(impl->name));
}
const std::vector<std::string> &Activation::inputs() const { return impl->inputs; }
const std::vector<ParamInfo> &Activation::params() const { return impl->params; }
const ParamInfo *Activation::findParam(std::string_view name) const {
  for (const ParamInfo &p : impl->params)
    if (p.name == name)
      return &p;
  return nullptr;
}

namespace {
/// A 1-D strided memref descriptor as the LLVM lowering of memref<?xT> expects.
struct MemRefArg {
  void *allocated;
  void *aligned;
  int64_t offset = 0, size, stride = 1;
};

/// Builds a kernel's packed argument list: memrefs first, in signature order, then
/// N, C, S and the row range.
class KernelCall {
public:
  /// Adds a buffer; returns its position (for replace()).
  size_t add(const void *p, int64_t size) {
    void *ptr = const_cast<void *>(p);
    bufs.push_back(MemRefArg{ptr, ptr, 0, size, 1});
    return bufs.size() - 1;
  }
  /// Runs rows [rowBegin, rowEnd), with buffer `replacements[i].first` pointing at
  /// `replacements[i].second` instead (a chunk's own gradient accumulators).
  void run(detail::PackedKernel fn, const TensorShape &shape, int64_t rowBegin,
           int64_t rowEnd, const std::vector<std::pair<size_t, void *>> &replacements = {}) const {
    std::vector<MemRefArg> local = bufs;
    for (auto [index, ptr] : replacements)
      local[index].allocated = local[index].aligned = ptr;
    int64_t dims[5] = {shape.n, shape.c, shape.s, rowBegin, rowEnd};
    std::vector<void *> args;
    for (MemRefArg &m : local)
      for (void *field : {(void *)&m.allocated, (void *)&m.aligned, (void *)&m.offset,
                          (void *)&m.size, (void *)&m.stride})
        args.push_back(field);
    for (int64_t &d : dims)
      args.push_back(&d);
    if (flushDenormals) {
      detail::FlushDenormalsScope ftz;
      fn(args.data());
    } else {
      fn(args.data());
    }
  }

  bool flushDenormals = false;

private:
  std::vector<MemRefArg> bufs;
};

/// Element `i` of a `dtype` buffer, as double.
double loadAs(DType dtype, const void *p, size_t i) {
  switch (dtype) {
  case DType::F32: return static_cast<const float *>(p)[i];
  case DType::F64: return static_cast<const double *>(p)[i];
  case DType::F16: return fromFloat16(static_cast<const uint16_t *>(p)[i]);
  case DType::BF16: return fromBFloat16(static_cast<const uint16_t *>(p)[i]);
  }
  return 0;
}

/// Stores `v` into element `i` of a `dtype` buffer, rounding once.
void storeAs(DType dtype, void *p, size_t i, double v) {
  switch (dtype) {
  case DType::F32: static_cast<float *>(p)[i] = (float)v; return;
  case DType::F64: static_cast<double *>(p)[i] = v; return;
  case DType::F16: static_cast<uint16_t *>(p)[i] = toFloat16(v); return;
  case DType::BF16: static_cast<uint16_t *>(p)[i] = toBFloat16(v); return;
  }
}

/// A host buffer of `count` values of `dtype`, each `v` (or from `values`).
std::vector<char> filledBuffer(DType dtype, size_t count, double v) {
  std::vector<char> out(count * sizeOf(dtype));
  for (size_t i = 0; i < count; ++i)
    storeAs(dtype, out.data(), i, v);
  return out;
}

/// How a tensor's rows are cut into chunks for threads. The cut depends only on the
/// shape, never on the thread count, so reductions (summed per chunk, then over
/// chunks in order) give bitwise the same result for any number of threads.
struct Chunks {
  int64_t rows, rowsPerChunk, count;

  Chunks(const TensorShape &shape, int64_t maxChunks) {
    rows = shape.layout == Layout::NCS ? shape.n * shape.c : shape.n * shape.s;
    int64_t rowLen = std::max<int64_t>(1, shape.layout == Layout::NCS ? shape.s : shape.c);
    const int64_t kChunkElements = 1 << 16; // 256 KiB of float32 per input
    rowsPerChunk = std::max<int64_t>(1, kChunkElements / rowLen);
    rowsPerChunk = std::max(rowsPerChunk, (rows + maxChunks - 1) / maxChunks);
    count = (rows + rowsPerChunk - 1) / rowsPerChunk;
  }
  int64_t begin(int64_t i) const { return i * rowsPerChunk; }
  int64_t end(int64_t i) const { return std::min(rows, (i + 1) * rowsPerChunk); }
};

/// Checks extents and input pointers; false when there is nothing to do.
bool checkCall(const Activation::Impl &impl, const TensorShape &shape,
               const void *const *inputs, std::initializer_list<const void *> outputs) {
  if (shape.n < 0 || shape.c < 0 || shape.s < 0)
    throw Error("'" + impl.name + "': tensor extents must not be negative");
  if (shape.numElements() == 0)
    return false;
  if (!inputs)
    throw Error("'" + impl.name + "': inputs must not be null");
  for (const void *o : outputs)
    if (!o)
      throw Error("'" + impl.name + "': output buffers must not be null");
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    if (!inputs[i])
      throw Error("'" + impl.name + "': input '" + impl.inputs[i] + "' is null");
  return true;
}

/// Adds every parameter buffer; parameters left null take their initial values,
/// materialised (rounded to `dtype`) in `defaults`.
void addParams(KernelCall &call, const Activation::Impl &impl, DType dtype,
               const TensorShape &shape, const void *const *params,
               std::vector<std::vector<char>> &defaults) {
  defaults.resize(impl.params.size());
  for (size_t p = 0; p < impl.params.size(); ++p) {
    const ParamInfo &info = impl.params[p];
    const void *data = params ? params[p] : nullptr;
    if (!data) {
      if (info.init.empty())
        throw Error("'" + impl.name + "': parameter '" + info.name +
                    "' has no initial value; pass its values");
      std::vector<double> init = info.initialValues(shape);
      defaults[p].resize(init.size() * sizeOf(dtype));
      for (size_t k = 0; k < init.size(); ++k)
        storeAs(dtype, defaults[p].data(), k, init[k]);
      data = defaults[p].data();
    }
    if (info.tableLength && info.numValues(shape) >= (int64_t(1) << 31))
      throw Error("'" + impl.name + "': table parameter '" + info.name +
                  "' has 2^31 or more entries; kernels index tables with 32 bits");
    call.add(data, info.numValues(shape));
  }
}

/// The layout the kernels run in: with S = 1 (a dense layer's activations) ncs and
/// nsc are the same memory order, and nsc's rows (C long) vectorise; with C = 1 ncs's
/// rows (S long) do.
TensorShape kernelShape(TensorShape shape) {
  if (shape.layout == Layout::NCS && shape.s == 1 && shape.c > 1)
    shape.layout = Layout::NSC;
  else if (shape.layout == Layout::NSC && shape.c == 1 && shape.s > 1)
    shape.layout = Layout::NCS;
  return shape;
}

void runForward(Activation::Impl &impl, DType dtype, const TensorShape &callerShape,
                const void *const *inputs, void *y, const void *const *params) {
  const TensorShape shape = kernelShape(callerShape);
  impl.requireTarget(Target::CPU);
  if (!checkCall(impl, shape, inputs, {y}))
    return;
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], shape.numElements());
  call.add(y, shape.numElements());
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  detail::PackedKernel fn = impl.getKernel(dtype, shape.layout, Activation::Impl::Forward);
  Chunks chunks(shape, /*maxChunks=*/1 << 20);
  detail::ThreadPool::global().parallelFor((size_t)chunks.count, [&](size_t i) {
    call.run(fn, shape, chunks.begin((int64_t)i), chunks.end((int64_t)i));
  });
}

void runBackward(Activation::Impl &impl, DType dtype, const TensorShape &callerShape,
                 const void *const *inputs, const void *dy, void *const *dinputs,
                 void *const *dparams, const void *const *params, void *y) {
  const TensorShape shape = kernelShape(callerShape);
  impl.requireTarget(Target::CPU);
  if (!checkCall(impl, shape, inputs, {dy, dinputs}))
    return;
  int64_t count = shape.numElements();
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], count);
  if (y)
    call.add(y, count);
  call.add(dy, count);
  for (size_t i = 0; i < impl.inputs.size(); ++i) {
    if (!dinputs[i])
      throw Error("'" + impl.name + "': the gradient buffer for input '" +
                  impl.inputs[i] + "' is null");
    call.add(dinputs[i], count);
  }
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  // Gradients accumulate in double: each chunk of rows into its own buffers in
  // element order, then the chunks are summed in chunk order, then rounded once into
  // the caller's buffers.
  std::vector<size_t> learnable, accIndex;
  for (size_t p = 0; p < impl.params.size(); ++p)
    if (!impl.params[p].isConst) {
      learnable.push_back(p);
      accIndex.push_back(call.add(nullptr, impl.params[p].numValues(shape)));
    }
  Chunks chunks(shape, /*maxChunks=*/64);
  std::vector<std::vector<std::vector<double>>> chunkAcc((size_t)chunks.count);
  detail::PackedKernel fn = impl.getKernel(
      dtype, shape.layout, y ? Activation::Impl::ForwardBackward : Activation::Impl::Backward);
  detail::ThreadPool::global().parallelFor((size_t)chunks.count, [&](size_t i) {
    std::vector<std::pair<size_t, void *>> replacements;
    for (size_t j = 0; j < learnable.size(); ++j) {
      chunkAcc[i].emplace_back((size_t)impl.params[learnable[j]].numValues(shape), 0.0);
      replacements.emplace_back(accIndex[j], chunkAcc[i][j].data());
    }
    call.run(fn, shape, chunks.begin((int64_t)i), chunks.end((int64_t)i), replacements);
  });
  std::vector<std::vector<double>> acc(learnable.size());
  for (size_t j = 0; j < learnable.size(); ++j) {
    acc[j] = std::move(chunkAcc[0][j]);
    for (size_t i = 1; i < chunkAcc.size(); ++i)
      for (size_t k = 0; k < acc[j].size(); ++k)
        acc[j][k] += chunkAcc[i][j][k];
  }
  for (size_t j = 0; j < learnable.size(); ++j) {
    void *out = dparams ? dparams[learnable[j]] : nullptr;
    if (out)
      for (size_t k = 0; k < acc[j].size(); ++k)
        storeAs(dtype, out, k, acc[j][k]);
  }
}
} // namespace

namespace {
void runDerivatives(Activation::Impl &impl, DType dtype, unsigned order,
                    const TensorShape &callerShape, const void *const *inputs,
                    void *const *outs, const void *const *params) {
  const TensorShape shape = kernelShape(callerShape);
  impl.requireTarget(Target::CPU);
  if (order < 1 || order > 8)
    throw Error("'" + impl.name + "': derivative order must be from 1 to 8");
  if (!outs)
    throw Error("'" + impl.name + "': output buffers must not be null");
  if (!checkCall(impl, shape, inputs, {}))
    return;
  if (order == 1) { // f and f' come from the order-1 body through the fused kernel
    size_t count = (size_t)shape.numElements();
    std::vector<char> dy = filledBuffer(dtype, count, 1.0);
    std::vector<void *> dinputs(impl.inputs.size());
    std::vector<std::vector<char>> scratch(impl.inputs.size());
    dinputs[0] = outs[1];
    for (size_t i = 1; i < impl.inputs.size(); ++i) {
      scratch[i].resize(count * sizeOf(dtype));
      dinputs[i] = scratch[i].data();
    }
    runBackward(impl, dtype, shape, inputs, dy.data(), dinputs.data(), nullptr, params,
                   outs[0]);
    return;
  }
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], shape.numElements());
  for (unsigned k = 0; k <= order; ++k) {
    if (!outs[k])
      throw Error("'" + impl.name + "': output buffer " + std::to_string(k) + " is null");
    call.add(outs[k], shape.numElements());
  }
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  detail::PackedKernel fn = impl.getKernels(dtype, order).derivatives(shape.layout);
  Chunks chunks(shape, /*maxChunks=*/1 << 20);
  detail::ThreadPool::global().parallelFor((size_t)chunks.count, [&](size_t i) {
    call.run(fn, shape, chunks.begin((int64_t)i), chunks.end((int64_t)i));
  });
}
} // namespace

void Activation::derivatives(DType dtype, unsigned order, const TensorShape &shape,
                             const void *const *inputs, void *const *outs,
                             const void *const *params) const {
  runDerivatives(*impl, dtype, order, shape, inputs, outs, params);
}

void Activation::derivatives(unsigned order, const TensorShape &shape,
                             const float *const *inputs, float *const *outs,
                             const float *const *params) const {
  derivatives(DType::F32, order, shape, reinterpret_cast<const void *const *>(inputs),
              reinterpret_cast<void *const *>(outs),
              reinterpret_cast<const void *const *>(params));
}

void Activation::derivatives(unsigned order, const TensorShape &shape,
                             const double *const *inputs, double *const *outs,
                             const double *const *params) const {
  derivatives(DType::F64, order, shape, reinterpret_cast<const void *const *>(inputs),
              reinterpret_cast<void *const *>(outs),
              reinterpret_cast<const void *const *>(params));
}

void Activation::launch(DType dtype, const TensorShape &shape, const void *const *inputs,
                        void *y, const void *const *params, void *stream) const {
  impl->requireTarget(Target::CUDA);
  if (dtype != DType::F32 && dtype != DType::F64)
    throw Error("'" + impl->name + "': CUDA kernels take float32 or float64");
  if (!checkCall(*impl, shape, inputs, {y}))
    return;
  for (size_t p = 0; p < impl->params.size(); ++p)
    if (!params || !params[p])
      throw Error("'" + impl->name + "': parameter '" + impl->params[p].name +
                  "' needs a device buffer (CUDA launches take no defaults)");
  std::vector<std::pair<const void *, int64_t>> buffers;
  for (size_t i = 0; i < impl->inputs.size(); ++i)
    buffers.emplace_back(inputs[i], shape.numElements());
  buffers.emplace_back(y, shape.numElements());
  for (size_t p = 0; p < impl->params.size(); ++p)
    buffers.emplace_back(params[p], impl->params[p].numValues(shape));
  impl->getGpuKernels().launchForward(dtype, shape, buffers, impl->inputs.size() + 1, stream);
}

void Activation::launchBackward(DType dtype, const TensorShape &callerShape,
                                const void *const *inputs, const void *dy,
                                void *const *dinputs, void *const *dparams,
                                const void *const *params, void *y, void *stream) const {
  impl->requireTarget(Target::CUDA);
  if (dtype != DType::F32 && dtype != DType::F64)
    throw Error("'" + impl->name + "': CUDA kernels take float32 or float64");
  const TensorShape shape = kernelShape(callerShape);
  if (!checkCall(*impl, shape, inputs, {dy, dinputs}))
    return;
  int64_t count = shape.numElements();
  std::vector<std::pair<const void *, int64_t>> buffers;
  for (size_t i = 0; i < impl->inputs.size(); ++i)
    buffers.emplace_back(inputs[i], count);
  if (y)
    buffers.emplace_back(y, count);
  buffers.emplace_back(dy, count);
  for (size_t i = 0; i < impl->inputs.size(); ++i) {
    if (!dinputs[i])
      throw Error("'" + impl->name + "': the gradient buffer for input '" +
                  impl->inputs[i] + "' is null");
    buffers.emplace_back(dinputs[i], count);
  }
  std::vector<detail::GpuKernelSet::GradOut> grads;
  for (size_t p = 0; p < impl->params.size(); ++p) {
    const ParamInfo &info = impl->params[p];
    if (!params || !params[p])
      throw Error("'" + impl->name + "': parameter '" + info.name +
                  "' needs a device buffer (CUDA launches take no defaults)");
    buffers.emplace_back(params[p], info.numValues(shape));
    if (!info.isConst)
      grads.push_back({dparams ? dparams[p] : nullptr, info.perSample, info.perChannel,
                       info.tableLength});
  }
  impl->getGpuKernels().launchBackward(dtype, shape, buffers, y != nullptr, grads, stream);
}

void Activation::backward(DType dtype, const TensorShape &shape, const void *const *inputs,
                          const void *dy, void *const *dinputs, void *const *dparams,
                          const void *const *params, void *y) const {
  runBackward(*impl, dtype, shape, inputs, dy, dinputs, dparams, params, y);
}

void Activation::backward(const TensorShape &shape, const float *const *inputs,
                          const float *dy, float *const *dinputs, float *const *dparams,
                          const float *const *params, float *y) const {
  backward(DType::F32, shape, reinterpret_cast<const void *const *>(inputs), dy,
           reinterpret_cast<void *const *>(dinputs), reinterpret_cast<void *const *>(dparams),
           reinterpret_cast<const void *const *>(params), y);
}

void Activation::backward(const TensorShape &shape, const double *const *inputs,
                          const double *dy, double *const *dinputs, double *const *dparams,
                          const double *const *params, double *y) const {
  backward(DType::F64, shape, reinterpret_cast<const void *const *>(inputs), dy,
           reinterpret_cast<void *const *>(dinputs), reinterpret_cast<void *const *>(dparams),
           reinterpret_cast<const void *const *>(params), y);
}

void Activation::forward(DType dtype, const TensorShape &shape, const void *const *inputs,
                         void *y, const void *const *params) const {
  runForward(*impl, dtype, shape, inputs, y, params);
}

void Activation::forward(const TensorShape &shape, const float *const *inputs, float *y,
                         const float *const *params) const {
  forward(DType::F32, shape, reinterpret_cast<const void *const *>(inputs), y,
          reinterpret_cast<const void *const *>(params));
}

void Activation::forward(const TensorShape &shape, const double *const *inputs, double *y,
                         const double *const *params) const {
  forward(DType::F64, shape, reinterpret_cast<const void *const *>(inputs), y,
          reinterpret_cast<const void *const *>(params));
}

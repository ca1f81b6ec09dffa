// act runtime (internal): what Module.cpp (compiling, lookup), KernelCalls.cpp (CPU
// kernel calls) and CudaLaunch.cpp (device launches) share: the compiler state of a
// module and the implementation of Module and Activation.
#pragma once

#include "act/act.h"

#include "GpuKernels.h"
#include "JIT.h"
#include "KernelCache.h"

#include "act/Conversion/ColumnClass.h"
#include "act/Dialect/ActPasses.h"
#include "act/Pipeline/Pipeline.h"
#include "act/cuda.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace act {
namespace detail {
/// What every activation of a module shares: the MLIR context and the act module.
/// MLIR contexts are not safe for concurrent mutation, so JIT builds take `mutex`.
struct Compiled {
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::DISABLED};
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::mutex mutex;
};
} // namespace detail

struct Activation::Impl {
  std::shared_ptr<detail::Compiled> compiled;
  std::string name, formula;
  std::vector<std::string> inputs;
  std::vector<ParamInfo> params;

  CompileOptions options;
  static constexpr int kNumDTypes = 4;
  /// Order-1 kernels per element type, layout and kind (forward, backward, fused),
  /// each compiled on its first use: a forward pass never waits for derivatives. A
  /// batch fills every slot with one set. Guarded by compiled->mutex.
  enum Kind { Forward, Backward, ForwardBackward, kNumKinds };
  /// Kernels per slot: 0 holds every path chosen at run time (a batch's), 1 + c one
  /// column class c's (channels-last, per-channel learnable parameters: compiled for
  /// the class of the shapes called with, a third of the code each). Forward kernels
  /// differ by class only with a per-channel table (transposed tiles), and then are
  /// the same for both columns classes: they take class InCache's slot. Other
  /// channels-last forward kernels with per-channel parameters take 1 + r for
  /// r = act::rowsUnstaged (their one loop along rows).
  static constexpr int kNumSlots = 4;
  std::shared_ptr<detail::KernelSet> kernels[kNumDTypes][2][kNumKinds][kNumSlots];
  std::atomic<detail::PackedKernel> ready[kNumDTypes][2][kNumKinds][kNumSlots] = {};
  std::once_flag gpuBuilt;

  /// A variant's module, holding its one activation (variantWith); null for the
  /// module's own activations, which live in compiled->module.
  mlir::OwningOpRef<mlir::ModuleOp> ownModule;
  /// Variants by the parameters they take as inputs; guarded by variantsMutex.
  std::mutex variantsMutex;
  std::map<std::vector<unsigned>, std::unique_ptr<Activation::Impl>> variants;

  Impl() = default;
  Impl(const Impl &) = delete;
  ~Impl() {
    // Destroying a variant's ops under the lock that guards the shared context.
    if (!variants.empty() && compiled) {
      std::lock_guard<std::mutex> lock(compiled->mutex);
      variants.clear();
    }
  }

  /// The act module this activation's kernels are built from.
  mlir::ModuleOp actModule() const { return ownModule ? *ownModule : *compiled->module; }

  /// Calls on fewer elements than this keep this activation's own kernels rather
  /// than compile a variant's.
  static constexpr int64_t kVariantElements = 4096;

  /// The learnable parameters (not tables) with a value per element of `shape`
  /// (kernelShape's): every one of its dimensions that they do not vary along has
  /// extent 1, as for a [N,C] parameter on a dense layer's {N, C, 1}. Empty for a
  /// variant, and for shapes of fewer than kVariantElements elements.
  ///
  /// For forward kernels (`forGradients` false) only those varying along N: the
  /// others' values are a channels-last row's per-channel vectors already, and
  /// as inputs of a flat row they were slower (acon_c forward on {1, 1M, 1}, two
  /// threads, 0.164 -> 0.20-0.27 ns an element), where rows of one sample's
  /// element ({N, 1, 1}) become one row (meta_acon_c 4.1 -> 0.13).
  std::vector<unsigned> elementwiseParams(const TensorShape &shape, bool forGradients) const {
    std::vector<unsigned> moved;
    if (ownModule || shape.numElements() < kVariantElements) // a variant moves no more
      return moved;
    for (unsigned p = 0; p < params.size(); ++p) {
      const ParamInfo &info = params[p];
      if ((forGradients || info.perSample) &&
          movesToInput(info.isConst, info.tableLength, info.perSample, info.perChannel,
                       shape.n == 1, shape.c == 1, shape.s == 1))
        moved.push_back(p);
    }
    return moved;
  }

  /// This activation with parameters `moved` (elementwiseParams) as inputs after
  /// its own (act-params-to-inputs), built on first use: its backward kernels store
  /// their gradients as products, where ours sum each entry alone (meta_acon_c's
  /// beta on {N, C, 1}: a column group per sample and row), and their shapes lose
  /// the variation along N that kept rows apart ({N, 1, 1} ran rows of one
  /// element). Entries of `moved` then get bitwise the same gradient: one product,
  /// rounded once.
  Impl &variantWith(const std::vector<unsigned> &moved) {
    std::lock_guard<std::mutex> lock(variantsMutex);
    std::unique_ptr<Impl> &variant = variants[moved];
    if (variant)
      return *variant;
    auto made = std::make_unique<Impl>();
    made->compiled = compiled;
    made->name = name;
    made->formula = formula;
    made->options = options;
    made->inputs = inputs;
    for (unsigned p = 0; p < params.size(); ++p)
      if (std::find(moved.begin(), moved.end(), p) == moved.end())
        made->params.push_back(params[p]);
    for (unsigned p : moved)
      made->inputs.push_back(params[p].name);
    {
      std::lock_guard<std::mutex> jit(compiled->mutex);
      mlir::MLIRContext *ctx = compiled->module->getContext();
      made->ownModule = mlir::ModuleOp::create(mlir::UnknownLoc::get(ctx));
      mlir::OpBuilder builder(ctx);
      builder.setInsertionPointToEnd(made->ownModule->getBody());
      auto act = mlir::cast<ActivationOp>(builder.clone(*compiled->module->lookupSymbol(name)));
      moveParamsToInputs(act, llvm::SmallVector<unsigned>(moved.begin(), moved.end()));
    }
    variant = std::move(made);
    return *variant;
  }
  std::unique_ptr<detail::GpuKernelSet> gpu;
  std::mutex higherMutex;
  std::map<std::pair<unsigned, int>, std::unique_ptr<detail::KernelSet>> higher; // order >= 2

  static unsigned kindBit(int kind) {
    return kind == Forward    ? detail::kForward
           : kind == Backward ? detail::kBackward
                              : detail::kForwardBackward;
  }

  /// Whether a parameter is a per-channel table (pwlu's y[C,K]).
  bool hasPerChannelTable() const {
    return std::any_of(params.begin(), params.end(),
                       [](const ParamInfo &p) { return p.perChannel && p.tableLength > 0; });
  }

  /// The slot of `kind`'s kernels for column class `cls` and forward rows class
  /// `rows` (-1: none applies).
  int slotOf(int kind, int cls, int rows) const {
    if (kind == Forward) {
      if (!hasPerChannelTable())
        return rows + 1;
      if (cls == (int)ColumnClass::Streaming)
        cls = (int)ColumnClass::InCache;
    }
    return cls + 1;
  }

  /// `kind`'s kernel for `layout`; gradient kernels for column class `cls`, forward
  /// ones for rows class `rows` (-1 where none applies), or the every-path ones a
  /// batch compiled.
  detail::PackedKernel getKernel(DType dtype, Layout layout, Kind kind, int cls = -1,
                                 int rows = -1) {
    int d = (int)dtype, l = layout == Layout::NSC, slot = slotOf(kind, cls, rows);
    if (detail::PackedKernel fn = ready[d][l][kind][slot].load(std::memory_order_acquire))
      return fn;
    if (detail::PackedKernel fn = ready[d][l][kind][0].load(std::memory_order_acquire))
      return fn;
    std::lock_guard<std::mutex> lock(compiled->mutex);
    if (!kernels[d][l][kind][slot] && !kernels[d][l][kind][0]) {
      unsigned classBits = detail::columnClassBits(cls) | detail::forwardRowsBits(rows);
      unsigned parts = detail::layoutBit(layout) | kindBit(kind) | classBits;
      // Forward and backward together (CompileOptions::lazyBackward) while the
      // forward kernel is missing; a forward whose derivative cannot be built still
      // compiles alone.
      unsigned pair =
          detail::layoutBit(layout) | kindBit(Forward) | kindBit(Backward) | classBits;
      std::shared_ptr<detail::KernelSet> set;
      if (!options.lazyBackward && kind != ForwardBackward &&
          !kernels[d][l][Forward][slotOf(Forward, cls, rows)] && !kernels[d][l][Forward][0]) {
        try {
          set = detail::KernelSet::build(actModule(), name, dtype, 1, pair,
                                         detail::cacheDirectory(options));
          parts = pair;
        } catch (const CompileError &) {
          if (kind != Forward)
            throw;
        }
      }
      if (!set)
        set = detail::KernelSet::build(actModule(), name, dtype, 1, parts,
                                       detail::cacheDirectory(options));
      setKernels(dtype, parts, std::move(set));
    }
    if (detail::PackedKernel fn = ready[d][l][kind][slot].load(std::memory_order_acquire))
      return fn;
    return ready[d][l][kind][0].load(std::memory_order_acquire);
  }

  /// Installs order-1 kernels for `dtype` in the slots `parts` names (gradient
  /// kernels in their column class's); the caller holds compiled->mutex.
  void setKernels(DType dtype, unsigned parts, std::shared_ptr<detail::KernelSet> set) {
    int d = (int)dtype, cls = detail::columnClassIn(parts), rows = detail::forwardRowsIn(parts);
    for (int l = 0; l < 2; ++l) {
      if (!(parts & (1u << l)))
        continue;
      Layout layout = l ? Layout::NSC : Layout::NCS;
      for (int k = 0; k < kNumKinds; ++k) {
        if (!(parts & kindBit(k)))
          continue;
        int slot = slotOf(k, cls, rows);
        kernels[d][l][k][slot] = set;
        detail::PackedKernel fn = k == Forward    ? set->forward(layout)
                                  : k == Backward ? set->backward(layout, false)
                                                  : set->backward(layout, true);
        ready[d][l][k][slot].store(fn, std::memory_order_release);
      }
    }
  }
  /// Whether every order-1 slot `parts` names has kernels for `dtype`.
  bool hasKernels(DType dtype, unsigned parts) const {
    for (int l = 0; l < 2; ++l)
      for (int k = 0; k < kNumKinds; ++k)
        if ((parts & (1u << l)) && (parts & kindBit(k)) &&
            !kernels[(int)dtype][l][k]
                    [slotOf(k, detail::columnClassIn(parts), detail::forwardRowsIn(parts))])
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
      set = detail::KernelSet::build(actModule(), name, dtype, order,
                                     detail::kBothLayouts, detail::cacheDirectory(options));
    }
    return *set;
  }
};

struct Module::Impl {
  std::shared_ptr<detail::Compiled> compiled = std::make_shared<detail::Compiled>();
  CompileOptions options;
  std::vector<std::string> names;
  std::vector<Activation> activations;
};

namespace detail {
/// Checks extents and input pointers; false when there is nothing to do.
inline bool checkCall(const Activation::Impl &impl, const TensorShape &shape,
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

/// The layout the kernels run in: with S = 1 (a dense layer's activations) ncs and
/// nsc are the same memory order, and nsc's rows (C long) vectorise; with C = 1 ncs's
/// rows (S long) do.
inline TensorShape kernelShape(TensorShape shape) {
  if (shape.layout == Layout::NCS && shape.s == 1 && shape.c > 1)
    shape.layout = Layout::NSC;
  else if (shape.layout == Layout::NSC && shape.c == 1 && shape.s > 1)
    shape.layout = Layout::NCS;
  return shape;
}
} // namespace detail
} // namespace act

// act runtime (internal): JIT compilation of activations' kernels.
#pragma once

#include "act/act.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace act::detail {

/// A kernel's packed entry point: one pointer per LLVM-level argument.
using PackedKernel = void (*)(void **);

/// The dtype's name in kernel names: f32, f64, f16, bf16.
const char *dtypeName(DType dtype);

/// What a kernel set holds, as bits: its layouts (bit 0 ncs, bit 1 nsc) and, for
/// order 1, its kernel kinds (forward, backward, fused forward+backward).
constexpr unsigned layoutBit(Layout layout) { return layout == Layout::NSC ? 2u : 1u; }
constexpr unsigned kBothLayouts = 3;
enum KindBit : unsigned { kForward = 16, kBackward = 32, kForwardBackward = 64 };
/// A quick build: scalar loops, no LLVM optimisation, the fastest code generation;
/// for kernels called on a few hundred points (search screening).
constexpr unsigned kQuick = 128;
constexpr unsigned kAllKinds = kForward | kBackward | kForwardBackward;
/// Channels-last gradient kernels for one column class (act/Conversion/ColumnClass.h):
/// bits 8-9 hold the class + 1; 0, every path chosen at run time from the shape.
constexpr unsigned kColumnClassShift = 8;
constexpr unsigned columnClassBits(int cls) { return unsigned(cls + 1) << kColumnClassShift; }
constexpr int columnClassIn(unsigned parts) { return int((parts >> kColumnClassShift) & 3u) - 1; }
/// Forward kernels along rows for one loop, staged (0) or unstaged (1), as the
/// runtime's forwardRowsFor picks it: bits 10-11 hold it + 1; 0, the default
/// (channels-last rows with per-channel parameters: both, chosen from C).
constexpr unsigned kForwardRowsShift = 10;
constexpr unsigned forwardRowsBits(int rows) { return unsigned(rows + 1) << kForwardRowsShift; }
constexpr int forwardRowsIn(unsigned parts) { return int((parts >> kForwardRowsShift) & 3u) - 1; }
constexpr unsigned kEverything = kBothLayouts | kAllKinds;

/// Machine code linked into the process: one object file in its own JITDylib of the
/// process-wide ORC JIT. Unlinked (its memory freed) when the last owner goes.
class JITCode;

/// Where build() and buildBatch() spent their time (for latency measurements).
struct BuildStats {
  bool cacheHit = false;
  double keyMs = 0, lowerMs = 0, optMs = 0, codegenMs = 0, linkMs = 0;
};

/// The JIT-compiled kernels of one activation for one element type, both layouts.
class KernelSet {
public:
  /// Lowers the activation `name` of the act module `actModule` (left unchanged)
  /// and JIT-compiles it for the host CPU: forward, backward and fused kernels, or
  /// with `order` > 1 the kernels computing f, f', ..., f^(order). With `cacheDir`
  /// non-empty the object code comes from (or goes to) the kernel cache there.
  /// `parts` (layoutBit and KindBit values) chooses the layouts and kinds compiled;
  /// the others' entry points are null. Throws CompileError or act::Error.
  static std::unique_ptr<KernelSet> build(mlir::ModuleOp actModule,
                                          const std::string &name, DType dtype,
                                          unsigned order = 1,
                                          unsigned parts = kEverything,
                                          const std::string &cacheDir = "",
                                          BuildStats *stats = nullptr);
  /// The order-1 kernels of every activation in `names`, in units of up to
  /// kBatchGroup activations (one lowering, one object, one cache entry each); the
  /// sets of a unit share its machine code.
  static std::vector<std::unique_ptr<KernelSet>>
  buildBatch(mlir::ModuleOp actModule, const std::vector<std::string> &names, DType dtype,
             const std::string &cacheDir = "", BuildStats *stats = nullptr,
             unsigned parts = kEverything);
  ~KernelSet();

  /// Lowering a module costs more per activation the more activations it holds
  /// (measured: 40 ms each in a module of 200, 20 ms in a module of 20), so batches
  /// are built in units of this many.
  static constexpr size_t kBatchGroup = 16;

  PackedKernel forward(Layout layout) const { return fwd[layout == Layout::NSC]; }
  PackedKernel derivatives(Layout layout) const { return derivs[layout == Layout::NSC]; }
  PackedKernel backward(Layout layout, bool withForward) const {
    return (withForward ? fwdbwd : bwd)[layout == Layout::NSC];
  }

private:
  KernelSet() = default;
  static std::vector<std::unique_ptr<KernelSet>>
  buildUnit(mlir::ModuleOp actModule, const std::vector<std::string> &names, DType dtype,
            unsigned order, unsigned parts, const std::string &cacheDir,
            BuildStats *stats);
  static std::unique_ptr<KernelSet> lookupIn(const std::shared_ptr<JITCode> &code,
                                             const std::string &act, DType dtype,
                                             unsigned order, unsigned parts);
  std::shared_ptr<JITCode> code;
  PackedKernel fwd[2] = {}, bwd[2] = {}, fwdbwd[2] = {}, derivs[2] = {};
};

} // namespace act::detail

// act runtime (internal): JIT compilation of one activation's kernels.
#pragma once

#include "act/act.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>

namespace mlir {
class ExecutionEngine;
}

namespace act::detail {

/// A kernel's packed entry point: one pointer per LLVM-level argument.
using PackedKernel = void (*)(void **);

/// The dtype's name in kernel names: f32, f64, f16, bf16.
const char *dtypeName(DType dtype);

/// The JIT-compiled kernels of one activation for one element type, both layouts.
class KernelSet {
public:
  /// Lowers the activation `name` of the act module `actModule` (left unchanged)
  /// and JIT-compiles it for the host CPU: forward, backward and fused kernels, or
  /// with `order` > 1 the kernels computing f, f', ..., f^(order). Throws act::Error.
  static std::unique_ptr<KernelSet> build(mlir::ModuleOp actModule,
                                          const std::string &name, DType dtype,
                                          unsigned order = 1);
  ~KernelSet();

  PackedKernel forward(Layout layout) const { return fwd[layout == Layout::NSC]; }
  PackedKernel derivatives(Layout layout) const { return derivs[layout == Layout::NSC]; }
  PackedKernel backward(Layout layout, bool withForward) const {
    return (withForward ? fwdbwd : bwd)[layout == Layout::NSC];
  }

private:
  KernelSet() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  PackedKernel fwd[2] = {}, bwd[2] = {}, fwdbwd[2] = {}, derivs[2] = {};
};

} // namespace act::detail

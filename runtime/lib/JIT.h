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

/// The JIT-compiled kernels of one activation, for every dtype and layout.
class KernelSet {
public:
  /// Lowers the activation `name` of the act module `actModule` (left unchanged)
  /// and JIT-compiles it for the host CPU: forward, backward and fused kernels, or
  /// with `order` > 1 the kernels computing f, f', ..., f^(order). Throws act::Error.
  static std::unique_ptr<KernelSet> build(mlir::ModuleOp actModule,
                                          const std::string &name, unsigned order = 1);
  ~KernelSet();

  PackedKernel forward(DType dtype, Layout layout) const {
    return fwd[dtype == DType::F64][layout == Layout::NSC];
  }
  PackedKernel derivatives(DType dtype, Layout layout) const {
    return derivs[dtype == DType::F64][layout == Layout::NSC];
  }
  PackedKernel backward(DType dtype, Layout layout, bool withForward) const {
    return (withForward ? fwdbwd : bwd)[dtype == DType::F64][layout == Layout::NSC];
  }

private:
  KernelSet() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  PackedKernel fwd[2][2] = {}, bwd[2][2] = {}, fwdbwd[2][2] = {}, derivs[2][2] = {};
};

} // namespace act::detail

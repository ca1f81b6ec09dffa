//===- Passes.td - passes that cross dialects ----------------------------===//

#ifndef ACT_CONVERSION_PASSES_TD
#define ACT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertActToKernels : Pass<"convert-act-to-kernels", "mlir::ModuleOp"> {
  let summary = "Wrap expanded act.activation bodies into fused loop kernels";
  let description = [{
    For every `act.activation` (after `act-expand`), emits one `func.func` per element
    type and layout, named `<name>__fwd_<f32|f64>_<ncs|nsc>`, that reads each input,
    broadcasts each parameter by its declared shape, runs the scalar body inline and
    writes the result: one loop nest, no intermediate buffers. The activation ops are
    removed.

    Kernel signature: `(in_0..in_k: memref<?xT>, out: memref<?xT>,
    p_0..p_m: memref<?xT>, N, C, S, row_begin, row_end: index)`. Rows are (n, c)
    pairs of length S for the `ncs` layout and (n, s) pairs of length C for `nsc`;
    a caller splits [0, rows) between threads.

    Derivative bodies from act-autodiff become `<name>__bwd_*` and `<name>__fwdbwd_*`
    (order 1: gradients of the inputs, parameter gradients accumulated in f64
    buffers) or `<name>__derivs<K>_*` (order K: f, f', ..., f^(K) into K+1 buffers).

    Each row runs a vector loop (`vector-bits` wide: vector loads and stores along
    the row, the body cloned on vectors, table lookups as gathers, parameter
    gradients kept in vector registers and reduced in lane order at the row's end)
    and then a scalar loop for the remainder.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", "0",
           "vector register width in bits (0: the host CPU's widest, 1: scalar only)">,
    ListOption<"dtypes", "dtypes", "std::string",
               "element types to emit kernels for (f32, f64; f16 and bf16 buffers "
               "are computed in f32 and rounded once)">,
    ListOption<"layouts", "layouts", "std::string",
               "tensor layouts to emit kernels for (ncs, nsc)">,
    ListOption<"kinds", "kinds", "std::string",
               "kernel kinds to emit (fwd, bwd, fwdbwd, derivs); all when empty">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect", "mlir::vector::VectorDialect",
                           "mlir::LLVM::LLVMDialect"];
}

def ApproximateMath : Pass<"act-approximate-math", "mlir::ModuleOp"> {
  let summary = "Vectorisable float32 exp, expm1, log1p and tanh";
  let description = [{
    Replaces f32 (scalar or vector) `math.exp`, `math.expm1`, `math.log1p` and
    `math.tanh` by branch-free arithmetic that vectorises: Cody-Waite range
    reduction with a degree-7 Taylor polynomial for exp and expm1 (2^k applied in
    two steps so subnormal results are rounded once), musl's log1pf polynomial, and
    tanh(x) = -t/(t+2) with t = expm1(-2|x|). Each keeps NaN, infinities and
    subnormals; docs/numerics.md gives their measured accuracy. Other math
    functions, and f64, stay calls to libm. On 16-lane vectors, when the host has
    AVX-512, exp's scaling by 2^k is one `llvm.x86.avx512.mask.scalef.ps.512` (the
    same exactly rounded result as the two-step product, in one instruction).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::LLVM::LLVMDialect"];
}

def MathToLibm : Pass<"act-math-to-libm", "mlir::ModuleOp"> {
  let summary = "Transcendental math ops to libm calls; rounding ops stay for LLVM";
  let description = [{
    MLIR's MathToLibm patterns, applied to the transcendental functions only (vector
    operands are unrolled into one call per lane). floor, ceil, round, roundeven and
    trunc are left to MathToLLVM, whose intrinsics vectorise (vrndscale).
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::vector::VectorDialect"];
}

def ConvertActToGPU : Pass<"convert-act-to-gpu", "mlir::ModuleOp"> {
  let summary = "Wrap expanded act.activation bodies into fused GPU kernels";
  let description = [{
    For every `act.activation` (after `act-expand`), emits a
    `gpu.module @<name>__kernels` with an `#nvvm.target` holding a `gpu.func` kernel per
    element type and layout, named `<name>__fwd_<f32|f64>_<ncs|nsc>` (and
    `<name>__fwd16_...` for 16-byte aligned buffers): a grid-stride loop over
    the N*C*S elements (the runtime sizes the grid from the device's SM count), each
    element's (n, c) recovered from its index, parameters broadcast by shape, the
    scalar body inline. Signature: `(in_0..in_k, out, p_0..p_m: memref<?xT>, N, C, S:
    index)`. For order-1 derivative bodies (from `act-autodiff`), backward and fused
    kernels `<name>__bwd_...` / `<name>__fwdbwd_...` writing dx and per-tile f64
    partial gradients, and `<name>__reduce_<dt>` summing the partials in a fixed order
    (see ActToGPU/GPUKernels.h). The activation ops are removed.
  }];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_90\"", "NVIDIA architecture (sm_70 and newer)">,
    ListOption<"dtypes", "dtypes", "std::string", "element types (f32, f64)">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::scf::SCFDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

#endif // ACT_CONVERSION_PASSES_TD

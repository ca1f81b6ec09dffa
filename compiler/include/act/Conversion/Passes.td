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
    Option<"columnClass", "column-class", "int", "-1",
           "channels-last gradient kernels with per-channel parameters hold one "
           "path: 0 along rows, 1 columns in cache (staged), 2 columns from memory "
           "(wide, unstaged); forward kernels by transposed tiles: 0 rows alone, 1 and "
           "2 tiles (the rows after them unstaged); -1 (default): all, chosen at run "
           "time from the shape">,
    Option<"forwardRows", "forward-rows", "int", "-1",
           "forward kernels along rows (no per-channel table) hold one loop: 0 "
           "staged, 1 unstaged (channels-last rows whose parameters pass "
           "kStagedParamBytes, or tensors streaming from memory); -1 (default): "
           "channels-last rows with per-channel parameters hold both, chosen at run "
           "time from C, other rows the staged loop">,
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
    reduction with a degree-6 near-minimax polynomial for exp (degree-7 Taylor for expm1) (2^k applied in
    two steps so subnormal results are rounded once), musl's log1pf polynomial, and
    tanh(x) = -t/(t+2) with t = expm1(-2|x|). Each keeps NaN, infinities and
    subnormals; docs/numerics.md gives their measured accuracy. Other math
    functions, and f64, stay calls to libm. On vectors of 16 floats, or a multiple
    of 16 by 16-lane slices, when the host has AVX-512, exp's scaling by 2^k is one
    `llvm.x86.avx512.mask.scalef.ps.512` a register (the same exactly rounded result
    as the two-step product, in one instruction).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::vector::VectorDialect"];
}

def StageLoops : Pass<"act-stage-loops", "mlir::ModuleOp"> {
  let summary = "Split long vector loop bodies into stages over a tile";
  let description = [{
    An out-of-order core overlaps consecutive elements only as far as its
    scheduler holds their waiting operations: a body of N operations whose
    dependency chain is L cycles long costs about L * N / W cycles an element
    (W, about 150-200 vector operations on Zen 4/5), not the N / 2 its ports allow.
    For each `scf.for` marked `act.stage` (convert-act-to-kernels marks the
    unmasked vector loops), this pass estimates every operation's start time on
    the chain (L cycles) and counts the operations (N), and cuts the body into
    P = sqrt(L N / `stage-work`) stages (at most 4), each near an equal share of
    the chain where the fewest values cross. Over a tile of 8 vectors, stage k runs
    as its own loop; values a later stage needs go through a stack buffer of the
    tile's size (one L1 store and load each); loads of inputs, index arithmetic
    and one quick operation on a load (x < 0, -x, beta x) are repeated instead. A loop marked `act.tiled = N` already spans at most N
    vectors and is its own tile.
    The arithmetic is unchanged: results are bitwise the same. Accesses to a
    buffer the loop both reads and writes (per-channel gradients along C, table
    gradients lane by lane) all stay in the last stage, in their order.
  }];
  let options = [
    Option<"stageWork", "stage-work", "unsigned", "0",
           "chain cycles times operations a stage may hold (0: the default, "
           "ACT_STAGE_WORK or 600; a huge value turns staging off)">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect", "mlir::vector::VectorDialect"];
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

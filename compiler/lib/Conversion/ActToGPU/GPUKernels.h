// act: the GPU kernel emitters of convert-act-to-gpu (private to ActToGPU/).
#pragma once

#include "act/Dialect/ActOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace act {

/// A 1-D grid's thread: its global index and the number of threads in the grid.
struct GridThread {
  mlir::Value index, count;
};
GridThread gridThread(mlir::OpBuilder &b, mlir::Location loc);

/// Emits `name` into `gpuModule`: from an order-1 derivative body, the input and
/// parameter gradients (and with `fused` the forward values too) in one pass.
///
/// bwd:    (in..., dy, din..., p..., part..., N, C, S, tileLen)
/// fwdbwd: (in..., y, dy, din..., p..., part..., N, C, S, tileLen)
///
/// Work is cut into tiles fixed by the shape and `tileLen` alone (never by the grid),
/// one warp per tile at a time, so every parameter gradient comes out as one
/// partial sum per (n, c, tile) in f64, summed in a fixed order: bitwise the same on
/// every run. `part` has one f64 buffer per learnable parameter, indexed
/// ((n*C + c)*T + t)*K + e (K: table entries per position, 1 otherwise):
///   ncs: tile t of row (n, c) is elements [t*tileLen, (t+1)*tileLen) of its S;
///        T = ceil(S / tileLen); the warp's lanes share (n, c) and are summed by
///        shuffles.
///   nsc: tile t of (n, channel block) is rows s in [t*tileLen, (t+1)*tileLen),
///        channels 32b..32b+31, one channel per lane; T = ceil(S / tileLen).
/// Entries of (n, c, t) that get no element (never: every tile is non-empty) would
/// be left unwritten. The reduce kernel then sums `part` to each parameter's shape.
mlir::LogicalResult emitGPUGradKernel(mlir::gpu::GPUModuleOp gpuModule, ActivationOp grad,
                                      mlir::FloatType type, bool channelsLast, bool fused,
                                      llvm::StringRef name);

/// Emits `name`: (part: memref<?xf64>, out: memref<?xT>, N, C, T, K, perN, perC), the
/// second pass of a parameter gradient. out has (perN ? N : 1) * (perC ? C : 1) * K
/// entries; entry (position, e) is the f64 sum of the partials ((n*C + c)*T + t)*K + e
/// over the (n, c) mapping to that position (perN/perC nonzero: n/c fixed) and every
/// t, in the fixed order (n, c, t), one warp per entry, rounded once to T.
void emitGPUReduceKernel(mlir::gpu::GPUModuleOp gpuModule, mlir::FloatType outType,
                         llvm::StringRef name);

} // namespace act

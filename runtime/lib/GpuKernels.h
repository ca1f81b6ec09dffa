// act runtime (internal): one activation's GPU kernels, loaded through the driver.
// Free of MLIR: the PTX comes from the compiler (Module.cpp), so this file and Cuda.cpp
// also build into the stand-alone device check (tests/gpu/) for machines without LLVM.
#pragma once

#include "act/act.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace act::detail {

class GpuKernelSet {
public:
  /// Loads the PTX holding activation `name`'s kernels (forward, backward, fused, and
  /// the gradient reduction when it has learnable parameters) with
  /// cuModuleLoadDataEx. Throws act::Error with the driver's message.
  static std::unique_ptr<GpuKernelSet> load(const std::string &ptx, const std::string &name,
                                            bool learnable);
  ~GpuKernelSet();

  /// Launches the forward kernel over `buffers` (inputs, output, parameters: device
  /// pointer and element count each; the first `elementwise` are inputs and output)
  /// on `stream`, grid sized from the SM count.
  void launchForward(DType dtype, const TensorShape &shape,
                     const std::vector<std::pair<const void *, int64_t>> &buffers,
                     size_t elementwise, void *stream) const;

  /// A learnable parameter's gradient: where it goes (null: not wanted) and its
  /// shape.
  struct GradOut {
    void *out;
    bool perN, perC;
    int64_t tableLength; ///< 0: not a table
  };

  /// Launches the backward (`fused`: forward+backward) kernel over `buffers` (inputs,
  /// [y,] dy, dinputs, parameters) and then one reduction per wanted gradient, on
  /// `stream`. Partial sums live in scratch device memory kept per stream.
  void launchBackward(DType dtype, const TensorShape &shape,
                      const std::vector<std::pair<const void *, int64_t>> &buffers,
                      bool fused, const std::vector<GradOut> &grads, void *stream) const;

  /// Tiles along S per (n, c) row (ncs) or per (n, channel block) (nsc), and the tile
  /// length the kernels are launched with: the partial gradients' layout.
  static int64_t tileLength(const TensorShape &shape, bool hasTables);

private:
  void *module = nullptr;
  void *fwd[2][2] = {};
  void *fwd16[2][2] = {}; ///< for 16-byte aligned inputs and output
  void *bwd[2][2][2] = {}; ///< [fused][f64][nsc]
  void *reduce[2] = {};    ///< [f64]
  std::string name;
  /// Partial-gradient scratch per stream (grown, never shrunk).
  mutable std::mutex scratchMutex;
  mutable std::map<void *, std::pair<void *, size_t>> scratch;
};

} // namespace act::detail

// act runtime (internal): one activation's GPU kernels, loaded through the driver.
// Free of MLIR: the PTX comes from the compiler (Module.cpp), so this file and Cuda.cpp
// also build into the stand-alone device check (tests/gpu/) for machines without LLVM.
#pragma once

#include "act/act.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace act::detail {

class GpuKernelSet {
public:
  /// Loads the PTX holding activation `name`'s forward kernels with
  /// cuModuleLoadDataEx. Throws act::Error with the driver's message.
  static std::unique_ptr<GpuKernelSet> load(const std::string &ptx, const std::string &name);

  /// Launches the forward kernel over `buffers` (inputs, output, parameters: device
  /// pointer and element count each; the first `elementwise` are inputs and output)
  /// on `stream`, grid sized from the SM count.
  void launchForward(DType dtype, const TensorShape &shape,
                     const std::vector<std::pair<const void *, int64_t>> &buffers,
                     size_t elementwise, void *stream) const;

private:
  void *module = nullptr;
  void *fwd[2][2] = {};
  void *fwd16[2][2] = {}; ///< for 16-byte aligned inputs and output
  std::string name;
};

} // namespace act::detail

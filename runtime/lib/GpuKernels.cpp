// act runtime: PTX from the compiler, loaded and launched through the CUDA driver.
#include "GpuKernels.h"

#include "Cuda.h"

#include <algorithm>

namespace act::detail {

std::unique_ptr<GpuKernelSet> GpuKernelSet::load(const std::string &ptx,
                                                 const std::string &name) {
  CudaDriver &driver = CudaDriver::get();
  std::unique_ptr<GpuKernelSet> set(new GpuKernelSet());
  set->name = name;
  driver.check(driver.cuModuleLoadDataEx(&set->module, ptx.c_str(), 0, nullptr, nullptr),
               ("loading the PTX of '" + name + "'").c_str());
  const char *dtypes[2] = {"f32", "f64"}, *layouts[2] = {"ncs", "nsc"};
  for (int d = 0; d < 2; ++d)
    for (int l = 0; l < 2; ++l)
      for (const char *kind : {"fwd", "fwd16"})
        driver.check(driver.cuModuleGetFunction(
                         std::string(kind) == "fwd" ? &set->fwd[d][l] : &set->fwd16[d][l],
                         set->module,
                         (name + "__" + kind + "_" + dtypes[d] + "_" + layouts[l]).c_str()),
                     "cuModuleGetFunction");
  return set;
}

void GpuKernelSet::launchForward(DType dtype, const TensorShape &shape,
                                 const std::vector<std::pair<const void *, int64_t>> &buffers,
                                 size_t elementwise, void *stream) const {
  CudaDriver &driver = CudaDriver::get();
  // Each memref<?xT> is (allocated, aligned, offset, size, stride) in the NVVM ABI.
  struct MemRef {
    const void *allocated, *aligned;
    int64_t offset, size, stride;
  };
  std::vector<MemRef> refs;
  for (auto [ptr, size] : buffers)
    refs.push_back({ptr, ptr, 0, size, 1});
  int64_t dims[3] = {shape.n, shape.c, shape.s};
  std::vector<void *> params;
  for (MemRef &m : refs)
    for (void *field : {(void *)&m.allocated, (void *)&m.aligned, (void *)&m.offset,
                        (void *)&m.size, (void *)&m.stride})
      params.push_back(field);
  for (int64_t &d : dims)
    params.push_back(&d);
  const unsigned block = 256;
  int64_t blocks = (shape.numElements() + block - 1) / block;
  // A grid-stride loop: a few waves of blocks per SM, not one block per element.
  int64_t grid = std::max<int64_t>(1, std::min<int64_t>(blocks, (int64_t)driver.sms * 8));
  // Inputs and output all 16-byte aligned: the kernel whose accesses merge into
  // 128-bit loads and stores.
  bool aligned = true;
  for (size_t b = 0; b < elementwise && b < buffers.size(); ++b)
    if ((uintptr_t)buffers[b].first % 16)
      aligned = false;
  void *fn = (aligned ? fwd16 : fwd)[dtype == DType::F64][shape.layout == Layout::NSC];
  driver.check(driver.cuLaunchKernel(fn, (unsigned)grid, 1, 1, block, 1, 1, 0, stream,
                                     params.data(), nullptr),
               ("launching '" + name + "'").c_str());
}

} // namespace act::detail

// act runtime: PTX from the compiler, loaded and launched through the CUDA driver.
#include "GpuKernels.h"

#include "Cuda.h"

#include <algorithm>

namespace act::detail {

namespace {
/// Each memref<?xT> is (allocated, aligned, offset, size, stride) in the NVVM ABI.
struct MemRef {
  const void *allocated, *aligned;
  int64_t offset, size, stride;
};

/// Kernel arguments: memrefs then index values, as cuLaunchKernel's pointer array.
struct KernelArgs {
  std::vector<MemRef> refs;
  std::vector<int64_t> ints;
  std::vector<void *> pointers;

  void **build() {
    pointers.clear();
    for (MemRef &m : refs)
      for (void *field : {(void *)&m.allocated, (void *)&m.aligned, (void *)&m.offset,
                          (void *)&m.size, (void *)&m.stride})
        pointers.push_back(field);
    for (int64_t &v : ints)
      pointers.push_back(&v);
    return pointers.data();
  }
};

constexpr unsigned kBlock = 256, kWarp = 32;

/// Blocks for `threads` threads: a grid-stride loop, a few waves per SM at most.
unsigned gridFor(int64_t threads) {
  int64_t blocks = (threads + kBlock - 1) / kBlock;
  return (unsigned)std::max<int64_t>(
      1, std::min<int64_t>(blocks, (int64_t)CudaDriver::get().sms * 8));
}
} // namespace

GpuKernelSet::~GpuKernelSet() {
  // Best effort: at exit the context may be gone already.
  if (scratch.empty())
    return;
  try {
    CudaDriver &driver = CudaDriver::get();
    for (auto &[stream, mem] : scratch)
      if (mem.first)
        driver.cuMemFree((CudaDriver::CUdeviceptr)(uintptr_t)mem.first);
  } catch (...) {
  }
}

std::unique_ptr<GpuKernelSet> GpuKernelSet::load(const std::string &ptx,
                                                 const std::string &name, bool learnable) {
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
  for (int fused = 0; fused < 2; ++fused)
    for (int d = 0; d < 2; ++d)
      for (int l = 0; l < 2; ++l)
        driver.check(driver.cuModuleGetFunction(
                         &set->bwd[fused][d][l], set->module,
                         (name + (fused ? "__fwdbwd_" : "__bwd_") + dtypes[d] + "_" +
                          layouts[l])
                             .c_str()),
                     "cuModuleGetFunction");
  if (learnable)
    for (int d = 0; d < 2; ++d)
      driver.check(driver.cuModuleGetFunction(&set->reduce[d], set->module,
                                              (name + "__reduce_" + dtypes[d]).c_str()),
                   "cuModuleGetFunction");
  return set;
}

void GpuKernelSet::launchForward(DType dtype, const TensorShape &shape,
                                 const std::vector<std::pair<const void *, int64_t>> &buffers,
                                 size_t elementwise, void *stream) const {
  CudaDriver &driver = CudaDriver::get();
  KernelArgs args;
  for (auto [ptr, size] : buffers)
    args.refs.push_back({ptr, ptr, 0, size, 1});
  args.ints = {shape.n, shape.c, shape.s};
  unsigned grid = gridFor(shape.numElements());
  // Inputs and output all 16-byte aligned: the kernel whose accesses merge into
  // 128-bit loads and stores.
  bool aligned = true;
  for (size_t b = 0; b < elementwise && b < buffers.size(); ++b)
    if ((uintptr_t)buffers[b].first % 16)
      aligned = false;
  void *fn = (aligned ? fwd16 : fwd)[dtype == DType::F64][shape.layout == Layout::NSC];
  driver.check(driver.cuLaunchKernel(fn, grid, 1, 1, kBlock, 1, 1, 0, stream, args.build(),
                                     nullptr),
               ("launching '" + name + "'").c_str());
}

int64_t GpuKernelSet::tileLength(const TensorShape &shape, bool hasTables) {
  // ncs: a warp's tile is up to 1024 elements of one row (32 per lane).
  // nsc: up to 32 rows of 32 channels (one channel per lane); with tables, whose
  // partials hold every entry, 256 rows so the partials stay small.
  if (shape.layout == Layout::NCS)
    return 1024;
  return hasTables ? 256 : 32;
}

void GpuKernelSet::launchBackward(DType dtype, const TensorShape &shape,
                                  const std::vector<std::pair<const void *, int64_t>> &buffers,
                                  bool fused, const std::vector<GradOut> &grads,
                                  void *stream) const {
  CudaDriver &driver = CudaDriver::get();
  bool f64 = dtype == DType::F64, nsc = shape.layout == Layout::NSC;
  bool hasTables = std::any_of(grads.begin(), grads.end(),
                               [](const GradOut &g) { return g.tableLength > 0; });
  int64_t tileLen = tileLength(shape, hasTables);
  int64_t tilesPerRow = (shape.s + tileLen - 1) / tileLen;
  int64_t tiles = nsc ? shape.n * ((shape.c + kWarp - 1) / kWarp) * tilesPerRow
                      : shape.n * shape.c * tilesPerRow;
  // Partials: per gradient, (n, c, tile) x table entries, in double.
  std::vector<int64_t> partOffset;
  int64_t partTotal = 0;
  for (const GradOut &g : grads) {
    partOffset.push_back(partTotal);
    partTotal += shape.n * shape.c * tilesPerRow * std::max<int64_t>(1, g.tableLength);
  }
  char *part = nullptr;
  if (partTotal) {
    std::lock_guard<std::mutex> lock(scratchMutex);
    auto &[mem, size] = scratch[stream];
    size_t bytes = (size_t)partTotal * sizeof(double);
    if (size < bytes) {
      if (mem) // earlier work on this stream may still read it
        driver.check(driver.cuCtxSynchronize(), "synchronizing before growing scratch");
      if (mem)
        driver.cuMemFree((CudaDriver::CUdeviceptr)(uintptr_t)mem);
      mem = nullptr;
      size = 0;
      CudaDriver::CUdeviceptr p = 0;
      driver.check(driver.cuMemAlloc(&p, bytes), "allocating gradient scratch");
      mem = (void *)(uintptr_t)p;
      size = bytes;
    }
    part = (char *)mem;
  }

  KernelArgs args;
  for (auto [ptr, size] : buffers)
    args.refs.push_back({ptr, ptr, 0, size, 1});
  for (size_t j = 0; j < grads.size(); ++j) {
    int64_t n = shape.n * shape.c * tilesPerRow * std::max<int64_t>(1, grads[j].tableLength);
    const void *p = part + partOffset[j] * sizeof(double);
    args.refs.push_back({p, p, 0, n, 1});
  }
  args.ints = {shape.n, shape.c, shape.s, tileLen};
  driver.check(driver.cuLaunchKernel(bwd[fused][f64][nsc], gridFor(tiles * kWarp), 1, 1, kBlock,
                                     1, 1, 0, stream, args.build(), nullptr),
               ("launching the backward kernel of '" + name + "'").c_str());

  for (size_t j = 0; j < grads.size(); ++j) {
    const GradOut &g = grads[j];
    if (!g.out)
      continue;
    int64_t k = std::max<int64_t>(1, g.tableLength);
    int64_t outCount = (g.perN ? shape.n : 1) * (g.perC ? shape.c : 1) * k;
    KernelArgs r;
    const void *p = part + partOffset[j] * sizeof(double);
    r.refs.push_back({p, p, 0, shape.n * shape.c * tilesPerRow * k, 1});
    r.refs.push_back({g.out, g.out, 0, outCount, 1});
    r.ints = {shape.n, shape.c, tilesPerRow, k, g.perN, g.perC};
    driver.check(driver.cuLaunchKernel(reduce[f64], gridFor(outCount * kWarp), 1, 1, kBlock, 1,
                                       1, 0, stream, r.build(), nullptr),
                 ("launching the gradient reduction of '" + name + "'").c_str());
  }
}

} // namespace act::detail

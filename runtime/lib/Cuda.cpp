// act runtime: the CUDA driver through dlopen, device buffers and timers.
#include "Cuda.h"

#include "act/cuda.h"

#include <dlfcn.h>

#include <mutex>

namespace act::detail {

namespace {
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;
} // namespace

CudaDriver &CudaDriver::instance() {
  static CudaDriver driver;
  return driver;
}

void CudaDriver::load() {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    loadError = "libcuda.so.1 not found (no NVIDIA driver installed)";
    return;
  }
  bool missing = false;
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) {
      loadError = std::string("libcuda.so.1 lacks ") + name;
      missing = true;
    }
  };
  sym(cuInit, "cuInit");
  sym(cuDeviceGet, "cuDeviceGet");
  sym(cuDeviceGetCount, "cuDeviceGetCount");
  sym(cuDeviceGetName, "cuDeviceGetName");
  sym(cuDeviceGetAttribute, "cuDeviceGetAttribute");
  sym(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  sym(cuCtxSetCurrent, "cuCtxSetCurrent");
  sym(cuCtxSynchronize, "cuCtxSynchronize");
  sym(cuModuleLoadDataEx, "cuModuleLoadDataEx");
  sym(cuModuleGetFunction, "cuModuleGetFunction");
  sym(cuLaunchKernel, "cuLaunchKernel");
  sym(cuMemAlloc, "cuMemAlloc_v2");
  sym(cuMemFree, "cuMemFree_v2");
  sym(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  sym(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  sym(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
  sym(cuEventCreate, "cuEventCreate");
  sym(cuEventRecord, "cuEventRecord");
  sym(cuEventSynchronize, "cuEventSynchronize");
  sym(cuEventElapsedTime, "cuEventElapsedTime_v2");
  if (!cuEventElapsedTime) {
    missing = false;
    sym(cuEventElapsedTime, "cuEventElapsedTime");
  }
  sym(cuEventDestroy, "cuEventDestroy_v2");
  sym(cuGetErrorString, "cuGetErrorString");
  if (missing)
    return;
  int count = 0;
  if (cuInit(0) != 0 || cuDeviceGetCount(&count) != 0 || count == 0) {
    loadError = "no CUDA device (the driver loads but reports no usable device)";
    return;
  }
  int major = 0, minor = 0;
  if (cuDeviceGet(&device, 0) != 0 ||
      cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, device) != 0 ||
      cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, device) != 0 ||
      cuDeviceGetAttribute(&sms, kAttrMultiprocessorCount, device) != 0 ||
      cuDevicePrimaryCtxRetain(&context, device) != 0) {
    loadError = "cannot open CUDA device 0";
    return;
  }
  arch = "sm_" + std::to_string(major) + std::to_string(minor);
  loaded = true;
}

CudaDriver &CudaDriver::get() {
  static std::once_flag once;
  CudaDriver &d = instance();
  std::call_once(once, [&] { d.load(); });
  if (!d.loaded)
    throw Error("CUDA unavailable: " + d.loadError);
  d.check(d.cuCtxSetCurrent(d.context), "cuCtxSetCurrent");
  return d;
}

void CudaDriver::check(CUresult r, const char *what) const {
  if (r == 0)
    return;
  const char *msg = nullptr;
  if (cuGetErrorString)
    cuGetErrorString(r, &msg);
  throw Error(std::string(what) + " failed: " + (msg ? msg : "error " + std::to_string(r)));
}

} // namespace act::detail

namespace act::cuda {
using detail::CudaDriver;

bool available(std::string *why) {
  try {
    CudaDriver::get();
    return true;
  } catch (const Error &e) {
    if (why)
      *why = e.what();
    return false;
  }
}

std::string deviceName() {
  CudaDriver &d = CudaDriver::get();
  char name[256] = {};
  d.check(d.cuDeviceGetName(name, sizeof name, d.device), "cuDeviceGetName");
  return name;
}
std::string deviceArch() { return CudaDriver::get().arch; }
int multiprocessorCount() { return CudaDriver::get().sms; }

void synchronize() {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuCtxSynchronize(), "cuCtxSynchronize");
}

Buffer::Buffer(size_t n) : bytes(n) {
  CudaDriver &d = CudaDriver::get();
  CudaDriver::CUdeviceptr p = 0;
  d.check(d.cuMemAlloc(&p, n ? n : 1), "cuMemAlloc");
  ptr = reinterpret_cast<void *>(p);
}
Buffer::~Buffer() {
  if (ptr)
    CudaDriver::get().cuMemFree(reinterpret_cast<CudaDriver::CUdeviceptr>(ptr));
}
Buffer::Buffer(Buffer &&o) noexcept : ptr(o.ptr), bytes(o.bytes) {
  o.ptr = nullptr;
  o.bytes = 0;
}
Buffer &Buffer::operator=(Buffer &&o) noexcept {
  std::swap(ptr, o.ptr);
  std::swap(bytes, o.bytes);
  return *this;
}
void Buffer::upload(const void *host, size_t n) {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuMemcpyHtoD(reinterpret_cast<CudaDriver::CUdeviceptr>(ptr), host, n),
          "cuMemcpyHtoD");
}
void Buffer::download(void *host, size_t n) const {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuMemcpyDtoH(host, reinterpret_cast<CudaDriver::CUdeviceptr>(ptr), n),
          "cuMemcpyDtoH");
}
void Buffer::copyFrom(const Buffer &src, size_t n, void *stream) {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuMemcpyDtoDAsync(reinterpret_cast<CudaDriver::CUdeviceptr>(ptr),
                              reinterpret_cast<CudaDriver::CUdeviceptr>(src.ptr), n, stream),
          "cuMemcpyDtoDAsync");
}

Timer::Timer(void *stream) : stream(stream) {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuEventCreate(&begin, 0), "cuEventCreate");
  d.check(d.cuEventCreate(&end, 0), "cuEventCreate");
}
Timer::~Timer() {
  CudaDriver &d = CudaDriver::get();
  d.cuEventDestroy(begin);
  d.cuEventDestroy(end);
}
void Timer::start() {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuEventRecord(begin, stream), "cuEventRecord");
}
float Timer::stop() {
  CudaDriver &d = CudaDriver::get();
  d.check(d.cuEventRecord(end, stream), "cuEventRecord");
  d.check(d.cuEventSynchronize(end), "cuEventSynchronize");
  float ms = 0;
  d.check(d.cuEventElapsedTime(&ms, begin, end), "cuEventElapsedTime");
  return ms;
}

} // namespace act::cuda

// act runtime (internal): the CUDA driver API, opened with dlopen.
#pragma once

#include "act/act.h"

#include <cstdint>
#include <string>

namespace act::detail {

/// The subset of the driver API act uses, resolved from libcuda.so.1 on first use.
struct CudaDriver {
  using CUresult = int;
  using CUdevice = int;
  using CUcontext = void *;
  using CUmodule = void *;
  using CUfunction = void *;
  using CUstream = void *;
  using CUevent = void *;
  using CUdeviceptr = unsigned long long;

  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuGetErrorString)(CUresult, const char **);

  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string arch; ///< "sm_90"
  int sms = 0;

  /// The driver with device 0's primary context current on this thread; throws
  /// act::Error saying why when there is no driver or device.
  static CudaDriver &get();
  /// Throws act::Error("<what>: <driver message>") when `r` is not CUDA_SUCCESS.
  void check(CUresult r, const char *what) const;

private:
  std::string loadError;
  bool loaded = false;
  static CudaDriver &instance();
  void load();
};

} // namespace act::detail

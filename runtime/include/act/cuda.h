// act: NVIDIA GPU support. libcuda.so.1 is opened at run time, so act builds and runs
// where no CUDA is installed; these functions then report why the GPU path is
// unavailable instead of failing to load.
//
//   act::Module m = act::Module::compile(src, "f.act", {act::Target::CUDA});
//   act::cuda::Buffer x(bytes), y(bytes);  x.upload(host, bytes);
//   m.get("swish").launch(act::DType::F32, shape, inputs, y.data(), params, stream);
#pragma once

#include <cstddef>
#include <string>

namespace act::cuda {

/// True when the driver loads and a device is present; otherwise false with the
/// reason in `why` ("libcuda.so.1 not found", "no CUDA device", ...).
bool available(std::string *why = nullptr);

/// The device act uses (device 0): its name, "sm_XY" architecture and SM count.
std::string deviceName();
std::string deviceArch();
int multiprocessorCount();

/// Waits for all work on the device (cuCtxSynchronize).
void synchronize();

/// Device memory owned by the caller's program (cuMemAlloc / cuMemFree).
class Buffer {
public:
  explicit Buffer(size_t bytes);
  ~Buffer();
  Buffer(Buffer &&other) noexcept;
  Buffer &operator=(Buffer &&other) noexcept;
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  void *data() const { return ptr; }
  size_t size() const { return bytes; }
  void upload(const void *host, size_t n);
  void download(void *host, size_t n) const;
  /// Device-to-device copy of `n` bytes from `src` (on `stream`, asynchronous).
  void copyFrom(const Buffer &src, size_t n, void *stream = nullptr);

private:
  void *ptr = nullptr;
  size_t bytes = 0;
};

/// Timing on the device: milliseconds between two points on `stream`.
class Timer {
public:
  explicit Timer(void *stream = nullptr);
  ~Timer();
  void start();
  /// Records the end, waits for it, and returns the elapsed milliseconds.
  float stop();

private:
  void *stream, *begin = nullptr, *end = nullptr;
};

} // namespace act::cuda

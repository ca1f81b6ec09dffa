// The GPU check that runs on a machine with a device but without LLVM: act's CUDA
// runtime (runtime/lib/Cuda.cpp, GpuKernels.cpp) loads the PTX actc emitted, launches
// every activation's kernels on the bundle's inputs and compares with the CPU kernels'
// output; then times forward kernels on 64 M float32 elements against a device-to-device
// copy of the same bytes in the same run.
//
//   device_check BUNDLE_DIR [BENCH_NAME...]
#include "../../runtime/lib/Cuda.h"
#include "../../runtime/lib/GpuKernels.h"

#include "act/cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

using namespace act;

void cuMemcpy(cuda::Buffer &dst, const std::vector<float> &src, int64_t offset);

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::unique_ptr<detail::GpuKernelSet>> kernels;

const detail::GpuKernelSet &kernelsFor(const std::string &dir, const std::string &name) {
  auto &set = kernels[name];
  if (!set)
    set = detail::GpuKernelSet::load(readFile(dir + "/" + name + ".ptx"), name);
  return *set;
}

template <typename T>
double checkCase(const std::string &dir, const std::string &name, Layout layout,
                 TensorShape shape, size_t nin, const std::vector<size_t> &paramSizes,
                 const std::string &file) {
  shape.layout = layout;
  size_t count = (size_t)shape.numElements();
  std::string data = readFile(dir + "/" + file);
  const T *p = reinterpret_cast<const T *>(data.data());
  std::vector<cuda::Buffer> bufs;
  std::vector<std::pair<const void *, int64_t>> args;
  for (size_t i = 0; i < nin; ++i, p += count) {
    bufs.emplace_back(count * sizeof(T));
    bufs.back().upload(p, count * sizeof(T));
  }
  cuda::Buffer y(count * sizeof(T));
  std::vector<cuda::Buffer> params;
  for (size_t n : paramSizes) {
    params.emplace_back(n * sizeof(T));
    params.back().upload(p, n * sizeof(T));
    p += n;
  }
  for (auto &b : bufs)
    args.emplace_back(b.data(), (int64_t)count);
  args.emplace_back(y.data(), (int64_t)count);
  for (size_t k = 0; k < params.size(); ++k)
    args.emplace_back(params[k].data(), (int64_t)paramSizes[k]);
  kernelsFor(dir, name).launchForward(sizeof(T) == 4 ? DType::F32 : DType::F64, shape, args,
                                      nin + 1, nullptr);
  cuda::synchronize();
  std::vector<T> got(count);
  y.download(got.data(), count * sizeof(T));
  double worst = 0;
  for (size_t i = 0; i < count; ++i) {
    double want = (double)p[i], g = (double)got[i];
    if (std::isnan(want) != std::isnan(g))
      return INFINITY;
    if (!std::isnan(want))
      worst = std::max(worst, std::fabs(g - want) / std::max(1.0, std::fabs(want)));
  }
  return worst;
}

void bench(const std::string &dir, const std::string &name, size_t numParams) {
  const int64_t n = 64 << 20; // 64 M float32 elements
  TensorShape shape{1, 64, n / 64, Layout::NCS};
  cuda::Buffer x(n * 4), y(n * 4), copy(n * 4);
  std::vector<float> host(1 << 20);
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = -4.0f + 8.0f * (float)i / (float)host.size();
  for (int64_t off = 0; off < n; off += (int64_t)host.size())
    cuMemcpy(x, host, off);
  // Per-channel parameters (64 channels, 17-entry tables at most): 1.0 everywhere,
  // bounds -3 and 3 for pwlu.
  std::vector<cuda::Buffer> params;
  std::vector<std::pair<const void *, int64_t>> args{{x.data(), n}, {y.data(), n}};
  for (size_t k = 0; k < numParams; ++k) {
    std::vector<float> v(64 * 17, 1.0f);
    if (name == "pwlu" && k == 1) std::fill(v.begin(), v.end(), -3.0f);
    if (name == "pwlu" && k == 2) std::fill(v.begin(), v.end(), 3.0f);
    params.emplace_back(v.size() * 4);
    params.back().upload(v.data(), v.size() * 4);
    args.emplace_back(params.back().data(), (int64_t)v.size());
  }
  const detail::GpuKernelSet &k = kernelsFor(dir, name);
  cuda::Timer timer;
  auto timeIt = [&](auto &&fn) {
    for (int i = 0; i < 3; ++i)
      fn();
    cuda::synchronize();
    timer.start();
    const int reps = 20;
    for (int i = 0; i < reps; ++i)
      fn();
    return timer.stop() / reps;
  };
  float copyMs = timeIt([&] { copy.copyFrom(x, n * 4); });
  float fwdMs = timeIt([&] { k.launchForward(DType::F32, shape, args, 2, nullptr); });
  double bytes = 2.0 * n * 4; // read x, write y
  std::printf("%-12s forward %7.3f ms %7.0f GB/s | copy %7.3f ms %7.0f GB/s | %5.1f%% of copy\n",
              name.c_str(), fwdMs, bytes / fwdMs / 1e6, copyMs, bytes / copyMs / 1e6,
              100.0 * copyMs / fwdMs);
}

} // namespace

// A host array repeated into device memory at an offset.
void cuMemcpy(cuda::Buffer &dst, const std::vector<float> &src, int64_t offset) {
  detail::CudaDriver &d = detail::CudaDriver::get();
  size_t bytes = std::min<size_t>(src.size() * 4, dst.size() - (size_t)offset * 4);
  d.check(d.cuMemcpyHtoD(reinterpret_cast<detail::CudaDriver::CUdeviceptr>(dst.data()) +
                             (size_t)offset * 4,
                         src.data(), bytes),
          "cuMemcpyHtoD");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: device_check BUNDLE_DIR [BENCH_NAME:NUM_PARAMS...]\n");
    return 2;
  }
  std::string why;
  if (!cuda::available(&why)) {
    std::printf("SKIP: no CUDA device: %s\n", why.c_str());
    return 0;
  }
  std::printf("device: %s (%s, %d SMs)\n", cuda::deviceName().c_str(),
              cuda::deviceArch().c_str(), cuda::multiprocessorCount());
  std::string dir = argv[1];
  std::ifstream manifest(dir + "/manifest.txt");
  std::string line;
  int failures = 0, cases = 0;
  double worst32 = 0, worst64 = 0;
  while (std::getline(manifest, line)) {
    std::istringstream ss(line);
    std::string name, dt, lt, file;
    TensorShape shape;
    size_t nin, np;
    ss >> name >> dt >> lt >> shape.n >> shape.c >> shape.s >> nin >> np;
    std::vector<size_t> sizes(np);
    for (size_t &s : sizes)
      ss >> s;
    ss >> file;
    Layout layout = lt == "nsc" ? Layout::NSC : Layout::NCS;
    double err;
    try {
      err = dt == "f32" ? checkCase<float>(dir, name, layout, shape, nin, sizes, file)
                        : checkCase<double>(dir, name, layout, shape, nin, sizes, file);
    } catch (const Error &e) {
      std::printf("FAIL %s %s %s: %s\n", name.c_str(), dt.c_str(), lt.c_str(), e.what());
      ++failures;
      continue;
    }
    double tol = dt == "f32" ? 2e-6 : 1e-13; // libdevice vs libm: a few ulps
    (dt == "f32" ? worst32 : worst64) = std::max(dt == "f32" ? worst32 : worst64, err);
    ++cases;
    if (!(err <= tol)) {
      std::printf("FAIL %s %s %s: worst relative error %.3g (tolerance %.1g)\n", name.c_str(),
                  dt.c_str(), lt.c_str(), err, tol);
      ++failures;
    }
  }
  std::printf("%d cases against the CPU kernels, %d failed; worst relative error f32 %.3g, "
              "f64 %.3g\n", cases, failures, worst32, worst64);
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    size_t colon = arg.find(':');
    bench(dir, arg.substr(0, colon), std::stoul(arg.substr(colon + 1)));
  }
  return failures ? 1 : 0;
}

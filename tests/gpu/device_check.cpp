// The GPU check that runs on a machine with a device but without LLVM: act's CUDA
// runtime (runtime/lib/Cuda.cpp, GpuKernels.cpp) loads the PTX actc emitted, launches
// every activation's kernels (forward, backward, fused forward+backward) on the bundle's
// inputs and compares with the CPU kernels' outputs (y, dx, every parameter gradient,
// and the gradients bitwise equal on a second run); then times forward and backward
// kernels on 64 M float32 elements against a device-to-device copy in the same run.
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

detail::GpuKernelSet &kernelsFor(const std::string &dir, const std::string &name) {
  auto &set = kernels[name];
  if (!set)
    set = detail::GpuKernelSet::load(readFile(dir + "/" + name + ".ptx"), name,
                                     /*learnable=*/true);
  return *set;
}

/// One parameter as the manifest describes it.
struct ParamDesc {
  size_t size;
  bool learnable, perN, perC;
  int64_t table;
};

/// Worst errors of one case: forward y, dx (and fused y), parameter gradients; a
/// gradient that differs between two runs counts as infinite.
struct CaseErrors {
  double y = 0, dx = 0, dp = 0;
};

template <typename T>
double worstError(const std::vector<T> &got, const T *want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double w = (double)want[i], g = (double)got[i];
    if (std::isnan(w) != std::isnan(g))
      return INFINITY;
    if (!std::isnan(w))
      worst = std::max(worst, std::fabs(g - w) / std::max(1.0, std::fabs(w)));
  }
  return worst;
}

template <typename T>
std::vector<T> fetch(const cuda::Buffer &b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}

template <typename T>
CaseErrors checkCase(const std::string &dir, const std::string &name, Layout layout,
                     TensorShape shape, size_t nin, const std::vector<ParamDesc> &params,
                     const std::string &file) {
  shape.layout = layout;
  DType dt = sizeof(T) == 4 ? DType::F32 : DType::F64;
  size_t count = (size_t)shape.numElements();
  std::string data = readFile(dir + "/" + file);
  const T *p = reinterpret_cast<const T *>(data.data());
  auto take = [&](size_t n) {
    cuda::Buffer b(std::max<size_t>(1, n) * sizeof(T));
    b.upload(p, n * sizeof(T));
    p += n;
    return b;
  };
  std::vector<cuda::Buffer> in, pb;
  for (size_t i = 0; i < nin; ++i)
    in.push_back(take(count));
  for (const ParamDesc &d : params)
    pb.push_back(take(d.size));
  const T *wantY = p;
  p += count;
  cuda::Buffer dy = take(count);
  const T *wantDx = p;
  p += count * nin;
  const T *wantDp = p;

  // Forward.
  std::vector<std::pair<const void *, int64_t>> args;
  for (auto &b : in)
    args.emplace_back(b.data(), (int64_t)count);
  cuda::Buffer y(count * sizeof(T));
  args.emplace_back(y.data(), (int64_t)count);
  for (size_t k = 0; k < params.size(); ++k)
    args.emplace_back(pb[k].data(), (int64_t)params[k].size);
  detail::GpuKernelSet &set = kernelsFor(dir, name);
  set.launchForward(dt, shape, args, nin + 1, nullptr);
  cuda::synchronize();
  CaseErrors err;
  err.y = worstError(fetch<T>(y, count), wantY);

  // Backward, then fused forward+backward.
  std::vector<cuda::Buffer> dx, dp;
  for (size_t i = 0; i < nin; ++i)
    dx.emplace_back(count * sizeof(T));
  std::vector<detail::GpuKernelSet::GradOut> grads;
  for (const ParamDesc &d : params)
    if (d.learnable) {
      dp.emplace_back(std::max<size_t>(1, d.size) * sizeof(T));
      grads.push_back({dp.back().data(), d.perN, d.perC, d.table});
    }
  for (bool fused : {false, true}) {
    std::vector<std::pair<const void *, int64_t>> b;
    for (auto &x : in)
      b.emplace_back(x.data(), (int64_t)count);
    cuda::Buffer y2(count * sizeof(T));
    if (fused)
      b.emplace_back(y2.data(), (int64_t)count);
    b.emplace_back(dy.data(), (int64_t)count);
    for (auto &x : dx)
      b.emplace_back(x.data(), (int64_t)count);
    for (size_t k = 0; k < params.size(); ++k)
      b.emplace_back(pb[k].data(), (int64_t)params[k].size);
    set.launchBackward(dt, shape, b, fused, grads, nullptr);
    cuda::synchronize();
    if (fused)
      err.dx = std::max(err.dx, worstError(fetch<T>(y2, count), wantY));
    for (size_t i = 0; i < nin; ++i)
      err.dx = std::max(err.dx, worstError(fetch<T>(dx[i], count), wantDx + i * count));
    std::vector<std::vector<T>> first;
    const T *want = wantDp;
    size_t j = 0;
    for (const ParamDesc &d : params) {
      if (!d.learnable)
        continue;
      first.push_back(fetch<T>(dp[j], d.size));
      err.dp = std::max(err.dp, worstError(first.back(), want));
      want += d.size;
      ++j;
    }
    // Deterministic: a second run gives the same bits.
    set.launchBackward(dt, shape, b, fused, grads, nullptr);
    cuda::synchronize();
    j = 0;
    for (const ParamDesc &d : params)
      if (d.learnable) {
        if (fetch<T>(dp[j], d.size) != first[j])
          err.dp = INFINITY;
        ++j;
      }
  }
  return err;
}

void bench(const std::string &dir, const std::string &name,
           const std::vector<ParamDesc> &descs) {
  size_t numParams = descs.size();
  const int64_t n = 64 << 20; // 64 M float32 elements
  TensorShape shape{1, 64, n / 64, Layout::NCS};
  cuda::Buffer x(n * 4), y(n * 4), copy(n * 4), dy(n * 4), dx(n * 4);
  std::vector<float> host(1 << 20);
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = -4.0f + 8.0f * (float)i / (float)host.size();
  for (int64_t off = 0; off < n; off += (int64_t)host.size())
    cuMemcpy(x, host, off);
  for (int64_t off = 0; off < n; off += (int64_t)host.size())
    cuMemcpy(dy, host, off);
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
  detail::GpuKernelSet &k = kernelsFor(dir, name);
  std::vector<std::pair<const void *, int64_t>> bargs{{x.data(), n}, {dy.data(), n}, {dx.data(), n}};
  for (size_t j = 2; j < args.size(); ++j)
    bargs.push_back(args[j]);
  std::vector<cuda::Buffer> grads;
  std::vector<detail::GpuKernelSet::GradOut> gradOuts;
  for (const ParamDesc &d : descs)
    if (d.learnable) {
      grads.emplace_back(64 * 17 * 8);
      gradOuts.push_back({grads.back().data(), d.perN, d.perC, d.table});
    }
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
  float bwdMs = timeIt([&] { k.launchBackward(DType::F32, shape, bargs, false, gradOuts, nullptr); });
  double bytes = 2.0 * n * 4;  // read x, write y
  double bbytes = 3.0 * n * 4; // read x and dy, write dx
  double copyRate = bytes / copyMs / 1e6;
  std::printf("%-12s forward %7.3f ms %7.0f GB/s %5.1f%% | backward %7.3f ms %7.0f GB/s %5.1f%% "
              "| copy %7.3f ms %7.0f GB/s\n",
              name.c_str(), fwdMs, bytes / fwdMs / 1e6, 100.0 * bytes / fwdMs / 1e6 / copyRate,
              bwdMs, bbytes / bwdMs / 1e6, 100.0 * bbytes / bwdMs / 1e6 / copyRate, copyMs,
              copyRate);
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
    std::fprintf(stderr, "usage: device_check BUNDLE_DIR [BENCH_NAME...]\n");
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
  double worst[2][3] = {}; // [f64][y, dx, dparams]
  std::map<std::string, std::vector<ParamDesc>> paramsOf;
  while (std::getline(manifest, line)) {
    std::istringstream ss(line);
    std::string name, dt, lt, file;
    TensorShape shape;
    size_t nin, np;
    ss >> name >> dt >> lt >> shape.n >> shape.c >> shape.s >> nin >> np;
    std::vector<ParamDesc> params(np);
    for (ParamDesc &d : params)
      ss >> d.size >> d.learnable >> d.perN >> d.perC >> d.table;
    ss >> file;
    paramsOf[name] = params;
    Layout layout = lt == "nsc" ? Layout::NSC : Layout::NCS;
    bool f64 = dt == "f64";
    CaseErrors err;
    try {
      err = f64 ? checkCase<double>(dir, name, layout, shape, nin, params, file)
                : checkCase<float>(dir, name, layout, shape, nin, params, file);
    } catch (const Error &e) {
      std::printf("FAIL %s %s %s: %s\n", name.c_str(), dt.c_str(), lt.c_str(), e.what());
      ++failures;
      continue;
    }
    // libdevice vs act's own math: a few ulps; gradients are long sums in another
    // order.
    double tol[3] = {f64 ? 1e-13 : 2e-6, f64 ? 1e-13 : 2e-6, f64 ? 1e-10 : 1e-4};
    double got[3] = {err.y, err.dx, err.dp};
    const char *what[3] = {"y", "dx", "dparams"};
    ++cases;
    bool ok = true;
    for (int k = 0; k < 3; ++k) {
      worst[f64][k] = std::max(worst[f64][k], got[k]);
      if (!(got[k] <= tol[k])) {
        std::printf("FAIL %s %s %s %lldx%lldx%lld: %s worst relative error %.3g (tolerance "
                    "%.1g)%s\n",
                    name.c_str(), dt.c_str(), lt.c_str(), (long long)shape.n,
                    (long long)shape.c, (long long)shape.s, what[k], got[k], tol[k],
                    std::isinf(got[k]) ? " or not deterministic" : "");
        ok = false;
      }
    }
    failures += !ok;
  }
  std::printf("%d cases against the CPU kernels, %d failed; worst relative error f32 y %.3g "
              "dx %.3g dparams %.3g, f64 y %.3g dx %.3g dparams %.3g\n",
              cases, failures, worst[0][0], worst[0][1], worst[0][2], worst[1][0], worst[1][1],
              worst[1][2]);
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg.substr(0, arg.find(':')); // "NAME:K" from older scripts
    if (!paramsOf.count(name)) {
      std::printf("FAIL bench: no activation '%s' in the bundle\n", name.c_str());
      ++failures;
      continue;
    }
    bench(dir, name, paramsOf[name]);
  }
  return failures ? 1 : 0;
}

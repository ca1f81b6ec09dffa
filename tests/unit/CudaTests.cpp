// GPU kernels against the CPU kernels: every seed activation, both layouts, float32
// and float64, with per-channel / per-sample parameters and table parameters. Prints a
// skip (and passes) where no CUDA driver or device is present.
#include "act/act.h"
#include "act/cuda.h"

#include "../gpu/CaseData.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <random>
#include <vector>

namespace {

bool haveDevice() {
  std::string why;
  if (act::cuda::available(&why))
    return true;
  std::cout << "SKIP: no CUDA device: " << why << "\n";
  return false;
}

template <typename T>
void compareSeed(const act::Activation &cpu, const act::Activation &gpu,
                 const act::TensorShape &shape, double tol) {
  size_t count = (size_t)shape.numElements();
  act_test::CaseData<T> data = act_test::makeCaseData<T>(cpu, shape);
  const std::vector<std::vector<T>> &inputs = data.inputs, &params = data.params;
  std::vector<const T *> in = data.inputPtrs(), pp = data.paramPtrs();
  std::vector<T> want(count), got(count);
  cpu.forward(shape, in.data(), want.data(), pp.data());

  std::vector<act::cuda::Buffer> dIn, dParams;
  std::vector<const void *> dInPtr, dParamPtr;
  for (auto &v : inputs) {
    dIn.emplace_back(v.size() * sizeof(T));
    dIn.back().upload(v.data(), v.size() * sizeof(T));
  }
  for (auto &v : params) {
    dParams.emplace_back(v.size() * sizeof(T));
    dParams.back().upload(v.data(), v.size() * sizeof(T));
  }
  for (auto &b : dIn)
    dInPtr.push_back(b.data());
  for (auto &b : dParams)
    dParamPtr.push_back(b.data());
  act::cuda::Buffer dY(count * sizeof(T));
  gpu.launch(sizeof(T) == 4 ? act::DType::F32 : act::DType::F64, shape, dInPtr.data(),
             dY.data(), dParamPtr.data());
  act::cuda::synchronize();
  dY.download(got.data(), count * sizeof(T));
  double worst = 0;
  for (size_t i = 0; i < count; ++i) {
    if (std::isnan(want[i])) {
      CHECK(std::isnan(got[i]));
      continue;
    }
    double err = std::fabs((double)got[i] - (double)want[i]) /
                 std::max(1.0, std::fabs((double)want[i]));
    worst = std::max(worst, err);
  }
  INFO(cpu.name() << (sizeof(T) == 4 ? " f32" : " f64")
                  << (shape.layout == act::Layout::NCS ? " ncs" : " nsc")
                  << " worst relative error " << worst);
  CHECK(worst <= tol);
}

template <typename T>
act::cuda::Buffer upload(const std::vector<T> &v) {
  act::cuda::Buffer b(std::max<size_t>(1, v.size()) * sizeof(T));
  if (!v.empty())
    b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

template <typename T>
std::vector<T> download(const act::cuda::Buffer &b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}

/// Worst |got - want| / max(1, |want|); NaN must match NaN.
template <typename T>
double worstError(const std::vector<T> &got, const std::vector<T> &want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan((double)want[i]) || std::isnan((double)got[i])) {
      if (std::isnan((double)want[i]) != std::isnan((double)got[i]))
        return INFINITY;
      continue;
    }
    worst = std::max(worst, std::fabs((double)got[i] - (double)want[i]) /
                                std::max(1.0, std::fabs((double)want[i])));
  }
  return worst;
}

/// GPU backward (and fused forward+backward) against the CPU kernels: y, every dx
/// and every parameter gradient; and the GPU's gradients bitwise equal on a rerun.
template <typename T>
void compareBackward(const act::Activation &cpu, const act::Activation &gpu,
                     const act::TensorShape &shape, double tol, double gradTol) {
  act::DType dt = sizeof(T) == 4 ? act::DType::F32 : act::DType::F64;
  size_t count = (size_t)shape.numElements();
  act_test::CaseData<T> data = act_test::makeCaseData<T>(cpu, shape);
  std::vector<const T *> in = data.inputPtrs(), pp = data.paramPtrs();
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> dy(count);
  for (T &v : dy)
    v = (T)u(rng);
  size_t nin = data.inputs.size(), np = data.params.size();
  std::vector<std::vector<T>> dx(nin, std::vector<T>(count)), dp(np);
  std::vector<T *> dxPtr, dpPtr;
  for (auto &v : dx)
    dxPtr.push_back(v.data());
  for (size_t p = 0; p < np; ++p) {
    dp[p].assign(data.params[p].size(), T(0));
    dpPtr.push_back(dp[p].data());
  }
  std::vector<T> y(count);
  cpu.backward(shape, in.data(), dy.data(), dxPtr.data(), dpPtr.data(), pp.data(), y.data());

  std::vector<act::cuda::Buffer> dIn, dParams, dDx, dDp;
  std::vector<const void *> inDev, pDev;
  std::vector<void *> dxDev, dpDev;
  for (auto &v : data.inputs)
    inDev.push_back(dIn.emplace_back(upload(v)).data());
  for (auto &v : data.params)
    pDev.push_back(dParams.emplace_back(upload(v)).data());
  for (size_t i = 0; i < nin; ++i)
    dxDev.push_back(dDx.emplace_back(count * sizeof(T)).data());
  for (size_t p = 0; p < np; ++p)
    dpDev.push_back(dDp.emplace_back(std::max<size_t>(1, dp[p].size()) * sizeof(T)).data());
  act::cuda::Buffer dDy = upload(dy), dYb(count * sizeof(T));
  for (bool fused : {false, true}) {
    gpu.launchBackward(dt, shape, inDev.data(), dDy.data(), dxDev.data(), dpDev.data(),
                       pDev.data(), fused ? dYb.data() : nullptr);
    act::cuda::synchronize();
    INFO(cpu.name() << (sizeof(T) == 4 ? " f32" : " f64")
                    << (shape.layout == act::Layout::NCS ? " ncs " : " nsc ") << shape.n << "x"
                    << shape.c << "x" << shape.s << (fused ? " fused" : ""));
    if (fused)
      CHECK(worstError(download<T>(dYb, count), y) <= tol);
    for (size_t i = 0; i < nin; ++i)
      CHECK(worstError(download<T>(dDx[i], count), dx[i]) <= tol);
    for (size_t p = 0; p < np; ++p) {
      if (cpu.params()[p].isConst)
        continue;
      std::vector<T> first = download<T>(dDp[p], dp[p].size());
      INFO("parameter " << cpu.params()[p].name);
      CHECK(worstError(first, dp[p]) <= gradTol);
      // The same launch again: the same bits.
      gpu.launchBackward(dt, shape, inDev.data(), dDy.data(), dxDev.data(), dpDev.data(),
                         pDev.data());
      act::cuda::synchronize();
      CHECK(download<T>(dDp[p], dp[p].size()) == first);
    }
  }
}

} // namespace

TEST_CASE("GPU backward matches the CPU kernels for every seed", "[cuda]") {
  if (!haveDevice())
    return;
  act::Module cpu = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  act::Module gpu = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act",
                                             act::CompileOptions{act::Target::CUDA, ""});
  for (const std::string &name : cpu.names())
    for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC})
      // Short rows, more channels than a warp, and rows of several tiles.
      for (act::TensorShape shape : {act::TensorShape{3, 5, 333, layout},
                                     act::TensorShape{2, 40, 20, layout},
                                     act::TensorShape{1, 2, 2100, layout}}) {
        compareBackward<float>(cpu.get(name), gpu.get(name), shape, 2e-6, 1e-4);
        compareBackward<double>(cpu.get(name), gpu.get(name), shape, 1e-13, 1e-10);
      }
}

TEST_CASE("GPU forward matches the CPU kernels for every seed", "[cuda]") {
  if (!haveDevice())
    return;
  std::cout << "device: " << act::cuda::deviceName() << " (" << act::cuda::deviceArch()
            << ", " << act::cuda::multiprocessorCount() << " SMs)\n";
  act::Module cpu = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  act::Module gpu = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act",
                                             act::CompileOptions{act::Target::CUDA, ""});
  for (const std::string &name : cpu.names()) {
    for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
      act::TensorShape shape{3, 5, 333, layout};
      // libdevice and libm differ by a few ulps.
      compareSeed<float>(cpu.get(name), gpu.get(name), shape, 2e-6);
      compareSeed<double>(cpu.get(name), gpu.get(name), shape, 1e-13);
    }
  }
}

TEST_CASE("launch on a CPU module and forward on a CUDA module are errors", "[cuda]") {
  act::Module cpu = act::Module::compile("act f(x) = x");
  float x = 1, y = 0;
  const void *in[] = {&x};
  CHECK_THROWS_WITH(cpu.get("f").launch(act::DType::F32, {1, 1, 1}, in, &y, nullptr),
                    Catch::Contains("compiled for the CPU"));
  act::Module gpu = act::Module::compile("act f(x) = x", "<input>",
                                         act::CompileOptions{act::Target::CUDA, ""});
  const float *fin[] = {&x};
  CHECK_THROWS_WITH(gpu.get("f").forward({1, 1, 1}, fin, &y),
                    Catch::Contains("compiled for CUDA"));
}

TEST_CASE("without a device the GPU path says why", "[cuda]") {
  std::string why;
  if (act::cuda::available(&why)) {
    SUCCEED("a device is present");
    return;
  }
  CHECK(!why.empty());
  CHECK_THROWS_AS(act::cuda::Buffer(16), act::Error);
}

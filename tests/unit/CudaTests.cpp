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

} // namespace

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

// The inputs and parameters that the GPU comparisons use, shared by the in-process
// test (tests/unit/CudaTests.cpp) and the bundle for machines without LLVM
// (tests/gpu/make_bundle.cpp), so both check the same cases.
#pragma once

#include "act/act.h"

#include <random>
#include <vector>

namespace act_test {

template <typename T>
struct CaseData {
  std::vector<std::vector<T>> inputs, params;
  std::vector<const T *> inputPtrs() const { return ptrs(inputs); }
  std::vector<const T *> paramPtrs() const { return ptrs(params); }

private:
  static std::vector<const T *> ptrs(const std::vector<std::vector<T>> &vs) {
    std::vector<const T *> out;
    for (auto &v : vs)
      out.push_back(v.data());
    return out;
  }
};

/// Inputs uniform on [-8, 8]; parameters on [0.2, 1.5], except pwl bounds at -3 and 3
/// and tables rising along each row (a sensible piecewise-linear shape).
template <typename T>
CaseData<T> makeCaseData(const act::Activation &a, const act::TensorShape &shape) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-8, 8), pu(0.2, 1.5);
  CaseData<T> d;
  size_t count = (size_t)shape.numElements();
  d.inputs.assign(a.inputs().size(), std::vector<T>(count));
  for (auto &in : d.inputs)
    for (T &v : in)
      v = (T)u(rng);
  for (const act::ParamInfo &p : a.params()) {
    std::vector<T> v((size_t)p.numValues(shape));
    for (size_t k = 0; k < v.size(); ++k) {
      if (p.tableLength)
        v[k] = (T)(0.1 * (double)(k % (size_t)p.tableLength) +
                   0.05 * (double)(k / (size_t)p.tableLength));
      else if (p.name == "bl")
        v[k] = (T)-3.0;
      else if (p.name == "br")
        v[k] = (T)3.0;
      else
        v[k] = (T)pu(rng);
    }
    d.params.push_back(v);
  }
  return d;
}

} // namespace act_test

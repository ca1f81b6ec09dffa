// Writes what the stand-alone GPU check (device_check.cpp) needs to compare GPU kernels
// with the CPU kernels on a machine without LLVM: for every activation in a file, for
// float32 and float64 and both layouts, random inputs, parameters and upstream
// gradient, and the CPU kernels' forward output, dx and parameter gradients, plus a
// manifest. The PTX comes from `actc emit --emit=ptx`.
//
//   make_bundle FILE.act OUTDIR
#include "act/act.h"

#include "CaseData.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <vector>

namespace {
using namespace act_test;

template <typename T>
void writeCase(const act::Activation &a, const act::TensorShape &shape, const std::string &dir,
               std::ofstream &manifest) {
  size_t count = (size_t)shape.numElements();
  CaseData<T> data = makeCaseData<T>(a, shape);
  const std::vector<std::vector<T>> &inputs = data.inputs, &params = data.params;
  std::vector<const T *> in = data.inputPtrs(), pp = data.paramPtrs();
  std::vector<T> y(count);
  a.forward(shape, in.data(), y.data(), pp.data());
  // Backward: dy uniform on [-1, 1]; dx per input and every learnable gradient.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> dy(count);
  for (T &v : dy)
    v = (T)u(rng);
  std::vector<std::vector<T>> dx(inputs.size(), std::vector<T>(count)), dp;
  std::vector<T *> dxPtr, dpPtr;
  for (auto &v : dx)
    dxPtr.push_back(v.data());
  for (auto &v : params)
    dp.emplace_back(v.size(), T(0));
  for (auto &v : dp)
    dpPtr.push_back(v.data());
  a.backward(shape, in.data(), dy.data(), dxPtr.data(), dpPtr.data(), pp.data());

  const char *dt = sizeof(T) == 4 ? "f32" : "f64";
  const char *lt = shape.layout == act::Layout::NCS ? "ncs" : "nsc";
  std::string file = a.name() + "_" + dt + "_" + lt + "_" + std::to_string(shape.c) + "x" +
                     std::to_string(shape.s) + ".bin";
  std::ofstream out(dir + "/" + file, std::ios::binary);
  auto put = [&](const std::vector<T> &v) {
    out.write((const char *)v.data(), (std::streamsize)(v.size() * sizeof(T)));
  };
  for (auto &v : inputs)
    put(v);
  for (auto &v : params)
    put(v);
  put(y);
  put(dy);
  for (auto &v : dx)
    put(v);
  for (size_t p = 0; p < params.size(); ++p)
    if (!a.params()[p].isConst)
      put(dp[p]);
  // name dtype layout N C S inputs params {size learnable perN perC table}... file
  manifest << a.name() << " " << dt << " " << lt << " " << shape.n << " " << shape.c << " "
           << shape.s << " " << inputs.size() << " " << params.size();
  for (size_t p = 0; p < params.size(); ++p) {
    const act::ParamInfo &info = a.params()[p];
    manifest << " " << params[p].size() << " " << !info.isConst << " " << info.perSample << " "
             << info.perChannel << " " << info.tableLength;
  }
  manifest << " " << file << "\n";
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: make_bundle FILE.act OUTDIR\n";
    return 2;
  }
  try {
    act::Module m = act::Module::compileFile(argv[1]);
    std::ofstream manifest(std::string(argv[2]) + "/manifest.txt");
    for (const std::string &name : m.names())
      for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC})
        // Rows of odd length (quads cross rows) and of a multiple of 4 (they do not);
        // more channels than a warp; rows of several backward tiles.
        for (act::TensorShape shape : {act::TensorShape{3, 5, 333, layout},
                                       act::TensorShape{2, 8, 64, layout},
                                       act::TensorShape{2, 40, 20, layout},
                                       act::TensorShape{1, 2, 2100, layout}}) {
          writeCase<float>(m.get(name), shape, argv[2], manifest);
          writeCase<double>(m.get(name), shape, argv[2], manifest);
        }
  } catch (const act::Error &e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}

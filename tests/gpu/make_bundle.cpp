// Writes what the stand-alone GPU check (device_check.cpp) needs to compare GPU kernels
// with the CPU kernels on a machine without LLVM: for every activation in a file, for
// float32 and float64 and both layouts, random inputs and parameters and the CPU
// kernels' output, plus a manifest. The PTX comes from `actc emit --emit=ptx`.
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

  const char *dt = sizeof(T) == 4 ? "f32" : "f64";
  const char *lt = shape.layout == act::Layout::NCS ? "ncs" : "nsc";
  std::string file = a.name() + "_" + dt + "_" + lt + "_" + std::to_string(shape.c) + "x" +
                     std::to_string(shape.s) + ".bin";
  std::ofstream out(dir + "/" + file, std::ios::binary);
  for (auto &v : inputs)
    out.write((const char *)v.data(), (std::streamsize)(v.size() * sizeof(T)));
  for (auto &v : params)
    out.write((const char *)v.data(), (std::streamsize)(v.size() * sizeof(T)));
  out.write((const char *)y.data(), (std::streamsize)(y.size() * sizeof(T)));
  manifest << a.name() << " " << dt << " " << lt << " " << shape.n << " " << shape.c << " "
           << shape.s << " " << inputs.size() << " " << params.size();
  for (auto &v : params)
    manifest << " " << v.size();
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
        // Rows of odd length (quads cross rows) and of a multiple of 4 (they do not).
        for (act::TensorShape shape : {act::TensorShape{3, 5, 333, layout},
                                       act::TensorShape{2, 8, 64, layout}}) {
          writeCase<float>(m.get(name), shape, argv[2], manifest);
          writeCase<double>(m.get(name), shape, argv[2], manifest);
        }
  } catch (const act::Error &e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}

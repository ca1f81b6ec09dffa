// act-bench-peers: the implementations `actc bench` measures act against, on the same
// formula and data: hand-written C++ loops (Loops.cpp, -O3 -march=native) and, when
// Halide 14 was found at configure time, Halide JIT pipelines (Halide.cpp). Plain C++:
// no MLIR, LLVM or act headers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actbench {

/// One benchmark problem, laid out as act lays it out: a contiguous (N, C, S) tensor,
/// channels first (NCS) or channels last (NSC), and each parameter in act's
/// declaration order with act's shape ([C]: c, [N,C]: n*C + c, [C,K]: c*K + k).
/// Every buffer is owned by the caller and bound once.
struct Problem {
  int64_t n = 1, c = 1, s = 1;
  bool channelsLast = false;
  unsigned threads = 1;
  const float *x = nullptr;
  std::vector<const float *> params;
  float *y = nullptr;                ///< forward output
  const float *dy = nullptr;         ///< upstream gradient
  float *dx = nullptr;               ///< backward output: dy * df/dx
  std::vector<float *> dparams;      ///< reduced parameter gradients, act's shapes

  int64_t count() const { return n * c * s; }
};

/// A peer's kernels for one activation, bound to a Problem's buffers.
class Kernel {
public:
  virtual ~Kernel() = default;
  virtual void forward() = 0;
  /// dx and every parameter's gradient (overwritten), as act's backward does.
  virtual void backward() = 0;
};

/// The activations the peers implement (seeds.act names): swish, acon_c,
/// meta_acon_c, pwlu, mish, gelu_.
const std::vector<std::string> &peerActivations();

/// The parameter shapes a peer expects for `fn`, as act writes them ("", "[C]",
/// "[N,C]", "[C,17]"); empty when `fn` is not implemented.
std::vector<std::string> expectedParams(const std::string &fn, bool *known = nullptr);

/// Hand-written float loops, split over `threads` (OpenMP when built with it).
/// Null when `fn` is not implemented.
std::unique_ptr<Kernel> makeLoop(const std::string &fn, const Problem &problem);
/// How the loops are parallelised ("OpenMP" or "std::thread").
const char *loopThreading();

/// True when this build has the Halide peer.
bool haveHalide();
/// A Halide JIT pipeline (compiled here, outside any timing; `compileMs` receives the
/// time it took). Null when `fn` is not implemented or Halide is not built in.
std::unique_ptr<Kernel> makeHalide(const std::string &fn, const Problem &problem,
                                   double *compileMs = nullptr);

} // namespace actbench

// The Halide peer's entry points in builds without Halide.
#include "Peers.h"

namespace actbench {

bool haveHalide() { return false; }

std::unique_ptr<Kernel> makeHalide(const std::string &, const Problem &, double *) {
  return nullptr;
}

} // namespace actbench

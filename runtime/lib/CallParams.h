// act runtime (internal): a CPU call's parameter buffers, as KernelCalls.cpp hands
// them to the kernels: initial values for null ones, 64-byte aligned copies of
// channels-last per-channel ones, a variant's arguments (parameters moved to inputs)
// and per-channel values repeated along S for short rows run as channels.
#pragma once

#include "KernelCall.h"
#include "ModuleImpl.h"

#include <cstddef>
#include <vector>

namespace act::detail {

/// A calling thread keeps each of its scratch buffers (backward's chunk accumulators,
/// outputs the caller did not want, addParams's aligned copies) between calls while
/// it is at most this many bytes, and gives a larger one back. Given back, a buffer
/// is faulted in again by the next call: pwlu ncs backward at C = 65536, S = 49 (4
/// chunks of 21 C doubles, 44 MB) took 184 ms a call with 16 MiB kept, 14 ms with
/// 64 MiB.
constexpr size_t kKeptBytes = size_t(64) << 20;

/// The error for a parameter left null that has no initial value.
Error noInitialValue(const Activation::Impl &impl, const ParamInfo &info);

/// `count` copies of a parameter's initial value (not a table's), for a call that
/// left it null; throws where it has none.
std::vector<char> initialFill(const Activation::Impl &impl, const ParamInfo &info, DType dtype,
                              size_t count);

/// A call's arguments for the variant of its activation that takes the parameters
/// `moved` as inputs (Activation::Impl::variantWith): the inputs, then the moved
/// parameters' buffers (a null one filled with its initial value, one per element),
/// and the other parameters' buffers.
struct VariantArgs {
  std::vector<const void *> inputs, params;
  std::vector<std::vector<char>> initial;

  VariantArgs(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
              const std::vector<unsigned> &moved, const void *const *in,
              const void *const *ps);
};

/// Adds every parameter buffer; parameters left null take their initial values,
/// materialised (rounded to `dtype`) in `defaults`.
void addParams(KernelCall &call, const Activation::Impl &impl, DType dtype,
               const TensorShape &shape, const void *const *params,
               std::vector<std::vector<char>> &defaults);

/// The parameters for {N, C S, 1} channels-last of an {N, C, S} call: each value of
/// a per-channel one repeated S times into `expanded` (its initial value where null).
std::vector<const void *> expandAlongS(const Activation::Impl &impl, DType dtype,
                                       const TensorShape &shape, const void *const *params,
                                       std::vector<std::vector<char>> &expanded);

} // namespace act::detail

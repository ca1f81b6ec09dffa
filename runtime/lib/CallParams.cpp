// act runtime: a CPU call's parameter buffers (CallParams.h).
#include "CallParams.h"

#include "ThreadPool.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace act::detail {

Error noInitialValue(const Activation::Impl &impl, const ParamInfo &info) {
  return Error("'" + impl.name + "': parameter '" + info.name +
               "' has no initial value; pass its values");
}

std::vector<char> initialFill(const Activation::Impl &impl, const ParamInfo &info, DType dtype,
                              size_t count) {
  if (info.init.empty())
    throw noInitialValue(impl, info);
  return filledBuffer(dtype, count, info.init[0]);
}

VariantArgs::VariantArgs(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                         const std::vector<unsigned> &moved, const void *const *in,
                         const void *const *ps) {
  inputs.assign(in, in + impl.inputs.size());
  for (unsigned p = 0; p < impl.params.size(); ++p) {
    const void *data = ps ? ps[p] : nullptr;
    if (std::find(moved.begin(), moved.end(), p) == moved.end()) {
      params.push_back(data);
      continue;
    }
    if (!data) {
      size_t count = (size_t)shape.numElements();
      data = initial.emplace_back(initialFill(impl, impl.params[p], dtype, count)).data();
    }
    inputs.push_back(data); // in increasing order, as the variant's inputs
  }
}

void addParams(KernelCall &call, const Activation::Impl &impl, DType dtype,
               const TensorShape &shape, const void *const *params,
               std::vector<std::vector<char>> &defaults) {
  const size_t numParams = impl.params.size();
  defaults.resize(numParams); // initial values
  // Channels-last kernels load per-channel parameters as vectors along C: from a
  // buffer not 64-byte aligned (malloc's 16), every load straddles two cache lines
  // (acon_c nsc forward {1, 1024, 16384}, two threads, 4.5-4.85 -> 3.5-3.9 ms). A
  // parameter small beside the tensor is copied (or its initial values written) to
  // a 64-byte aligned buffer per call: one the calling thread keeps, up to
  // kKeptBytes (a fresh one a call was zeroed and faulted in every call: acon_c nsc
  // backward on {16, 65536, 1}, two threads, 8% of its time in memset's faults).
  thread_local std::unique_ptr<char, decltype(&std::free)> kept(nullptr, &std::free);
  thread_local size_t keptBytes = 0;
  auto alignedFor = [&](const ParamInfo &info, const void *data) {
    return shape.layout == Layout::NSC && info.perChannel &&
           (!data || reinterpret_cast<uintptr_t>(data) % 64) &&
           info.numValues(shape) * 8 <= shape.numElements();
  };
  auto roundUp = [](size_t bytes) { return (bytes + 63) / 64 * 64; };
  size_t alignedBytes = 0, used = 0;
  for (size_t p = 0; p < numParams; ++p)
    if (alignedFor(impl.params[p], params ? params[p] : nullptr))
      alignedBytes += roundUp((size_t)impl.params[p].numValues(shape) * sizeOf(dtype));
  if (keptBytes < alignedBytes || keptBytes > std::max(alignedBytes, kKeptBytes)) {
    kept.reset(alignedBytes ? static_cast<char *>(std::aligned_alloc(64, alignedBytes)) : nullptr);
    keptBytes = kept ? alignedBytes : 0;
  }
  for (size_t p = 0; p < numParams; ++p) {
    const ParamInfo &info = impl.params[p];
    const void *data = params ? params[p] : nullptr;
    const int64_t values = info.numValues(shape);
    const size_t bytes = (size_t)values * sizeOf(dtype);
    char *aligned = nullptr;
    if (alignedFor(info, data)) {
      aligned = kept.get() + used;
      used += roundUp(bytes);
    }
    if (!data) {
      if (info.init.empty())
        throw noInitialValue(impl, info);
      std::vector<double> init = info.initialValues(shape);
      char *out = aligned;
      if (!out) {
        defaults[p].resize(bytes);
        out = defaults[p].data();
      }
      for (size_t k = 0; k < init.size(); ++k)
        storeAs(dtype, out, k, init[k]);
      data = out;
    } else if (aligned) {
      std::memcpy(aligned, data, bytes);
      data = aligned;
    }
    if (info.tableLength && values >= (int64_t(1) << 31))
      throw Error("'" + impl.name + "': table parameter '" + info.name +
                  "' has 2^31 or more entries; kernels index tables with 32 bits");
    call.add(data, values, sizeOf(dtype), &info);
  }
}

std::vector<const void *> expandAlongS(const Activation::Impl &impl, DType dtype,
                                       const TensorShape &shape, const void *const *params,
                                       std::vector<std::vector<char>> &expanded) {
  std::vector<const void *> out;
  const size_t bytes = (size_t)sizeOf(dtype), s = (size_t)shape.s;
  for (size_t p = 0; p < impl.params.size(); ++p) {
    const ParamInfo &info = impl.params[p];
    const void *data = params ? params[p] : nullptr;
    if (!info.perChannel) {
      out.push_back(data);
      continue;
    }
    const size_t values = (size_t)info.numValues(shape); // C, or N C
    std::vector<char> initial;
    if (!data)
      data = (initial = initialFill(impl, info, dtype, values)).data();
    std::vector<char> &wide = expanded.emplace_back(values * s * bytes);
    // A [N,C] parameter's repeats are as large as the tensor: written across the
    // pool in blocks of values.
    auto repeat = [&](auto type) {
      using T = decltype(type);
      const T *from = static_cast<const T *>(data);
      T *to = reinterpret_cast<T *>(wide.data());
      constexpr size_t kBlock = 16384;
      auto block = [&](size_t b) {
        for (size_t k = b * kBlock, end = std::min(values, k + kBlock); k < end; ++k)
          std::fill(to + k * s, to + (k + 1) * s, from[k]);
      };
      size_t blocks = (values + kBlock - 1) / kBlock;
      if (blocks > 1)
        ThreadPool::global().parallelFor(blocks, block);
      else
        block(0);
    };
    if (bytes == 8)
      repeat(uint64_t());
    else if (bytes == 4)
      repeat(uint32_t());
    else
      repeat(uint16_t());
    out.push_back(wide.data());
  }
  return out;
}

} // namespace act::detail

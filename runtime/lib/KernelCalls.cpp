// act runtime: Activation::forward, backward and derivatives on the CPU: argument
// checks, and the JIT kernels called over shape-determined row chunks on the thread
// pool (gradients reduced in a fixed order). The shape and kernel classes a call
// takes are chosen in CallShapes.cpp, its parameter buffers made in CallParams.cpp.
#include "act/act.h"

#include "CallParams.h"
#include "CallShapes.h"
#include "KernelCall.h"
#include "ModuleImpl.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace act;

namespace {
using detail::addParams;
using detail::checkCall;
using detail::Chunks;
using detail::columnClassFor;
using detail::cpuShape;
using detail::expandAlongS;
using detail::filledBuffer;
using detail::forwardRowsFor;
using detail::KernelCall;
using detail::kernelShape;
using detail::kKeptBytes;
using detail::shortRowsAsChannels;
using detail::storeAs;
using detail::storeRange;
using detail::VariantArgs;

/// Backward's chunk accumulators: at most this many bytes for 64 chunks (fewer
/// chunks, down to 4, beyond it).
constexpr size_t kAccumulatorBytes = size_t(8) << 20;

void runForward(Activation::Impl &impl, DType dtype, const TensorShape &callerShape,
                const void *const *inputs, void *y, const void *const *params) {
  impl.requireTarget(Target::CPU);
  if (std::vector<unsigned> moved = impl.elementwiseParams(kernelShape(callerShape), false);
      !moved.empty()) {
    if (!checkCall(impl, callerShape, inputs, {y}))
      return;
    VariantArgs args(impl, dtype, callerShape, moved, inputs, params);
    return runForward(impl.variantWith(moved), dtype, callerShape, args.inputs.data(), y,
                      args.params.data());
  }
  if (const TensorShape ks = kernelShape(callerShape); shortRowsAsChannels(impl, dtype, ks, true)) {
    if (!checkCall(impl, ks, inputs, {y}))
      return;
    std::vector<std::vector<char>> expanded;
    std::vector<const void *> ps = expandAlongS(impl, dtype, ks, params, expanded);
    return runForward(impl, dtype, TensorShape{ks.n, ks.c * ks.s, 1, Layout::NSC}, inputs, y,
                      ps.data());
  }
  const TensorShape shape = cpuShape(impl, callerShape);
  if (!checkCall(impl, shape, inputs, {y}))
    return;
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], shape.numElements(), sizeOf(dtype));
  call.add(y, shape.numElements(), sizeOf(dtype));
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  Chunks chunks(shape, /*maxChunks=*/1 << 20);
  const TensorShape callShape = chunks.callShape(shape);
  detail::PackedKernel fn = impl.getKernel(dtype, shape.layout, Activation::Impl::Forward,
                                           columnClassFor(impl, dtype, callShape),
                                           forwardRowsFor(impl, dtype, callShape, shape.numElements()));
  detail::ThreadPool::global().parallelFor((size_t)chunks.count, [&](size_t i) {
    chunks.run(call, fn, shape, (int64_t)i);
  });
}

/// `gradsInDouble`: `dparams` are double buffers, the sums stored unrounded (for
/// the short rows run as channels, whose sums go on over S).
void runBackward(Activation::Impl &impl, DType dtype, const TensorShape &callerShape,
                 const void *const *inputs, const void *dy, void *const *dinputs,
                 void *const *dparams, const void *const *params, void *y,
                 bool gradsInDouble = false) {
  impl.requireTarget(Target::CPU);
  const DType gradType = gradsInDouble ? DType::F64 : dtype;
  // The variant stores its moved parameters' gradients in the elements' type, not
  // into double buffers; its only double caller, short rows run as channels, has
  // N >= 8, C S > 1 and no [N,C] parameter, so nothing would move there anyway.
  std::vector<unsigned> moved;
  if (!gradsInDouble)
    moved = impl.elementwiseParams(kernelShape(callerShape), true);
  if (!moved.empty()) {
    if (!checkCall(impl, callerShape, inputs, {dy, dinputs}))
      return;
    VariantArgs args(impl, dtype, callerShape, moved, inputs, params);
    // The moved parameters' gradients are the variant's input gradients; one not
    // wanted goes to a scratch buffer (kept by the calling thread, as `scratch` below).
    thread_local std::vector<char> unwanted;
    std::vector<void *> din(dinputs, dinputs + impl.inputs.size()), dps;
    for (unsigned p = 0; p < impl.params.size(); ++p)
      if (std::find(moved.begin(), moved.end(), p) == moved.end())
        dps.push_back(dparams ? dparams[p] : nullptr);
    for (unsigned p : moved) {
      void *out = dparams ? dparams[p] : nullptr;
      if (!out) {
        unwanted.resize((size_t)callerShape.numElements() * sizeOf(dtype));
        out = unwanted.data();
      }
      din.push_back(out);
    }
    runBackward(impl.variantWith(moved), dtype, callerShape, args.inputs.data(), dy, din.data(),
                dparams ? dps.data() : nullptr, args.params.data(), y);
    if (unwanted.size() > kKeptBytes)
      std::vector<char>().swap(unwanted);
    return;
  }
  if (const TensorShape ks = kernelShape(callerShape);
      !gradsInDouble && shortRowsAsChannels(impl, dtype, ks, false)) {
    if (!checkCall(impl, ks, inputs, {dy, dinputs}))
      return;
    std::vector<std::vector<char>> expanded;
    std::vector<const void *> ps = expandAlongS(impl, dtype, ks, params, expanded);
    // The gradients come back as double sums over {N, C S, 1}: a per-channel
    // parameter's C S sums are then summed over S, in order, and each rounded once.
    const TensorShape wide{ks.n, ks.c * ks.s, 1, Layout::NSC};
    std::vector<std::vector<double>> sums(impl.params.size());
    std::vector<void *> dps(impl.params.size(), nullptr);
    for (size_t p = 0; p < impl.params.size(); ++p)
      if (dparams && dparams[p] && !impl.params[p].isConst) {
        sums[p].resize((size_t)impl.params[p].numValues(wide));
        dps[p] = sums[p].data();
      }
    runBackward(impl, dtype, wide, inputs, dy, dinputs, dps.data(), ps.data(), y,
                /*gradsInDouble=*/true);
    for (size_t p = 0; p < impl.params.size(); ++p) {
      if (!dps[p])
        continue;
      if (!impl.params[p].perChannel) {
        storeRange(dtype, dparams[p], 0, sums[p].data(), sums[p].size());
        continue;
      }
      for (size_t c = 0; c < (size_t)ks.c; ++c) {
        double sum = 0.0;
        for (size_t j = 0; j < (size_t)ks.s; ++j)
          sum += sums[p][c * (size_t)ks.s + j];
        storeAs(dtype, dparams[p], c, sum);
      }
    }
    return;
  }
  const TensorShape shape = cpuShape(impl, callerShape);
  if (!checkCall(impl, shape, inputs, {dy, dinputs}))
    return;
  int64_t count = shape.numElements();
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], count, sizeOf(dtype));
  if (y)
    call.add(y, count, sizeOf(dtype));
  call.add(dy, count, sizeOf(dtype));
  for (size_t i = 0; i < impl.inputs.size(); ++i) {
    if (!dinputs[i])
      throw Error("'" + impl.name + "': the gradient buffer for input '" +
                  impl.inputs[i] + "' is null");
    call.add(dinputs[i], count, sizeOf(dtype));
  }
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  // Gradients accumulate in double: each chunk of rows into its own buffers in
  // element order, then the chunks are summed in chunk order, then rounded once into
  // the caller's buffers.
  std::vector<size_t> learnable, accIndex;
  for (size_t p = 0; p < impl.params.size(); ++p)
    if (!impl.params[p].isConst) {
      learnable.push_back(p);
      accIndex.push_back(
          call.add(nullptr, impl.params[p].numValues(shape), sizeof(double), &impl.params[p]));
    }
  // A chunk sums into its window of each parameter's values: all of them, but for a
  // parameter that varies along N only its own samples' (a [N,C] parameter has as
  // many values as a sample has elements: meta_acon_c's beta on {4096, 1024, 1}
  // had made every chunk zero and sum all 4M of them, 105 ns an element), and for a
  // segment of a channels-last row only its channels'.
  const size_t numLearnable = learnable.size();
  std::vector<int64_t> total(numLearnable);
  size_t sharedValues = 0, scalarValues = 0; // values every chunk (every segment) holds
  for (size_t j = 0; j < numLearnable; ++j) {
    const ParamInfo &info = impl.params[learnable[j]];
    total[j] = info.numValues(shape);
    if (!info.perSample)
      sharedValues += (size_t)total[j];
    if (!info.perSample && !info.perChannel)
      scalarValues += (size_t)total[j];
  }
  // At most 64 chunks, and fewer (down to 4) where their accumulators would pass
  // kAccumulatorBytes: 64 chunks of pwlu's 21 C doubles at C = 4096 were 44 MB to
  // zero and sum per call. The count depends on the shape alone, as the cut must.
  // A budget of a quarter of the tensor's bytes too: each chunk zeroes, fills and
  // sums every value of its windows, and with few rows a chunk those passes cost
  // more than the rows (acon_c nsc backward on {64, 16384, 1}, 4 rows a chunk,
  // 0.89 -> 0.41 ns an element with 16; prelu {8, 131072, 1} 0.57 -> 0.27).
  const size_t budget = std::min(kAccumulatorBytes, (size_t)count * sizeOf(dtype) / 4);
  auto maxFor = [budget](size_t values) {
    return (int64_t)std::clamp<size_t>(budget / std::max<size_t>(1, values * sizeof(double)), 4, 64);
  };
  const bool nsc = shape.layout == Layout::NSC;
  // Few long channels-last rows: a chunk is a segment of channels in every row
  // (Chunks::spansRows), its gradient windows its own, where a segment of one row
  // shared its channels' windows with the other rows' (pwlu backward on
  // {8, 131072, 1}, 22 MB of sums a window, 245 -> 4.6 ns an element; {2, 524288, 1}
  // 490 -> 9.7; acon_c 2.7 -> 1.25, prelu 0.58 -> 0.25). Not where a parameter
  // varies along N and C: its window in a segment of every row is not one range.
  bool spanRows = nsc && std::none_of(learnable.begin(), learnable.end(), [&](size_t p) {
    return impl.params[p].perSample && impl.params[p].perChannel;
  });
  Chunks chunks(shape, maxFor(sharedValues), nsc ? maxFor(scalarValues) : maxFor(sharedValues),
                spanRows);
  const size_t numChunks = (size_t)chunks.count;
  const int64_t rowsPerSample = nsc ? shape.s : shape.c;
  // Window [lo, hi) of learnable j in chunk i (k = i * numLearnable + j).
  std::vector<int64_t> lo(numChunks * numLearnable), hi(lo.size());
  for (size_t i = 0; i < numChunks; ++i) {
    auto [rowBegin, rowEnd] = chunks.rowsOf((int64_t)i);
    auto [from, to] = chunks.spanOf((int64_t)i);
    for (size_t j = 0; j < numLearnable; ++j) {
      const ParamInfo &info = impl.params[learnable[j]];
      size_t k = i * numLearnable + j;
      lo[k] = 0;
      hi[k] = total[j];
      if (info.perSample) {
        int64_t perSample = total[j] / std::max<int64_t>(1, shape.n);
        lo[k] = rowBegin / rowsPerSample * perSample;
        hi[k] = ((rowEnd - 1) / rowsPerSample + 1) * perSample;
      }
      if (nsc && chunks.segments > 1 && info.perChannel) { // one row: its sample's, or all
        int64_t width = std::max<int64_t>(1, info.tableLength);
        hi[k] = lo[k] + to * width;
        lo[k] += from * width;
      }
    }
  }
  // A value's sum runs over the chunks whose windows hold it, in the order of the
  // windows' starts (chunk order among equal starts): windows then only move
  // forward, so those chunks are a contiguous run of that order (segments of
  // channels-last rows start over at each row; other windows already move forward
  // in chunk order). orders[j]: that order of learnable j's windows.
  std::vector<std::vector<size_t>> orders(numLearnable, std::vector<size_t>(numChunks));
  // [xlo, xhi): the values of window k no other window holds (a chunk's own
  // samples, or a segment's own channels); empty (hi, hi) where there are none.
  std::vector<int64_t> xlo(lo.size()), xhi(lo.size());
  for (size_t j = 0; j < numLearnable; ++j) {
    std::vector<size_t> &order = orders[j];
    for (size_t i = 0; i < numChunks; ++i)
      order[i] = i * numLearnable + j;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return lo[a] < lo[b]; });
    for (size_t q = 0; q < numChunks; ++q) {
      size_t k = order[q];
      xlo[k] = q > 0 ? std::max(lo[k], hi[order[q - 1]]) : lo[k];
      xhi[k] = q + 1 < numChunks ? std::min(hi[k], lo[order[q + 1]]) : hi[k];
      if (xlo[k] >= xhi[k])
        xlo[k] = xhi[k] = hi[k];
    }
  }
  // A window with values of its own is summed by its chunk's task in a buffer of
  // that worker's, which stores those values' gradients straight away and keeps the
  // rest (values other chunks share) in the shared scratch; a window with none sums
  // there directly. A [N,C] parameter has as many values as x: all its windows in
  // one buffer (meta_acon_c {16384, 1024, 1}: 134 MB) were faulted in again every
  // call past kKeptBytes, 25 ns an element, and zeroed, summed and read back after.
  auto own = [&](size_t k) { return xlo[k] < xhi[k]; };
  std::vector<size_t> at(lo.size() + 1, 0); // where window k's shared values start
  for (size_t k = 0; k < lo.size(); ++k)
    at[k + 1] = at[k] + (size_t)((hi[k] - lo[k]) - (xhi[k] - xlo[k]));
  // The shared scratch is kept per calling thread across calls: allocated and freed
  // per call, it was returned to the system each time and faulted back in, which
  // made channels-last backward at C = 2048 three times slower.
  thread_local std::vector<double> scratch;
  if (scratch.size() < at.back())
    scratch.resize(at.back());
  double *accs = scratch.data();
  detail::PackedKernel fn = impl.getKernel(
      dtype, shape.layout, y ? Activation::Impl::ForwardBackward : Activation::Impl::Backward,
      columnClassFor(impl, dtype, chunks.callShape(shape), chunks.rowsPerCall()),
      forwardRowsFor(impl, dtype, chunks.callShape(shape), shape.numElements()));
  detail::ThreadPool::global().parallelFor(numChunks, [&](size_t i) {
    thread_local std::vector<double> mine; // this worker's windows with values of their own
    size_t mineSize = 0;
    for (size_t j = 0; j < numLearnable; ++j) {
      size_t k = i * numLearnable + j;
      if (own(k))
        mineSize += (size_t)(hi[k] - lo[k]);
    }
    if (mine.size() < mineSize)
      mine.resize(mineSize);
    std::fill(mine.begin(), mine.begin() + (ptrdiff_t)mineSize, 0.0);
    std::fill(accs + at[i * numLearnable], accs + at[(i + 1) * numLearnable], 0.0);
    std::vector<std::pair<size_t, void *>> replacements;
    // The kernel indexes the whole parameter: its window's buffer, moved back by lo.
    std::vector<double *> windowOf(numLearnable);
    for (size_t j = 0, next = 0; j < numLearnable; ++j) {
      size_t k = i * numLearnable + j;
      windowOf[j] = own(k) ? mine.data() + next : accs + at[k];
      next += own(k) ? (size_t)(hi[k] - lo[k]) : 0;
      replacements.emplace_back(accIndex[j], windowOf[j] - lo[k]);
    }
    chunks.run(call, fn, shape, (int64_t)i, replacements);
    for (size_t j = 0; j < numLearnable; ++j) {
      size_t k = i * numLearnable + j;
      if (!own(k))
        continue;
      const double *w = windowOf[j];
      std::copy(w, w + (xlo[k] - lo[k]), accs + at[k]);
      std::copy(w + (xhi[k] - lo[k]), w + (hi[k] - lo[k]), accs + at[k] + (xlo[k] - lo[k]));
      if (void *out = dparams ? dparams[learnable[j]] : nullptr)
        storeRange(gradType, out, (size_t)xlo[k], w + (xlo[k] - lo[k]), (size_t)(xhi[k] - xlo[k]));
    }
    if (mine.size() * sizeof(double) > kKeptBytes)
      std::vector<double>().swap(mine);
  });
  // The shared values, summed in blocks across the pool straight into dparams.
  constexpr int64_t kSumBlock = 16384;
  for (size_t j = 0; j < numLearnable; ++j) {
    void *out = dparams ? dparams[learnable[j]] : nullptr;
    if (!out)
      continue;
    auto sumBlock = [&, j, out](size_t b) {
      const size_t *order = orders[j].data(), *start = at.data();
      const int64_t *LO = lo.data(), *HI = hi.data(), *XLO = xlo.data(), *XHI = xhi.data();
      int64_t from = (int64_t)b * kSumBlock, to = std::min(total[j], from + kSumBlock);
      size_t first = 0, last = 0; // windows holding v: order[first, last)
      // Runs of values held by the same windows, each window's values contiguous
      // along the run, are summed a piece at a time, window by window in order (the
      // same additions as value by value: a value at a time had cost acon_c nsc
      // backward on {16, 65536, 1} a fifth of its time).
      constexpr int64_t kPiece = 512;
      double sums[kPiece];
      for (int64_t v = from; v < to;) {
        while (first < numChunks && HI[order[first]] <= v)
          ++first;
        last = std::max(last, first);
        while (last < numChunks && LO[order[last]] <= v)
          ++last;
        if (last == first + 1 && v >= XLO[order[first]] && v < XHI[order[first]]) {
          v = XHI[order[first]]; // its chunk's own values: stored already
          continue;
        }
        // Where the windows holding v change, or one's values stop being
        // contiguous (its own values, held by it alone, start).
        int64_t end = std::min(to, v + kPiece);
        if (last < numChunks)
          end = std::min(end, LO[order[last]]);
        for (size_t q = first; q < last; ++q) {
          size_t k = order[q];
          end = std::min(end, HI[k]);
          if (v < XLO[k])
            end = std::min(end, XLO[k]);
        }
        std::fill(sums, sums + (end - v), 0.0); // every window in order[first, last) holds v
        for (size_t q = first; q < last; ++q) {
          size_t k = order[q];
          const double *w =
              accs + start[k] + (size_t)(v < XLO[k] ? v - LO[k] : (XLO[k] - LO[k]) + (v - XHI[k]));
          for (int64_t i = 0; i < end - v; ++i)
            sums[i] += w[i];
        }
        storeRange(gradType, out, (size_t)v, sums, (size_t)(end - v));
        v = end;
      }
    };
    size_t blocks = (size_t)((total[j] + kSumBlock - 1) / kSumBlock);
    if (blocks > 1)
      detail::ThreadPool::global().parallelFor(blocks, sumBlock);
    else if (blocks == 1)
      sumBlock(0);
  }
  if (scratch.size() * sizeof(double) > kKeptBytes)
    std::vector<double>().swap(scratch);
}
} // namespace

namespace {
void runDerivatives(Activation::Impl &impl, DType dtype, unsigned order,
                    const TensorShape &callerShape, const void *const *inputs,
                    void *const *outs, const void *const *params) {
  const TensorShape shape = cpuShape(impl, callerShape);
  impl.requireTarget(Target::CPU);
  if (order < 1 || order > 8)
    throw Error("'" + impl.name + "': derivative order must be from 1 to 8");
  if (!outs)
    throw Error("'" + impl.name + "': output buffers must not be null");
  if (!checkCall(impl, shape, inputs, {}))
    return;
  if (order == 1) { // f and f' come from the order-1 body through the fused kernel
    size_t count = (size_t)shape.numElements();
    std::vector<char> dy = filledBuffer(dtype, count, 1.0);
    std::vector<void *> dinputs(impl.inputs.size());
    std::vector<std::vector<char>> scratch(impl.inputs.size());
    dinputs[0] = outs[1];
    for (size_t i = 1; i < impl.inputs.size(); ++i) {
      scratch[i].resize(count * sizeOf(dtype));
      dinputs[i] = scratch[i].data();
    }
    runBackward(impl, dtype, shape, inputs, dy.data(), dinputs.data(), nullptr, params,
                   outs[0]);
    return;
  }
  KernelCall call;
  call.flushDenormals = impl.options.flushDenormals;
  for (size_t i = 0; i < impl.inputs.size(); ++i)
    call.add(inputs[i], shape.numElements(), sizeOf(dtype));
  for (unsigned k = 0; k <= order; ++k) {
    if (!outs[k])
      throw Error("'" + impl.name + "': output buffer " + std::to_string(k) + " is null");
    call.add(outs[k], shape.numElements(), sizeOf(dtype));
  }
  std::vector<std::vector<char>> defaults;
  addParams(call, impl, dtype, shape, params, defaults);
  detail::PackedKernel fn = impl.getKernels(dtype, order).derivatives(shape.layout);
  Chunks chunks(shape, /*maxChunks=*/1 << 20);
  detail::ThreadPool::global().parallelFor((size_t)chunks.count, [&](size_t i) {
    chunks.run(call, fn, shape, (int64_t)i);
  });
}
} // namespace

void Activation::derivatives(DType dtype, unsigned order, const TensorShape &shape,
                             const void *const *inputs, void *const *outs,
                             const void *const *params) const {
  runDerivatives(*impl, dtype, order, shape, inputs, outs, params);
}

void Activation::derivatives(unsigned order, const TensorShape &shape,
                             const float *const *inputs, float *const *outs,
                             const float *const *params) const {
  derivatives(DType::F32, order, shape, reinterpret_cast<const void *const *>(inputs),
              reinterpret_cast<void *const *>(outs),
              reinterpret_cast<const void *const *>(params));
}

void Activation::derivatives(unsigned order, const TensorShape &shape,
                             const double *const *inputs, double *const *outs,
                             const double *const *params) const {
  derivatives(DType::F64, order, shape, reinterpret_cast<const void *const *>(inputs),
              reinterpret_cast<void *const *>(outs),
              reinterpret_cast<const void *const *>(params));
}

void Activation::backward(DType dtype, const TensorShape &shape, const void *const *inputs,
                          const void *dy, void *const *dinputs, void *const *dparams,
                          const void *const *params, void *y) const {
  runBackward(*impl, dtype, shape, inputs, dy, dinputs, dparams, params, y);
}

void Activation::backward(const TensorShape &shape, const float *const *inputs,
                          const float *dy, float *const *dinputs, float *const *dparams,
                          const float *const *params, float *y) const {
  backward(DType::F32, shape, reinterpret_cast<const void *const *>(inputs), dy,
           reinterpret_cast<void *const *>(dinputs), reinterpret_cast<void *const *>(dparams),
           reinterpret_cast<const void *const *>(params), y);
}

void Activation::backward(const TensorShape &shape, const double *const *inputs,
                          const double *dy, double *const *dinputs, double *const *dparams,
                          const double *const *params, double *y) const {
  backward(DType::F64, shape, reinterpret_cast<const void *const *>(inputs), dy,
           reinterpret_cast<void *const *>(dinputs), reinterpret_cast<void *const *>(dparams),
           reinterpret_cast<const void *const *>(params), y);
}

void Activation::forward(DType dtype, const TensorShape &shape, const void *const *inputs,
                         void *y, const void *const *params) const {
  runForward(*impl, dtype, shape, inputs, y, params);
}

void Activation::forward(const TensorShape &shape, const float *const *inputs, float *y,
                         const float *const *params) const {
  forward(DType::F32, shape, reinterpret_cast<const void *const *>(inputs), y,
          reinterpret_cast<const void *const *>(params));
}

void Activation::forward(const TensorShape &shape, const double *const *inputs, double *y,
                         const double *const *params) const {
  forward(DType::F64, shape, reinterpret_cast<const void *const *>(inputs), y,
          reinterpret_cast<const void *const *>(params));
}

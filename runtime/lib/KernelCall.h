// act runtime: how a CPU kernel is called. KernelCall builds a kernel's packed
// arguments (buffers as memref descriptors, then N, C, S and a row range) and runs
// rows or a segment of one row; Chunks cuts a tensor into the calls threads run, by
// its shape alone. Element stores into buffers of any act::DType.
#pragma once

#include "act/act.h"

#include "FlushDenormals.h"
#include "JIT.h"
#include "ModuleImpl.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace act::detail {

/// A 1-D strided memref descriptor as the LLVM lowering of memref<?xT> expects.
struct MemRefArg {
  void *allocated;
  void *aligned;
  int64_t offset = 0, size, stride = 1;
};

/// Builds a kernel's packed argument list: memrefs first, in signature order, then
/// N, C, S and the row range.
class KernelCall {
public:
  /// Adds a buffer of `size` elements of `bytes` bytes; `param`: the parameter whose
  /// values (or gradient sums) it holds, null for a tensor. Returns its position
  /// (for replacements).
  size_t add(const void *p, int64_t size, int64_t bytes, const ParamInfo *param = nullptr) {
    void *ptr = const_cast<void *>(p);
    bufs.push_back(MemRefArg{ptr, ptr, 0, size, 1});
    roles.push_back({bytes, param});
    return bufs.size() - 1;
  }
  /// Runs rows [rowBegin, rowEnd), with buffer `replacements[i].first` pointing at
  /// `replacements[i].second` instead (a chunk's own gradient accumulators).
  void run(PackedKernel fn, const TensorShape &shape, int64_t rowBegin,
           int64_t rowEnd, const std::vector<std::pair<size_t, void *>> &replacements = {}) const {
    std::vector<MemRefArg> local = bufs;
    for (auto [index, ptr] : replacements)
      local[index].allocated = local[index].aligned = ptr;
    invoke(fn, local, {shape.n, shape.c, shape.s, rowBegin, rowEnd});
  }
  /// Elements [from, to) of row `row` alone, as a tensor of one row: each tensor's
  /// pointer moved to the segment, each parameter's to the row's sample and (in
  /// channels-first) its channel or (in channels-last) the segment's first channel.
  /// A row longer than a chunk is cut so (Chunks).
  void runSegment(PackedKernel fn, const TensorShape &shape, int64_t row, int64_t from,
                  int64_t to, const std::vector<std::pair<size_t, void *>> &replacements = {}) const {
    std::vector<MemRefArg> local = bufs;
    for (auto [index, ptr] : replacements)
      local[index].allocated = local[index].aligned = ptr;
    const bool nsc = shape.layout == Layout::NSC;
    int64_t rowLen = nsc ? shape.c : shape.s;
    int64_t n = nsc ? row / shape.s : row / shape.c;
    int64_t channel = nsc ? from : row % shape.c; // a channel-first row's, a segment's first
    for (size_t k = 0; k < local.size(); ++k) {
      const ParamInfo *param = roles[k].param;
      int64_t at = row * rowLen + from;
      if (param) {
        at = param->perSample ? (param->perChannel ? n * shape.c + channel : n)
                              : (param->perChannel ? channel : 0);
        at *= std::max<int64_t>(1, param->tableLength);
      }
      char *moved = static_cast<char *>(local[k].aligned) + at * roles[k].bytes;
      local[k].allocated = local[k].aligned = moved;
      local[k].size -= at;
    }
    if (nsc)
      invoke(fn, local, {1, to - from, 1, 0, 1});
    else
      invoke(fn, local, {1, 1, to - from, 0, 1});
  }

  bool flushDenormals = false;

private:
  void invoke(PackedKernel fn, std::vector<MemRefArg> &local,
              std::array<int64_t, 5> dims) const {
    std::vector<void *> args;
    for (MemRefArg &m : local)
      for (void *field : {(void *)&m.allocated, (void *)&m.aligned, (void *)&m.offset,
                          (void *)&m.size, (void *)&m.stride})
        args.push_back(field);
    for (int64_t &d : dims)
      args.push_back(&d);
    if (flushDenormals) {
      FlushDenormalsScope ftz;
      fn(args.data());
    } else {
      fn(args.data());
    }
  }

  struct Role {
    int64_t bytes;
    const ParamInfo *param;
  };
  std::vector<MemRefArg> bufs;
  std::vector<Role> roles;
};

/// Stores `v` into element `i` of a `dtype` buffer, rounding once.
inline void storeAs(DType dtype, void *p, size_t i, double v) {
  switch (dtype) {
  case DType::F32: static_cast<float *>(p)[i] = (float)v; return;
  case DType::F64: static_cast<double *>(p)[i] = v; return;
  case DType::F16: static_cast<uint16_t *>(p)[i] = toFloat16(v); return;
  case DType::BF16: static_cast<uint16_t *>(p)[i] = toBFloat16(v); return;
  }
}

/// Stores `count` doubles into elements [at, at + count) of a `dtype` buffer, each
/// rounded once (the type tested once, not per element).
inline void storeRange(DType dtype, void *p, size_t at, const double *v, size_t count) {
  switch (dtype) {
  case DType::F32:
    std::transform(v, v + count, static_cast<float *>(p) + at, [](double d) { return (float)d; });
    return;
  case DType::F64: std::copy(v, v + count, static_cast<double *>(p) + at); return;
  case DType::F16:
  case DType::BF16:
    for (size_t i = 0; i < count; ++i)
      storeAs(dtype, p, at + i, v[i]);
    return;
  }
}

/// A host buffer of `count` values of `dtype`, each `v`.
inline std::vector<char> filledBuffer(DType dtype, size_t count, double v) {
  std::vector<char> out(count * sizeOf(dtype));
  for (size_t i = 0; i < count; ++i)
    storeAs(dtype, out.data(), i, v);
  return out;
}

/// How a tensor's rows are cut into chunks for threads. The cut depends only on the
/// shape, never on the thread count, so reductions (summed per chunk, then over
/// chunks in order) give bitwise the same result for any number of threads.
///
/// A chunk is about a 64th of the tensor, from 64K to 256K elements (256 KiB to 1 MiB
/// of float32 an input): each chunk restarts the hardware prefetchers' streams and a
/// kernel's setup. Channels-last forward on 16.7M floats, two threads, C = 64 (rows of
/// 64 made every chunk 64K elements, where ncs rows of 256K were one chunk each),
/// measured side by side: swish 2.71 -> 2.54 ms, acon_c 3.12 -> 2.92, meta_acon_c
/// 3.10 -> 2.77, pwlu 3.92 -> 3.71, mish 2.57 -> 2.32, gelu 3.11 -> 2.83.
///
/// Rows longer than a chunk, when there are fewer rows than chunks, are cut into
/// segments of whole cache lines, each a kernel call on a tensor of one row: a flat
/// {1, 1, n} had run on one thread (swish forward on 4M floats 0.31 -> 0.14 ns an
/// element, two threads), and so had a channels-last {1, C, 1} with a long C (a
/// dense layer's batch of one), whose segments take their channels' parameters.
/// `maxSegments` bounds the segments alone (backward's accumulators of per-channel
/// parameters are cut with the channels in channels-last). Channels-last backward
/// may instead have few long rows cut into segments that span every row (spanRows).
struct Chunks {
  int64_t rows, rowsPerChunk, count;
  int64_t segments = 1, segmentLen = 0, rowLen;
  /// Each chunk is a segment of every row (spanRows below), not of one row.
  bool spansRows = false;
  Layout layout;

  /// Rows a chunk may span (spanRows), each a kernel call of its own: any count
  /// below this where rows pass a chunk (segments of one row would share their
  /// channels' windows with the other rows'), and up to kFewRows otherwise (there
  /// row chunks of 16 rows measured faster: acon_c nsc backward {16, 65536, 1}
  /// 0.62 ns an element against 0.83 spanning).
  static constexpr int64_t kMaxSpannedRows = 64, kFewRows = 8;
  /// The fewest elements of a row a spanning chunk's calls take.
  static constexpr int64_t kMinSpannedSegment = 1024;

  /// `spanRows`: where rows are few and long, a chunk is the same segment of every
  /// row, one call a row in order, so its channels' gradient windows are its own
  /// (channels-last backward; the caller passes it only where no learnable
  /// parameter varies along both N and C, whose window would not be one range).
  Chunks(const TensorShape &shape, int64_t maxChunks, int64_t maxSegments, bool spanRows = false)
      : layout(shape.layout) {
    rows = shape.layout == Layout::NCS ? shape.n * shape.c : shape.n * shape.s;
    rowLen = std::max<int64_t>(1, shape.layout == Layout::NCS ? shape.s : shape.c);
    const int64_t chunkElements =
        std::clamp<int64_t>(shape.numElements() / 64, int64_t(1) << 16, int64_t(1) << 18);
    rowsPerChunk = std::max<int64_t>(1, chunkElements / rowLen);
    rowsPerChunk = std::max(rowsPerChunk, (rows + maxChunks - 1) / maxChunks);
    count = (rows + rowsPerChunk - 1) / rowsPerChunk;
    if (spanRows && rows > 1 && rows < kMaxSpannedRows && (rows <= kFewRows || rowLen > chunkElements)) {
      int64_t want = std::min((rows * rowLen + chunkElements - 1) / chunkElements, maxSegments);
      int64_t len = ((rowLen + want - 1) / want + 63) / 64 * 64;
      if (want > 1 && len >= kMinSpannedSegment) {
        spansRows = true;
        segmentLen = len;
        segments = count = (rowLen + len - 1) / len;
        rowsPerChunk = rows;
        return;
      }
    }
    if (rowsPerChunk == 1 && rowLen > chunkElements && rows < maxSegments) {
      segments = std::min((rowLen + chunkElements - 1) / chunkElements, maxSegments / rows);
      segmentLen = ((rowLen + segments - 1) / segments + 63) / 64 * 64;
      segments = (rowLen + segmentLen - 1) / segmentLen;
      count = rows * segments;
    }
  }
  Chunks(const TensorShape &shape, int64_t maxChunks) : Chunks(shape, maxChunks, maxChunks) {}

  int64_t begin(int64_t i) const { return i * rowsPerChunk; }
  int64_t end(int64_t i) const { return std::min(rows, (i + 1) * rowsPerChunk); }
  /// The rows chunk i touches (a segment's: its row, or every row).
  std::pair<int64_t, int64_t> rowsOf(int64_t i) const {
    if (spansRows)
      return {0, rows};
    if (segments == 1)
      return {begin(i), end(i)};
    return {i / segments, i / segments + 1};
  }
  /// The elements of its row(s) chunk i covers: a segment's, or the whole row.
  std::pair<int64_t, int64_t> spanOf(int64_t i) const {
    if (segments == 1)
      return {0, rowLen};
    int64_t from = (i % segments) * segmentLen;
    return {from, std::min(rowLen, from + segmentLen)};
  }
  /// The shape a kernel call sees: `shape`, or a segment's one row (the longest),
  /// for choosing the kernel compiled for it (column and rows classes).
  TensorShape callShape(const TensorShape &shape) const {
    if (segments == 1)
      return shape;
    return layout == Layout::NSC ? TensorShape{1, segmentLen, 1, layout}
                                 : TensorShape{1, 1, segmentLen, layout};
  }
  /// The most rows a kernel call runs.
  int64_t rowsPerCall() const { return segments > 1 ? 1 : std::min(rows, rowsPerChunk); }
  /// Runs chunk i of `call`: its rows, or its segment of a row.
  void run(const KernelCall &call, PackedKernel fn, const TensorShape &shape, int64_t i,
           const std::vector<std::pair<size_t, void *>> &replacements = {}) const {
    if (segments == 1)
      return call.run(fn, shape, begin(i), end(i), replacements);
    auto [from, to] = spanOf(i);
    if (spansRows) {
      for (int64_t row = 0; row < rows; ++row)
        call.runSegment(fn, shape, row, from, to, replacements);
      return;
    }
    call.runSegment(fn, shape, i / segments, from, to, replacements);
  }
};

} // namespace act::detail

//===- ColumnClass.h - which path a channels-last gradient takes -*- C++ -*-===//
//
// Channels-last gradient kernels with per-channel parameters choose at run time,
// from the shape, between three paths (KernelEmitter.h): along rows when C fills
// the vectors poorly, by columns staged when the tensor fits in cache, by wide
// columns unstaged when it streams from memory. Forward kernels that go by
// transposed tiles (a per-channel table) choose between rows and tiles by the same
// test. A kernel compiled for one class (convert-act-to-kernels' column-class)
// holds that path alone, and is correct for any shape; the runtime compiles the
// class of the shapes it is called with.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace act {

enum class ColumnClass { Rows = 0, InCache = 1, Streaming = 2 };

/// Tensors of more elements than this stream from memory: their column steps run
/// unstaged. 4M elements, 16 MiB of float32 an array.
constexpr int64_t kColumnStreamingElements = int64_t(1) << 22;

/// Whether C channels in vectors of `lanes` waste at most a quarter of them: 4 C >=
/// 3 lanes ceil(C / lanes) (KernelEmitter::columnsFit builds the same test in IR).
inline bool columnsFit(int64_t c, int64_t lanes) {
  return 4 * c >= 3 * lanes * ((c + lanes - 1) / lanes);
}

/// With a per-channel table, column steps stay staged from memory while a row's
/// per-channel parameters fit this many bytes: their lookups are then selects
/// among the table's entries, not gathers (pwlu nsc backward on 16.7M floats, two
/// threads: C = 64, 100, 256, 512 12.1, 15.2, 13.6, 16.1 ms unstaged against 10.4,
/// 12.0, 11.5, 13.3 staged; at C = 1024, 86 KB of parameters, 17.9 against 18.9).
constexpr int64_t kStagedTableColumnBytes = 65536;

/// The class of an {n, c, s} tensor for vectors of `lanes`. `tableBytesPerChannel`:
/// for an activation with a per-channel table, its per-channel parameters' bytes a
/// channel (every table entry, in the buffers' element type); else 0.
inline ColumnClass columnClassOf(int64_t n, int64_t c, int64_t s, int64_t lanes,
                                 int64_t tableBytesPerChannel = 0) {
  if (!columnsFit(c, lanes))
    return ColumnClass::Rows;
  bool streaming = n * c * s > kColumnStreamingElements &&
                   (tableBytesPerChannel == 0 || c * tableBytesPerChannel > kStagedTableColumnBytes);
  return streaming ? ColumnClass::Streaming : ColumnClass::InCache;
}

/// Per-channel parameter bytes of a channels-last row above which its vector loop
/// runs unstaged (32 KiB: a staged tile's parameter loads then miss L1; pwlu from
/// C = 512 on).
constexpr int64_t kStagedParamBytes = 32768;

/// Whether channels-last rows of `c` channels with `bytesPerChannel` bytes of
/// per-channel parameters (a table's every entry, in the buffers' element type) run
/// their vector loop unstaged. Forward kernels without a per-channel table are
/// compiled for one answer (convert-act-to-kernels' forward-rows; the runtime also
/// answers unstaged for tensors streaming from memory): the loop they need alone,
/// where a kernel for every C holds both.
inline bool rowsUnstaged(int64_t c, int64_t bytesPerChannel) {
  return c * bytesPerChannel > kStagedParamBytes;
}

} // namespace act

// act runtime: the shape and the kernel a CPU call runs (CallShapes.h).
#include "CallShapes.h"

#include "act/Conversion/ColumnClass.h"
#include "act/Conversion/Passes.h"

#include <algorithm>

namespace act::detail {

namespace {
/// The per-channel parameters' bytes a channel (every table entry), as the kernels
/// count them (rowsUnstaged, columnClassOf).
int64_t perChannelBytes(const Activation::Impl &impl, DType dtype) {
  int64_t bytes = 0;
  for (const ParamInfo &p : impl.params)
    if (p.perChannel)
      bytes += std::max<int64_t>(1, p.tableLength) * (int64_t)sizeOf(dtype);
  return bytes;
}
} // namespace

/// The shape the CPU kernels run: kernelShape's; every shape as the one row
/// {1, 1, n} where no parameter varies along N or C (its elements are told apart by
/// nothing: the row is cut into segments on every thread, where a channels-last
/// {1, C, 1} had run on one); and {n, 1, s} so where no parameter varies along N
/// (one channel: a per-channel parameter has one value). Rows of one element had
/// paid per-row setup for every element (swish forward on {n, 1, 1} 2.7 ns an
/// element against 0.15), short rows a row's gradient sums every few elements
/// (acon_c backward on {1M, 1, 16} 2.1 ns an element).
TensorShape cpuShape(const Activation::Impl &impl, const TensorShape &callerShape) {
  TensorShape shape = kernelShape(callerShape);
  bool perSample = std::any_of(impl.params.begin(), impl.params.end(),
                               [](const ParamInfo &p) { return p.perSample; });
  bool perChannel = std::any_of(impl.params.begin(), impl.params.end(),
                                [](const ParamInfo &p) { return p.perChannel; });
  if ((shape.c == 1 && !perSample) || (!perSample && !perChannel))
    shape = TensorShape{1, 1, shape.numElements(), Layout::NCS};
  return shape;
}

/// The column class of `shape`'s channels-last kernels (-1 where none applies):
/// gradient kernels, and forward kernels that go by transposed tiles, compiled for
/// it hold that path alone. `rowsPerCall`: a gradient kernel call's rows.
///
/// A gradient kernel with a per-channel table called on fewer than
/// kTableColumnRows rows goes along rows: by columns a call transposes the table
/// to [K][C] and sums into a [K][C] buffer, C K values for few rows (pwlu nsc
/// backward, two threads, ns an element columns -> rows: C = 1024 at 64 rows a
/// call 2.41 -> 1.58, C = 2048 at 32 rows 3.27 -> 1.80, C = 4096 at 16 6.24 ->
/// 2.63, C = 16384 at 1 21.1 -> 7.2; from 128 rows a call columns were as fast or
/// faster: C = 512 at 128 rows 1.63 against 2.19, C = 1024 at 256 1.31 against
/// 1.45; without a table columns stay faster, acon_c 5-15% at one row).
constexpr int64_t kTableColumnRows = 128;
/// Without a table, a tensor in cache with C of at least kRowsFromChannels goes along
/// rows too, when its calls hold kRowsFromCallRows rows or more: staged column groups
/// down such rows were slower (two threads, 1M floats, side by side, ns an element:
/// acon_c {1024, 1024, 1} 0.50 -> 0.35, {1, 2048, 512} 0.51 -> 0.36, {256, 4096, 1}
/// 0.45 -> 0.41, {64, 512, 32} 0.39 -> 0.30; prelu {1024, 1024, 1} 0.39 -> 0.12,
/// acon_b 0.51 -> 0.28; at C = 256 mixed, acon_c 0.29 -> 0.30, prelu 0.155 -> 0.12;
/// at C = 128 columns stay faster, acon_c 0.25 against 0.31; so do they where C is
/// not a multiple of the lanes, whose rows end in a masked step: acon_c
/// {21, 1000, 50} 0.36 against 0.41), while with few rows a
/// call each call's sums cost more along rows ({64, 16384, 1}, 4 rows a call, 0.86
/// -> 1.7), and from memory wide columns stay as fast or faster ({4096, 4096, 1}
/// 0.48 against 0.79).
constexpr int64_t kRowsFromChannels = 512, kRowsFromCallRows = 16;
int columnClassFor(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                   int64_t rowsPerCall) {
  bool perChannelLearnable =
      std::any_of(impl.params.begin(), impl.params.end(),
                  [](const ParamInfo &p) { return p.perChannel && !p.isConst; });
  if (shape.layout != Layout::NSC || !perChannelLearnable)
    return -1;
  int64_t lanes = hostVectorBits() / (dtype == DType::F64 ? 64 : 32);
  if (lanes <= 1)
    return -1;
  if (impl.hasPerChannelTable() && rowsPerCall < kTableColumnRows)
    return (int)ColumnClass::Rows;
  ColumnClass cls = columnClassOf(shape.n, shape.c, shape.s, lanes,
                                  impl.hasPerChannelTable() ? perChannelBytes(impl, dtype) : 0);
  if (cls == ColumnClass::InCache && !impl.hasPerChannelTable() && shape.c >= kRowsFromChannels &&
      shape.c % lanes == 0 && rowsPerCall >= kRowsFromCallRows)
    return (int)ColumnClass::Rows;
  return (int)cls;
}

/// The rows class of the forward kernel for calls on `shape` (a chunk's or a
/// segment's) of a tensor of `elements` (-1 where none applies):
/// unstaged where its per-channel parameters (none a table: those go by the column
/// class) pass kStagedParamBytes a row, as the kernel's own test along rows does, and
/// where the tensor streams from memory (more than kColumnStreamingElements, as for
/// columns). From memory the stages' buffer traffic cost more than their overlap
/// gained: side by side, two threads, nsc forward on 16.7M floats at C = 64 acon_c
/// 3.55 -> 2.69 ms, meta_acon_c 2.90 -> 2.76, at C = 256 acon_c 3.57 -> 2.77; in cache
/// staging stays faster (1M floats, one thread, acon_c 0.25 ms against 0.31), and at
/// 4M elements the two tie (0.72 against 0.70).
///
/// Rows with no per-channel parameter along them (channels-first, where a row's
/// parameters are broadcast, and channels-last without per-channel parameters) go
/// unstaged from memory too (1; 0 in cache): side by side, two threads, ncs forward on
/// 16.7M floats swish 2.63 -> 2.20 ms, acon_c 2.63 -> 2.49, meta_acon_c 2.69 -> 2.45,
/// mish 2.53 -> 2.28, gelu 2.84 -> 2.71. Not with a per-channel table (pwlu: its
/// forward kernels go by the column class).
int forwardRowsFor(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                   int64_t elements) {
  if (impl.hasPerChannelTable())
    return -1;
  bool streaming = elements > kColumnStreamingElements;
  int64_t bytes = perChannelBytes(impl, dtype);
  if (shape.layout != Layout::NSC || bytes == 0)
    return streaming ? 1 : 0;
  return streaming || rowsUnstaged(shape.c, bytes) ? 1 : 0;
}

/// Whether forward on the channels-first `shape` (kernelShape's) runs as the
/// channels-last {N, C S, 1}: rows shorter than a vector (S below the lanes) each
/// took one masked step and a row's setup (acon_c forward, two threads, ns an
/// element: {1024, 256, 4} 0.99, {585, 256, 7} 0.57, {455, 256, 9} 0.43 against
/// 0.13 in nsc). The tensor is the same memory; each per-channel parameter is
/// repeated S times (expandAlongS), so element (n, c, s) reads its channel's value
/// in lane c S + s of a channels-last row. Not with tables, nor where C S values a
/// parameter pass an eighth of the tensor, nor below kVariantElements. Parameters
/// varying along N and C are repeated to the tensor's size: in `forward` only (a
/// stream more, where their rows had cost more: meta_acon_c forward {1024, 256, 4}
/// 1.27 -> 0.43 side by side), since their gradients would then be one rounded
/// product an element summed over S, where they are one sum in double.
bool shortRowsAsChannels(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                         bool forward) {
  int64_t lanes = hostVectorBits() / (dtype == DType::F64 ? 64 : 32);
  if (shape.layout != Layout::NCS || shape.s <= 1 || shape.s >= lanes || shape.c <= 1 ||
      shape.numElements() < Activation::Impl::kVariantElements ||
      shape.c * shape.s * 8 > shape.numElements())
    return false;
  bool perChannel = false;
  for (const ParamInfo &p : impl.params) {
    if (p.tableLength || (p.perSample && p.perChannel && !forward))
      return false;
    perChannel = perChannel || p.perChannel;
  }
  return perChannel; // without one, cpuShape runs a flat row already
}

} // namespace act::detail

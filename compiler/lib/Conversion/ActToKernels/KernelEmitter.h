// convert-act-to-kernels' emitter of one kernel: its arguments, the loop over rows,
// and along a row either a scalar loop or a vector loop with a masked tail. A
// private header of ActToKernels.cpp (the pass and the row loops) and VectorStep.cpp
// (one vector step: loads, the body on vectors, stores, gradient accumulators).
#pragma once

#include "act/Conversion/ColumnClass.h"
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "ElementBody.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <utility>

namespace act {
/// What a kernel computes: the activation (fwd), or from an order-1 derivative body
/// the input and parameter gradients (bwd) or both at once (fwdbwd), or from an
/// order-K body f, f', ..., f^(K) each into its own buffer (derivs).
enum class KernelKind { Forward, Backward, ForwardBackward, Derivatives };

/// Emits one kernel for `act` computing in `elemType` over one layout.
///
/// fwd:    (in..., out, p..., N, C, S, row_begin, row_end)
/// bwd:    (in..., dy, din..., p..., dp..., N, C, S, row_begin, row_end)
/// fwdbwd: (in..., out, dy, din..., p..., dp..., N, C, S, row_begin, row_end)
/// derivs: (in..., out_0..out_K, p..., N, C, S, row_begin, row_end)
/// `din` has one buffer per input; `dp` one f64 buffer per learnable parameter, laid
/// out like the parameter, into which each element's gradient is accumulated in
/// element order (deterministic, and in double so long reductions stay accurate).
class KernelEmitter : ElementBody {
public:
  KernelEmitter(ActivationOp act, FloatType elemType, FloatType storageType,
                bool channelsLast, KernelKind kind, unsigned vectorBits, int columnClass = -1,
                int forwardRows = -1)
      : ElementBody(act, elemType, storageType), channelsLast(channelsLast), kind(kind),
        width(vectorBits / elemType.getWidth()), columnClass(columnClass),
        forwardRows(forwardRows) {}

  LogicalResult emit(StringRef name);

  /// The per-channel parameters' bytes a channel (every table entry, in the storage
  /// type), as act::rowsUnstaged takes them.
  int64_t perChannelBytes();
  /// With a per-channel table, perChannelBytes() (as act::columnClassOf takes it);
  /// else 0.
  int64_t tableBytesPerChannel();

private:
  bool channelsLast;
  KernelKind kind;
  unsigned width; ///< vector lanes (<= 1: scalar loop only)
  /// Channels-last gradient kernels with per-channel parameters: the one path a
  /// kernel holds (ColumnClass), or -1 for all of them chosen at run time.
  int columnClass;
  /// Forward kernels along rows: the one loop they hold, staged (0) or unstaged
  /// (1: channels-last rows past act::rowsUnstaged, or a tensor streaming from
  /// memory), or -1 for both where channels-last rows choose at run time from C
  /// (rows without per-channel parameters then stay staged).
  int forwardRows;
  bool grad = false;
  ValueRange inputs, outputs, dinputs, dparams;
  Value dy;
  SmallVector<unsigned> learnable;
  /// Per learnable: a buffer of float32 partial sums, one per channel (per position
  /// of the run when rows run together), for nsc per-channel parameters of float32
  /// kernels, added to the double gradient every kRowBlock rows (runs); or null.
  SmallVector<Value> channelPartial;
  /// Per parameter varying along C, when channels-last rows run together: its C
  /// values repeated over the run, or in place when a run is one row (else null).
  SmallVector<Value> channelRun;
  /// Per table varying along C, when rows run together: each run position's row
  /// offset c * K (i32), and per fixed entry k the body reads, the entries c * K + k
  /// repeated over the run (else null / empty).
  SmallVector<Value> tableRowRun;
  SmallVector<std::map<int64_t, Value>> tableEntryRun;
  /// Per table varying along C, in a column group: per fixed entry k the body reads,
  /// each lane's channel's entry k, gathered once for the group (else empty).
  SmallVector<std::map<int64_t, Value>> columnEntry;
  /// Per table varying along C (not N) of at most kMaxRegisterTable entries, in
  /// column steps: the table transposed to [K][C] for the kernel call (else null),
  /// and in a column group each lane's channel's entries 0..K-1, so a lookup is a
  /// tree of selects instead of a gather (else empty).
  SmallVector<Value> columnTableT;
  SmallVector<SmallVector<Value>> columnTable;
  /// Whether the vector steps being emitted are in a staged loop (emitStepLoop):
  /// column tables are looked up by selects there. Unstaged (tensors from memory)
  /// the selects measured no faster than the gathers, 16.7M floats, two threads,
  /// and the table's registers join the accumulators in one loop.
  bool stepsStaged = false;
  /// Columns: the last element of the rows the kernel was given (prefetches stop
  /// there).
  Value columnsLast;
  /// Columns: whether the tensor (N C S elements) passes kColumnStreamingElements (ColumnClass.h), and
  /// the column steps run their unstaged loop.
  Value columnsStreaming;
  /// Where gradients go by columns when C fits (columnsFit), the rows path runs only
  /// for C below this (3 * width), else 0 (any C).
  int64_t rowsBelowC = 0;
  /// The run position of the vector step being emitted (reads of tableEntryRun).
  Value stepRunPos;
  SmallVector<int64_t> pairCounts;
  /// Per table parameter constant along the row: its row's first entry (else null).
  SmallVector<Value> rowTableScalar;
  /// Per table parameter constant along the row and short enough: the row held in
  /// one or two vector registers (entries [0, w) and [w, 2w), zero past the end), so
  /// a lookup is one in-register permute instead of a gather (else null).
  SmallVector<std::pair<Value, Value>> rowTableRegs;

  /// Gradients of row-constant tables up to this length accumulate in registers,
  /// one vector of f64 per entry, updated by masked adds: no store-to-load chains
  /// through memory when neighbouring elements fall in the same segment.
  static constexpr int64_t kMaxRegisterTable = 32;
  /// In f32 kernels the register accumulators (parameters and tables) are f32
  /// partial sums over blocks of this many vectors (one fma, for tables one masked
  /// fma per entry), added to the f64 ones after each block: a fixed order, so
  /// still bitwise the same for any thread count, and at most 16 f32 roundings per
  /// lane before the sum is carried on in double.
  static constexpr int64_t kBlock = 16;
  /// Channels-last rows whose per-channel gradients sum in float32 (channelPartial,
  /// or a column group's registers) before they are added to the double ones: the
  /// same bound of 16 roundings.
  static constexpr int64_t kRowBlock = 16;
  /// Rows a block of wide column steps spans (emitColumnBlocks): a group's f32
  /// partial sums still restart every kRowBlock rows, carried on in double sums in
  /// registers until the block's end (nsc backward on 16.7M floats, two threads, C =
  /// 64, side by side: acon_c 5.9-6.0 -> 5.1-5.3 ms, acon_b 5.3 -> 4.3, prelu 3.25
  /// -> 2.76; C = 256 and 1024 7.6 -> 6.4, 7.0 -> 6.1; 512 rows no better). Staged
  /// groups keep blocks of kRowBlock rows: at C = 100 in cache, where groups share
  /// lines, 256-row blocks were 13% slower.
  static constexpr int64_t kWideRowBlock = 256;
  /// Channels-last rows with per-channel parameters run together in runs of
  /// max(1, kRunElements / C) rows: one stage tile (16 vectors of 16 floats).
  static constexpr int64_t kRunElements = 256;

  /// Whether a row-constant table of `k` entries is looked up by permutes: f32
  /// lanes on AVX-512 (vpermps / vpermi2ps take 16 or 32 entries in one
  /// instruction; on Zen 4 a 16-lane gather costs about as much as ten of them).
  bool permutesTable(int64_t k) {
    return elemType.isF32() && width == 16 && hostVectorBits() >= 512 && k <= 32;
  }
  VectorType vec(Type scalar) { return VectorType::get({(int64_t)width}, scalar); }
  Value splat(Type scalar, Value v) {
    return builder.create<vector::BroadcastOp>(v.getLoc(), vec(scalar), v);
  }
  Value vecIndex(Location loc, int64_t k) {
    return splat(builder.getIndexType(), builder.create<arith::ConstantIndexOp>(loc, k));
  }

  /// Channels-last gradient kernels with per-channel parameters, when C fills
  /// vectors well (columnsFit): columns. Rows go in blocks of kRowBlock; in a block
  /// (kWideRowBlock for wide steps) each group of `width` channels runs down the
  /// rows, one lane per channel, so
  /// its parameters are loaded once and its gradients stay in registers (one
  /// accumulator per parameter, per table entry), as along a ncs row. Per-channel
  /// tables' gradients go through a double buffer laid out [K][C] (one vector add
  /// per entry and group) and reach the gradient at the end (of each sample when a
  /// parameter varies along N). Each channel's sum runs over the rows in order:
  /// bitwise the same for any thread count.
  LogicalResult emitColumns(Value dimC, Value dimS, Value rowBegin, Value rowEnd);
  /// Whether C lanes in vectors of `width` waste at most a quarter of them.
  Value columnsFit(Value dimC);
  /// One group of channels [c0, c0 + width) (lanes past C masked off by `mask`) down
  /// `rows` rows from `rowStart` of sample `n`. `tableGrads`: per learnable, the
  /// [K][C] buffer of a per-channel table's gradient (else null). `longBlock`: rows
  /// may pass kRowBlock, so f32 partial sums restart every kRowBlock rows.
  LogicalResult emitColumnGroup(Value n, Value rowStart, Value rows, Value c0, Value mask,
                                Value dimC, ArrayRef<Value> tableGrads, bool longBlock);
  /// fn(c0, count, mask) once, in a loop over the groups of `width` channels from
  /// `from` (0 when null): count min(width, C - c0), `mask` its lanes (columns,
  /// transposed tiles).
  LogicalResult forChannelGroups(Value dimC,
                                 function_ref<LogicalResult(Value c0, Value count, Value mask)> fn,
                                 Value from = Value());
  /// Column blocks [from, to) of sample n: each block's channel groups down its
  /// rows. `wide`: blocks of kWideRowBlock rows, and whole runs of kWideGroups
  /// groups first go as one group of kWideGroups * width lanes (emitColumns says
  /// when); else blocks of kRowBlock rows.
  LogicalResult emitColumnBlocks(Value n, Value from, Value to, Value dimC,
                                 ArrayRef<Value> tableGrads, bool wide);
  /// Groups a wide column step spans (emitColumnBlocks).
  static constexpr unsigned kWideGroups = 4;
  /// Opens a loop over the samples the rows [rowBegin, rowEnd) touch and leaves the
  /// builder in its body; returns the sample n and its rows [from, to).
  std::tuple<Value, Value, Value> enterSamples(Value dimS, Value rowBegin, Value rowEnd);
  /// A table constant along the row (or column), at parameter position `pos`: its
  /// first entry's offset (rowTableScalar), broadcast (row.tableStart), and when
  /// permutesTable, the table in registers (rowTableRegs).
  void holdRowTable(unsigned p, Value pos, SmallVector<Value> &tableStart);

  /// Channels-last forward kernels that look a per-channel table up (pwlu), on
  /// AVX-512 computing in f32 (f32, f16 or bf16 buffers) with tables permutesTable
  /// takes, and no parameter varying along N: by transposed tiles (emitTiles).
  bool tilesApply();
  /// Rows [rowBegin, rowEnd) in tiles of kTileRows rows and `width` channels, when
  /// C fills vectors well (columnsFit): each tile loaded, transposed in registers so
  /// a vector holds one channel's rows, computed as a ncs row of one vector (the
  /// channel's parameters broadcast, its table in registers: a lookup is a permute,
  /// not a gather), transposed back and stored. Returns the end of the whole tiles:
  /// the rows after it go along rows.
  FailureOr<Value> emitTiles(Value dimC, Value rowBegin, Value rowEnd);
  /// Transposes kTileRows vectors of kTileRows lanes in place (64 shuffles).
  void transposeTile(MutableArrayRef<Value> rows);
  /// Rows (and channels) of a transposed tile: 16 f32 lanes on AVX-512.
  static constexpr int64_t kTileRows = 16;
  /// A tile group prefetches the lines of the group this many groups on.
  static constexpr int64_t kTileGroupsAhead = 4;

  /// Reduces each of `sums` (vectors of one type, L lanes) across its lanes, L at a
  /// time by a tree of shuffles and adds; returns a stack buffer whose element i is
  /// sum i (in a fixed order, so the same for any thread count).
  Value emitLaneSums(ArrayRef<Value> sums);

  /// One element at a time along the row (vector-bits=1).
  LogicalResult emitScalarRow(IRMapping &mapping, Value n, Value base, Value rowLen,
                              Value dimC);

  /// Channels-first forward rows, when the row loop carries a row's last partial
  /// vector on into the next row (rowsRunOn): a row of S elements, S not a
  /// multiple of the width, ended in a masked step that cost a whole vector for
  /// S mod W elements (on {N, C, 49}, a 7x7 stage's, 4 vector steps a row where
  /// 3.06 do). Instead that step runs on into the next row of the call: its lanes
  /// past the row's end take the next row's parameters (a select a parameter) and
  /// the next row's vectors start that many elements in. Rows are contiguous in
  /// ncs, so the step's loads and stores are plain ones.
  struct RowCarry {
    Value offset; ///< elements of this row the last row's step did
    Value next;   ///< i1: the next row is in this call, and S >= W
    function_ref<void(IRMapping &)> mapNext; ///< maps the next row's parameters
    Value nextOffset; ///< out: elements of the next row this row's step did
  };
  /// Whether the row loop runs each row's last vector on into the next row
  /// (RowCarry): channels-first forward vector kernels without tables (a table's
  /// lookups hold one row's table in registers). Not gradient kernels: with the
  /// step's contributions split between the two rows' sums by lane, acon_c ncs
  /// backward on {64, 256, 49} and {64, 256, 63} took 12% and 36% longer (the
  /// split alone: without it, as fast as the masked step), and only S = 17 gained.
  bool rowsRunOn();
  /// One row on vectors: a loop over whole vectors, then one masked step for the
  /// remainder (every element takes the same path, so the tail gives bitwise the
  /// values the loop would). Row-constant parameters are broadcast once per row;
  /// along C (nsc) per-channel ones are vector loads. Gradients of row-constant
  /// parameters stay in vector registers (iter_args) and are reduced (emitLaneSums)
  /// into their buffer at the row's end, and so do row-constant tables of up to
  /// kMaxRegisterTable entries (one accumulator per entry); per-channel ones (nsc;
  /// in f32 kernels into channelPartial) are updated as vectors, other tables'
  /// entries lane by lane. (Masking every step
  /// instead would halve the code, but masked stores are slow on some CPUs: 2.5x
  /// slower on Zen 4.) With `carry`, the last step may run on into the next row.
  LogicalResult emitVectorRow(IRMapping &rowMapping, Value n, Value base, Value rowLen,
                              Value dimC, RowCarry *carry = nullptr);

  /// What every vector step of a row shares.
  struct VectorRow {
    Value n, base, dimC;
    SmallVector<Value> value;      ///< row-constant parameters, broadcast
    SmallVector<Value> tableStart; ///< row-constant tables' offsets, broadcast
    /// A column group's steps (emitColumnGroup): step i is row i / width, at
    /// base + (i / width) * rowStride; its per-channel parameters are in `value`
    /// and `tableStart` too; each step prefetches its buffers kRowBlock rows ahead
    /// (at most at columnsLast). Null along a row.
    Value rowStride;
    /// Where this holds at run time the steps' loop runs an unstaged copy
    /// (emitStepLoops); null: staged only. Along a channels-last row: the per-channel
    /// parameters pass kStagedParamBytes; down a column: columnsStreaming.
    Value unstaged;
    /// Per learnable: its first register accumulator, or -1 (one for a parameter,
    /// one per entry for a table).
    SmallVector<int> slot;
    bool partial = false; ///< accumulators are f32 partial sums per block (kBlock)
  };

  Value loadVec(Type storage, Value buffer, Value at, Value mask) {
    Location loc = buffer.getLoc();
    if (!mask)
      return builder.create<vector::LoadOp>(loc, vec(storage), buffer, ValueRange{at});
    Value zeros = builder.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vec(storage), builder.getFloatAttr(storage, 0)));
    return builder.create<vector::MaskedLoadOp>(loc, vec(storage), buffer, ValueRange{at}, mask,
                                                zeros);
  }
  void storeVec(Value value, Value buffer, Value at, Value mask) {
    Location loc = buffer.getLoc();
    if (!mask)
      builder.create<vector::StoreOp>(loc, value, buffer, ValueRange{at});
    else
      builder.create<vector::MaskedStoreOp>(loc, buffer, ValueRange{at}, mask, value);
  }

  /// Bounds on a vector index from its definition: fptosi of a float clamped by
  /// maxnumf/minnumf with constants (pwl's segment index; NaN-ignoring, so a NaN
  /// input is clamped too). Unknown: the whole int32 range.
  static std::pair<int64_t, int64_t> indexRange(Value index);

  /// A loop over vectors [from, to) carrying `accs`, each step emitVectorStep(row, i,
  /// mask, accs): marked for act-stage-loops when `staged`, `act.tiled = tiled` when
  /// tiled is not 0.
  FailureOr<scf::ForOp> emitStepLoop(const VectorRow &row, Value from, Value to, Value mask,
                                     ValueRange accs, bool staged, int64_t tiled);
  /// That loop staged; where `row.unstaged` is given, an unstaged copy too and the
  /// run-time choice between them. The chosen loop's results.
  FailureOr<SmallVector<Value>> emitStepLoops(const VectorRow &row, Value from, Value to,
                                              Value mask, ValueRange accs, int64_t tiled);
  /// Elements [i, i + width) of the row (those `mask` enables, when given): loads,
  /// the body on vectors, stores, and gradient contributions added to `accs`.
  FailureOr<SmallVector<Value>> emitVectorStep(const VectorRow &row, Value i, Value mask,
                                               SmallVector<Value> accs);

  /// Each lane's row offset (first + l) K in a per-channel table of K entries, where
  /// lane 0 is channel c; with `mask`, lanes past channel C - 1 name its row.
  Value laneTableStarts(Value first, Value c, Value dimC, Value mask, int64_t k);

  /// Entries at `at` and `at` + 1 of `table` for each lane `mask` enables: one gather
  /// of pairs (64 bits for f32 entries) and two shuffles. On Zen 5 two 8-lane 64-bit
  /// gathers cost 17-24 cycles, two 16-lane 32-bit ones 33-38.
  std::pair<Value, Value> gatherPairs(Value table, Value at, Value mask);
  /// Entry `index` + `shift` of `entries` (each lane's entries 0..K-1) where the
  /// index lies in [lo, hi]: a tree of selects on the bits of index - lo.
  Value selectEntry(ArrayRef<Value> entries, Value index, int64_t lo, int64_t hi,
                    int64_t shift);

  /// Clones the scalar body on vectors of `width` lanes: floats become vectors of
  /// the compute type, integers and indices vectors of themselves, constants splats,
  /// and a table lookup a gather from the parameter buffer at `tableStart` + index
  /// (reads of entries i and i + 1 one gather of pairs, gatherPairs).
  ///
  /// Integers in bodies are table indices, clamped to the table: they become i32
  /// (one conversion and one gather per vector, not two of each at 64 bits).
  FailureOr<SmallVector<Value>> cloneBodyVector(IRMapping &mapping,
                                                ArrayRef<Value> tableStart, Value laneMask);
};

} // namespace act

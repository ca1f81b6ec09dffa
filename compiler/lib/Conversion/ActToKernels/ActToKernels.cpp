// convert-act-to-kernels: scalar bodies -> fused, vectorised loop kernels over memrefs.
// This file: the pass, each kernel's arguments and its loops over rows (runs of rows,
// samples, row blocks, the per-channel run buffers); Columns.cpp: channels-last
// gradients down columns; AlongRow.cpp: the loops along a row; VectorStep.cpp: one
// vector step of a row or column.
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "KernelEmitter.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

using namespace mlir;

namespace act {

unsigned hostVectorBits() {
  static const unsigned bits = [] {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    unsigned widest = features.lookup("avx512f") ? 512 : features.lookup("avx") ? 256 : 128;
    // ACT_VECTOR_BITS=256|128|1 narrows the kernels (to test or compare the paths
    // other CPUs take); it never widens them past the host.
    if (const char *env = std::getenv("ACT_VECTOR_BITS"); env && std::atoi(env) > 0)
      widest = std::min<unsigned>(widest, (unsigned)std::atoi(env));
    return widest;
  }();
  return bits;
}
#define GEN_PASS_DEF_CONVERTACTTOKERNELS
#include "act/Conversion/Passes.h.inc"

std::string kernelName(StringRef activation, StringRef kind, StringRef dtype,
                       StringRef layout) {
  return (activation + "__" + kind + "_" + dtype + "_" + layout).str();
}

int64_t KernelEmitter::perChannelBytes() {
  int64_t bytes = 0;
  for (unsigned p = 0; p < act.getNumParams(); ++p)
    if (act.isPerChannel(p))
      bytes += std::max<int64_t>(1, act.getTableLength(p)) *
               (int64_t)storageType.getIntOrFloatBitWidth() / 8;
  return bytes;
}

int64_t KernelEmitter::tableBytesPerChannel() {
  bool table = llvm::any_of(llvm::seq(0u, act.getNumParams()), [&](unsigned p) {
    return act.isPerChannel(p) && act.getTableLength(p) > 0;
  });
  return table ? perChannelBytes() : 0;
}

LogicalResult KernelEmitter::emit(StringRef name) {
  Location loc = act.getLoc();
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  grad = kind == KernelKind::Backward || kind == KernelKind::ForwardBackward;
  bool writesY = kind != KernelKind::Backward;
  unsigned numOutputs =
      kind == KernelKind::Derivatives
          ? (unsigned)cast<YieldOp>(act.getBodyBlock().getTerminator()).getNumOperands()
          : 1;
  learnable.clear();
  for (unsigned p = 0; p < numParams; ++p)
    if (!act.getParamConst()[p])
      learnable.push_back(p);
  if (grad) {
    auto pairs = act->getAttrOfType<DenseI64ArrayAttr>("act.table_pairs");
    if (!pairs || pairs.size() != (int64_t)learnable.size())
      return act.emitOpError("is not an order-1 derivative body from act-autodiff");
    pairCounts.assign(pairs.asArrayRef().begin(), pairs.asArrayRef().end());
  }

  Type buf = MemRefType::get({ShapedType::kDynamic}, storageType);
  Type accBuf = MemRefType::get({ShapedType::kDynamic}, builder.getF64Type());
  SmallVector<Type> argTypes(numIn, buf);
  if (writesY)
    argTypes.append(numOutputs, buf);
  if (grad)
    argTypes.append(1 + numIn, buf); // dy, din...
  argTypes.append(numParams, buf);
  if (grad)
    argTypes.append(learnable.size(), accBuf);
  argTypes.append(5, builder.getIndexType());

  builder.setInsertionPoint(act);
  auto fn = builder.create<func::FuncOp>(loc, name,
                                         builder.getFunctionType(argTypes, {}));
  Block *entry = fn.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  ArrayRef<BlockArgument> args = entry->getArguments();
  size_t next = 0;
  auto take = [&](size_t n) {
    ValueRange r = ValueRange(args.slice(next, n));
    next += n;
    return r;
  };
  inputs = take(numIn);
  outputs = writesY ? take(numOutputs) : ValueRange();
  dy = grad ? take(1)[0] : Value();
  dinputs = grad ? take(numIn) : ValueRange();
  params = take(numParams);
  dparams = grad ? take(learnable.size()) : ValueRange();
  ValueRange dims = take(5);
  Value dimC = dims[1], dimS = dims[2], rowBegin = dims[3], rowEnd = dims[4];

  Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
  Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
  columnEntry.assign(numParams, {});
  columnTable.assign(numParams, {});
  rowsBelowC = 0;
  channelPartial.assign(learnable.size(), Value());
  channelRun.assign(numParams, Value());
  tableRowRun.assign(numParams, Value());
  tableEntryRun.assign(numParams, {});
  // Channels-last forward with a per-channel table: whole tiles of rows transposed
  // (emitTiles), the rows after them as below. A kernel for one column class holds
  // one path: the rows class (C fills vectors poorly: below 3 W, where the
  // parameters never pass kStagedParamBytes) rows alone, staged; the others tiles,
  // and for the few rows after the last whole tile the unstaged loop alone.
  if (tilesApply()) {
    if (columnClass == (int)ColumnClass::Rows) {
      rowsBelowC = 3 * (int64_t)width;
    } else {
      FailureOr<Value> tileEnd = emitTiles(dimC, rowBegin, rowEnd);
      if (failed(tileEnd))
        return failure();
      rowBegin = *tileEnd;
    }
  }
  // Channels-last gradients of per-channel parameters: by columns (emitColumns) when
  // C fills the vectors well, else along runs of rows as below.
  Block *rowsBlock = entry;
  bool columnsApply = grad && channelsLast && width > 1 &&
                      llvm::any_of(learnable, [&](unsigned p) { return act.isPerChannel(p); });
  // Where columns apply, the rows path runs only for C failing columnsFit: below 3 W
  // (C = k W + r with k >= 3 always fits; the runtime's rows class is the same test).
  if (columnsApply)
    rowsBelowC = 3 * (int64_t)width;
  if (columnsApply && columnClass != (int)ColumnClass::Rows) {
    // A kernel for one class of columns (column-class) holds that path alone.
    if (columnClass > (int)ColumnClass::Rows) {
      columnsStreaming = columnClass == (int)ColumnClass::Streaming
                             ? builder.create<arith::ConstantIntOp>(loc, 1, 1).getResult()
                             : Value();
      if (failed(emitColumns(dimC, dimS, rowBegin, rowEnd)))
        return failure();
      builder.setInsertionPointToEnd(entry);
      builder.create<func::ReturnOp>(loc);
      return success();
    }
    // Column steps run staged in cache, but from memory the stages' buffer traffic
    // cost more than their overlap gained. Measured side by side in one process on
    // 16.7M floats, two threads, initial parameter values: acon_c nsc backward at
    // C = 64, 256, 1024, 4096 8.3, 7.5, 9.0, 11.5 ms staged against 6.9, 6.2, 6.4,
    // 10.2 unstaged; on 1M floats in cache staging won (acon_c at C = 64 0.45 ms
    // against 0.63). With a per-channel table staged steps look entries up by selects
    // (not gathers) and stay staged while the row's parameters fit
    // kStagedTableColumnBytes (columnClassOf, the same test).
    columnsStreaming = builder.create<arith::CmpIOp>(
        loc, arith::CmpIPredicate::ugt,
        builder.create<arith::MulIOp>(loc, builder.create<arith::MulIOp>(loc, dims[0], dimC),
                                      dimS),
        builder.create<arith::ConstantIndexOp>(loc, kColumnStreamingElements));
    if (int64_t bytes = tableBytesPerChannel())
      columnsStreaming = builder.create<arith::AndIOp>(
          loc, columnsStreaming,
          builder.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::ugt,
              builder.create<arith::MulIOp>(loc, dimC, builder.create<arith::ConstantIndexOp>(loc, bytes)),
              builder.create<arith::ConstantIndexOp>(loc, kStagedTableColumnBytes)));
    auto byColumns = builder.create<scf::IfOp>(loc, columnsFit(dimC), /*withElseRegion=*/true);
    builder.setInsertionPointToStart(byColumns.thenBlock());
    if (failed(emitColumns(dimC, dimS, rowBegin, rowEnd)))
      return failure();
    rowsBlock = byColumns.elseBlock();
    builder.setInsertionPointToStart(rowsBlock);
  }
  auto isVarying = [&](unsigned p) { return act.isPerChannel(p) || act.isPerSample(p); };
  // Channels-last with no parameter that varies along C or N (swish's scalar beta,
  // gelu): the rows are one contiguous run that no element tells apart, so they are
  // one row (rows of 64 channels would each pay a row's setup and short stage loops:
  // nsc swish forward 0.245 -> 0.20 ms on 1M floats in cache, as ncs).
  bool oneRow = channelsLast && width > 1 && llvm::none_of(llvm::seq(0u, numParams), isVarying);
  // Channels-last with parameters that vary along C (acon_c's p1, p2, beta; pwlu's
  // y[C,K]): whole rows run together, about kRunElements at a time, and each such
  // parameter is repeated over the run in a buffer, so element i of the run reads
  // entry i (no i mod C a vector) and the run is one long row for the vector loops.
  // With parameters that vary along N too (meta_acon_c's beta[N,C]), runs stay
  // within a sample and the buffers are refilled for each sample. A run of one row
  // (C > 128, or one row of the sample in the chunk) reads the parameters in place.
  bool partialSums = grad && channelsLast && width > 1 && elemType.getWidth() < 64;
  bool channelRuns = channelsLast && width > 1 && !oneRow &&
                     llvm::all_of(llvm::seq(0u, numParams), [&](unsigned p) {
                       return !act.isPerChannel(p) || act.getTableLength(p) == 0 ||
                              !act.isPerSample(p);
                     });
  if (grad && !partialSums) // the run's positions are not channels in double sums
    for (unsigned p : learnable)
      if (act.isPerChannel(p))
        channelRuns = false;
  bool sampleRuns = channelRuns && llvm::any_of(llvm::seq(0u, numParams), [&](unsigned p) {
                      return act.isPerSample(p);
                    });
  // Buffers the vector steps read at the run position: cache-line aligned, so no
  // vector load of them straddles two lines (malloc aligns to 16 bytes).
  auto allocLine = [&](Type type, Value size) -> Value {
    return builder.create<memref::AllocOp>(loc, MemRefType::get({ShapedType::kDynamic}, type),
                                           ValueRange{size}, builder.getI64IntegerAttr(64));
  };
  Value runRows = one, runLen = dimC, repeats;
  SmallVector<Value> runStorage(numParams);
  // A parameter's values as the vector steps read them: the repeated buffer, or
  // (a run of one row) the C values from `offset` in place.
  auto runView = [&](unsigned p, Value repeated, Value offset) -> Value {
    auto type = MemRefType::get({ShapedType::kDynamic}, storageType,
                                StridedLayoutAttr::get(builder.getContext(),
                                                       ShapedType::kDynamic, {1}));
    Value inPlace = builder.create<memref::SubViewOp>(
        loc, type, params[p], ArrayRef<OpFoldResult>{offset}, ArrayRef<OpFoldResult>{dimC},
        ArrayRef<OpFoldResult>{builder.getIndexAttr(1)});
    Value buffer = builder.create<memref::CastOp>(loc, type, runStorage[p]);
    return builder.create<arith::SelectOp>(loc, repeated, buffer, inPlace);
  };
  // Rows of a run that starts at row `from` when the rows end at `to`.
  auto runRowsIn = [&](Value from, Value to) -> Value {
    return builder.create<arith::MinUIOp>(loc, runRows,
                                          builder.create<arith::SubIOp>(loc, to, from));
  };
  if (channelRuns) {
    // max(1, 256 / C); C is never 0 in a call from the runtime, but kernels are
    // callable on their own.
    runRows = builder.create<arith::MaxUIOp>(
        loc,
        builder.create<arith::DivUIOp>(loc,
                                       builder.create<arith::ConstantIndexOp>(loc, kRunElements),
                                       builder.create<arith::MaxUIOp>(loc, dimC, one)),
        one);
    runLen = builder.create<arith::MulIOp>(loc, runRows, dimC);
    repeats = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, runRows, one);
    Value repeatedLen = builder.create<arith::SelectOp>(loc, repeats, runLen, zero);
    for (unsigned p = 0; p < numParams; ++p) {
      if (!act.isPerChannel(p))
        continue;
      if (!act.getTableLength(p)) {
        runStorage[p] = allocLine(storageType, repeatedLen);
        if (!act.isPerSample(p)) // per sample: set in the sample loop
          channelRun[p] = runView(p, repeats, zero);
        continue;
      }
      // A per-channel table: each position's row offset c * K, and the fixed entries
      // the body reads (pwl's y[0] and y[n]) repeated like parameters (vector loads
      // instead of gathers).
      tableRowRun[p] = allocLine(builder.getI32Type(), runLen);
      for (Operation &op : act.getBodyBlock())
        if (auto ld = dyn_cast<memref::LoadOp>(op)) {
          IntegerAttr entry;
          if (ld.getMemRef() == act.getBodyBlock().getArgument(numIn + p) &&
              matchPattern(ld.getIndices()[0], m_Constant(&entry)) &&
              !tableEntryRun[p].count(entry.getInt()))
            tableEntryRun[p][entry.getInt()] = allocLine(storageType, runLen);
        }
    }
  }
  // Channels-last gradients of per-channel parameters: in float32 kernels one
  // float32 sum per channel (per position of the run) over a block of rows (a load,
  // an fma and a store a vector, not two double loads, adds and stores), then added
  // to the double gradient.
  bool anyPartial = false;
  if (partialSums)
    for (auto [j, p] : llvm::enumerate(learnable))
      if (act.isPerChannel(p) && (!act.isPerSample(p) || sampleRuns) &&
          act.getTableLength(p) == 0) {
        channelPartial[j] = allocLine(elemType, runLen);
        anyPartial = true;
      }
  // For k in [0, rowCount), c in [0, C): fn(k * C + c, c).
  auto forRunPositions = [&](Value rowCount, function_ref<void(Value at, Value c)> fn) {
    auto rowsOfRun = builder.create<scf::ForOp>(loc, zero, rowCount, one);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(rowsOfRun.getBody());
    Value rowStart = builder.create<arith::MulIOp>(loc, rowsOfRun.getInductionVar(), dimC);
    auto channels = builder.create<scf::ForOp>(loc, zero, dimC, one);
    builder.setInsertionPointToStart(channels.getBody());
    Value c = channels.getInductionVar();
    fn(builder.create<arith::AddIOp>(loc, rowStart, c), c);
  };
  // A parameter's (or gradient's) entry for channel c: n * C + c for [N,C].
  Value sample = zero;
  auto entryOf = [&](unsigned p, Value c) -> Value {
    if (!act.isPerSample(p))
      return c;
    return builder.create<arith::AddIOp>(loc, builder.create<arith::MulIOp>(loc, sample, dimC),
                                         c);
  };
  // Repeats the per-channel parameters (those per sample too, or the others) over
  // the first `rowCount` rows of the run: plain ones when `repeated` holds, tables'
  // row offsets and fixed entries always.
  auto fillRuns = [&](bool perSample, Value rowCount, Value repeated) {
    auto ifRepeated = builder.create<scf::IfOp>(loc, repeated, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(ifRepeated.thenBlock());
      forRunPositions(rowCount, [&](Value at, Value c) {
        for (unsigned p = 0; p < numParams; ++p)
          if (Value run = runStorage[p]; run && act.isPerSample(p) == perSample)
            builder.create<memref::StoreOp>(
                loc, builder.create<memref::LoadOp>(loc, params[p], ValueRange{entryOf(p, c)}),
                run, ValueRange{at});
      });
    }
    forRunPositions(rowCount, [&](Value at, Value c) {
      for (unsigned p = 0; p < numParams; ++p) {
        if (act.isPerSample(p) != perSample)
          continue;
        if (Value rows = tableRowRun[p]) {
          Value rowStart = builder.create<arith::MulIOp>(
              loc, c, builder.create<arith::ConstantIndexOp>(loc, act.getTableLength(p)));
          builder.create<memref::StoreOp>(
              loc, builder.create<arith::IndexCastOp>(loc, builder.getI32Type(), rowStart), rows,
              ValueRange{at});
          for (auto &[k, run] : tableEntryRun[p]) {
            Value entry = builder.create<arith::AddIOp>(
                loc, rowStart, builder.create<arith::ConstantIndexOp>(loc, k));
            builder.create<memref::StoreOp>(
                loc, builder.create<memref::LoadOp>(loc, params[p], ValueRange{entry}), run,
                ValueRange{at});
          }
        }
      }
    });
  };
  // Adds each position's float32 sum (of the first `rowCount` rows of the run) to
  // its channel's double gradient (unless `add` is false) and zeroes the sum, in a
  // fixed order.
  auto foldChannels = [&](bool add, Value rowCount) {
    forRunPositions(rowCount, [&](Value at, Value c) {
      Value fzero = builder.create<arith::ConstantOp>(loc, builder.getFloatAttr(elemType, 0.0));
      for (auto [j, buffer] : llvm::enumerate(channelPartial)) {
        if (!buffer)
          continue;
        if (add) {
          Value sum = builder.create<arith::ExtFOp>(
              loc, builder.getF64Type(),
              builder.create<memref::LoadOp>(loc, buffer, ValueRange{at}).getResult());
          Value entry = entryOf(learnable[j], c);
          Value old = builder.create<memref::LoadOp>(loc, dparams[j], ValueRange{entry});
          builder.create<memref::StoreOp>(loc, builder.create<arith::AddFOp>(loc, old, sum),
                                          dparams[j], ValueRange{entry});
        }
        builder.create<memref::StoreOp>(loc, fzero, buffer, ValueRange{at});
      }
    });
  };
  if (channelRuns)
    fillRuns(/*perSample=*/false, runRows, repeats);
  if (anyPartial)
    foldChannels(/*add=*/false, runRows);
  Value rowsFrom = rowBegin, rowsTo = rowEnd;
  if (sampleRuns) { // the samples the rows touch, each on its own
    std::tie(sample, rowsFrom, rowsTo) = enterSamples(dimS, rowBegin, rowEnd);
    Value sampleRunRows = runRowsIn(rowsFrom, rowsTo);
    Value repeatsHere =
        builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, sampleRunRows, one);
    fillRuns(/*perSample=*/true, sampleRunRows, repeatsHere);
    for (unsigned p = 0; p < numParams; ++p)
      if (runStorage[p] && act.isPerSample(p))
        channelRun[p] = runView(p, repeatsHere, entryOf(p, zero));
  }
  Value blockRows;
  if (anyPartial) {
    Value block = builder.create<arith::MulIOp>(
        loc, builder.create<arith::ConstantIndexOp>(loc, kRowBlock), runRows);
    auto rowBlocks = builder.create<scf::ForOp>(loc, rowsFrom, rowsTo, block);
    builder.setInsertionPointToStart(rowBlocks.getBody());
    Value blockEnd = builder.create<arith::MinUIOp>(
        loc, builder.create<arith::AddIOp>(loc, rowBlocks.getInductionVar(), block), rowsTo);
    rowsFrom = rowBlocks.getInductionVar();
    rowsTo = blockEnd;
    blockRows = runRowsIn(rowsFrom, rowsTo);
  }
  Operation *rows = nullptr;
  Value rowLen, n, base, r;
  if (oneRow) {
    rowLen = builder.create<arith::MulIOp>(
        loc, builder.create<arith::SubIOp>(loc, rowsTo, rowsFrom), dimC);
    n = zero; // no parameter reads it
    base = builder.create<arith::MulIOp>(loc, rowsFrom, dimC);
  } else if (channelRuns) {
    auto runLoop = builder.create<scf::ForOp>(loc, rowsFrom, rowsTo, runRows);
    rows = runLoop;
    builder.setInsertionPointToStart(runLoop.getBody());
    r = runLoop.getInductionVar();
    rowLen = builder.create<arith::MulIOp>(loc, runRowsIn(r, rowsTo), dimC);
    n = sample; // zero unless a parameter varies along N
    base = builder.create<arith::MulIOp>(loc, r, dimC);
  } else {
    // Channels-first forward rows run their last vector on into the next row
    // (RowCarry): the loop carries where the next row's vectors start.
    SmallVector<Value> carried;
    if (rowsRunOn())
      carried.push_back(zero);
    auto rowLoop = builder.create<scf::ForOp>(loc, rowsFrom, rowsTo, one, carried);
    rows = rowLoop;
    builder.setInsertionPointToStart(rowLoop.getBody());
    r = rowLoop.getInductionVar();
    // ncs: row r = (n, c), n = r / C, c = r % C, S elements.
    // nsc: row r = (n, s), n = r / S, C elements, c = the inner index.
    rowLen = channelsLast ? dimC : dimS;
    n = builder.create<arith::DivUIOp>(loc, r, channelsLast ? dimS : dimC);
    base = builder.create<arith::MulIOp>(loc, r, rowLen);
  }
  IRMapping mapping;
  Value c;
  if (!channelsLast) {
    c = builder.create<arith::RemUIOp>(loc, r, dimC);
    mapParams(mapping, n, c, dimC); // hoisted: constant along the row
  }
  if (rowsRunOn()) {
    RowCarry carry;
    carry.offset = cast<scf::ForOp>(rows).getRegionIterArgs().front();
    // The next row is in this call, and holds the W - rest elements the step takes.
    carry.next = builder.create<arith::AndIOp>(
        loc,
        builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult,
                                      builder.create<arith::AddIOp>(loc, r, one), rowsTo),
        builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge, dimS,
                                      builder.create<arith::ConstantIndexOp>(loc, width)));
    // Row r + 1 = (n, c + 1), or (n + 1, 0) after the last channel: no division.
    // Without a next row, row r's own (its step is masked; no read past the end).
    auto mapNext = [&](IRMapping &next) {
      Value c1 = builder.create<arith::AddIOp>(loc, c, one);
      Value wraps = builder.create<arith::AndIOp>(
          loc, carry.next, builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, c1, dimC));
      Value nextC = builder.create<arith::SelectOp>(
          loc, carry.next, builder.create<arith::SelectOp>(loc, wraps, zero, c1), c);
      Value nextN =
          builder.create<arith::SelectOp>(loc, wraps, builder.create<arith::AddIOp>(loc, n, one), n);
      SmallVector<Value> rowPositions = positions;
      mapParams(next, nextN, nextC, dimC);
      positions = rowPositions;
    };
    carry.mapNext = mapNext;
    if (failed(emitVectorRow(mapping, n, base, rowLen, dimC, &carry)))
      return failure();
    builder.create<scf::YieldOp>(loc, carry.nextOffset);
  } else if (width > 1) {
    if (failed(emitVectorRow(mapping, n, base, rowLen, dimC)))
      return failure();
  } else if (failed(emitScalarRow(mapping, n, base, rowLen, dimC))) {
    return failure();
  }
  if (anyPartial) { // never oneRow: a per-channel parameter has a gradient
    builder.setInsertionPointAfter(rows);
    foldChannels(/*add=*/true, blockRows);
  }

  if (rowsBlock == entry)
    builder.setInsertionPointToEnd(entry);
  else
    builder.setInsertionPoint(rowsBlock->getTerminator());
  for (Value buffer : llvm::concat<Value>(channelPartial, runStorage, tableRowRun))
    if (buffer)
      builder.create<memref::DeallocOp>(loc, buffer);
  for (auto &entries : tableEntryRun)
    for (auto &[k, buffer] : entries)
      builder.create<memref::DeallocOp>(loc, buffer);
  builder.setInsertionPointToEnd(entry);
  builder.create<func::ReturnOp>(loc);
  return success();
}

namespace {

struct ConvertActToKernelsPass
    : impl::ConvertActToKernelsBase<ConvertActToKernelsPass> {
  using Base::Base;

  /// fwd kernels for an activation; bwd and fwdbwd for its order-1 derivative body;
  /// derivs<K> for an order-K body.
  LogicalResult emitKernels(ActivationOp act, FloatType storage, StringRef dt,
                            StringRef lt) {
    bool nsc = lt == "nsc";
    // Half-width storage computes in f32 and rounds once on the way out.
    FloatType type = storage.getWidth() < 32 ? FloatType(Float32Type::get(act.getContext()))
                                             : storage;
    auto wanted = [&](StringRef kind) {
      return kinds.empty() || llvm::is_contained(kinds, kind.str());
    };
    auto of = act->getAttrOfType<StringAttr>("act.grad_of");
    if (!of) {
      if (!wanted("fwd"))
        return success();
      return KernelEmitter(act, type, storage, nsc, KernelKind::Forward, bits, columnClass,
                           forwardRows)
          .emit(kernelName(act.getSymName(), "fwd", dt, lt));
    }
    auto order = act->getAttrOfType<IntegerAttr>("act.grad_order");
    if (order && order.getInt() != 1) {
      if (!wanted("derivs"))
        return success();
      return KernelEmitter(act, type, storage, nsc, KernelKind::Derivatives, bits, columnClass)
          .emit(kernelName(of.getValue(), "derivs" + std::to_string(order.getInt()), dt, lt));
    }
    if (wanted("bwd") &&
        failed(KernelEmitter(act, type, storage, nsc, KernelKind::Backward, bits, columnClass)
                   .emit(kernelName(of.getValue(), "bwd", dt, lt))))
      return failure();
    if (!wanted("fwdbwd"))
      return success();
    return KernelEmitter(act, type, storage, nsc, KernelKind::ForwardBackward, bits, columnClass)
        .emit(kernelName(of.getValue(), "fwdbwd", dt, lt));
  }

  unsigned bits = 0;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bits = vectorBits == 0 ? hostVectorBits() : vectorBits;
    SmallVector<std::string> dts(dtypes.begin(), dtypes.end());
    SmallVector<std::string> lts(layouts.begin(), layouts.end());
    if (dts.empty())
      dts = {"f32", "f64"};
    if (lts.empty())
      lts = {"ncs", "nsc"};
    Builder b(&getContext());
    SmallVector<ActivationOp> acts(module.getOps<ActivationOp>());
    for (ActivationOp act : acts) {
      for (const std::string &dt : dts) {
        FloatType type = dt == "f32"    ? FloatType(b.getF32Type())
                         : dt == "f64"  ? FloatType(b.getF64Type())
                         : dt == "f16"  ? FloatType(b.getF16Type())
                         : dt == "bf16" ? FloatType(b.getBF16Type())
                                        : FloatType();
        if (!type) {
          module.emitError("unknown dtype '")
              << dt << "' (expected f32, f64, f16 or bf16)";
          return signalPassFailure();
        }
        for (const std::string &lt : lts) {
          if (lt != "ncs" && lt != "nsc") {
            module.emitError("unknown layout '") << lt << "' (expected ncs or nsc)";
            return signalPassFailure();
          }
          if (failed(emitKernels(act, type, dt, lt)))
            return signalPassFailure();
        }
      }
      act.erase();
    }
  }
};

} // namespace
} // namespace act

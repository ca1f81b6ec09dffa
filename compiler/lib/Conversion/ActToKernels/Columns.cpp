// convert-act-to-kernels: channels-last gradient kernels by columns (KernelEmitter.h,
// emitColumns). Along a channels-last row every lane is another channel, so per-channel
// gradients cannot stay in registers: the rows path sums them in float32 buffers (a
// load, an fma and a store a vector and parameter) and a table's lane by lane. Down a
// column of rows a lane keeps its channel: the group's parameters are loaded once,
// its gradients are register accumulators, and a table's take ncs's masked fmas.
#include "KernelEmitter.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

namespace act {

Value KernelEmitter::columnsFit(Value dimC) {
  Location loc = act.getLoc();
  auto constant = [&](int64_t v) { return builder.create<arith::ConstantIndexOp>(loc, v); };
  // 4 C >= 3 ceil(C / w) w: at 16 lanes C = 12-16, 24-32 and from 36 on fit; 1-11,
  // 17-23 and 33-35 do not.
  Value padded = builder.create<arith::MulIOp>(
      loc,
      builder.create<arith::DivUIOp>(loc, builder.create<arith::AddIOp>(loc, dimC, constant(width - 1)),
                                     constant(width)),
      constant(width));
  return builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge,
                                       builder.create<arith::MulIOp>(loc, dimC, constant(4)),
                                       builder.create<arith::MulIOp>(loc, padded, constant(3)));
}

LogicalResult KernelEmitter::forChannelGroups(
    Value dimC, function_ref<LogicalResult(Value c0, Value count, Value mask)> fn, Value from) {
  Location loc = act.getLoc();
  OpBuilder::InsertionGuard guard(builder);
  if (!from)
    from = builder.create<arith::ConstantIndexOp>(loc, 0);
  Value w = builder.create<arith::ConstantIndexOp>(loc, width);
  // One copy of the group's code for every group, the last one's lanes past C off:
  // whole groups and a masked last one as two copies made the column path half of
  // a gradient kernel's code (acon_c nsc backward: 363 -> 209 lines of IR, its
  // fwd+bwd compile 1-3 ms shorter; in cache 1-5% slower).
  auto groups = builder.create<scf::ForOp>(loc, from, dimC, w);
  builder.setInsertionPointToStart(groups.getBody());
  Value c0 = groups.getInductionVar();
  Value count =
      builder.create<arith::MinUIOp>(loc, w, builder.create<arith::SubIOp>(loc, dimC, c0));
  Value mask =
      builder.create<vector::CreateMaskOp>(loc, vec(builder.getI1Type()), ValueRange{count});
  return fn(c0, count, mask);
}

std::tuple<Value, Value, Value> KernelEmitter::enterSamples(Value dimS, Value rowBegin,
                                                            Value rowEnd) {
  Location loc = act.getLoc();
  Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
  Value firstSample = builder.create<arith::DivUIOp>(loc, rowBegin, dimS);
  Value endSample = builder.create<arith::DivUIOp>(
      loc, builder.create<arith::SubIOp>(loc, builder.create<arith::AddIOp>(loc, rowEnd, dimS), one),
      dimS);
  auto samples = builder.create<scf::ForOp>(loc, firstSample, endSample, one);
  builder.setInsertionPointToStart(samples.getBody());
  Value sample = samples.getInductionVar();
  Value sampleRow = builder.create<arith::MulIOp>(loc, sample, dimS);
  Value from = builder.create<arith::MaxUIOp>(loc, rowBegin, sampleRow);
  Value to = builder.create<arith::MinUIOp>(loc, rowEnd,
                                            builder.create<arith::AddIOp>(loc, sampleRow, dimS));
  return {sample, from, to};
}

LogicalResult KernelEmitter::emitColumns(Value dimC, Value dimS, Value rowBegin, Value rowEnd) {
  Location loc = act.getLoc();
  OpBuilder::InsertionGuard guard(builder);
  Type f64 = builder.getF64Type();
  auto constant = [&](int64_t v) { return builder.create<arith::ConstantIndexOp>(loc, v); };
  Value zero = constant(0), one = constant(1);
  // Per-channel tables' gradients (those in registers), as [K][C] doubles.
  SmallVector<Value> tableGrads(learnable.size());
  for (auto [j, p] : llvm::enumerate(learnable)) {
    int64_t k = act.getTableLength(p);
    if (pairCounts[j] == 0 || !act.isPerChannel(p) || k > kMaxRegisterTable)
      continue;
    Value size = builder.create<arith::MulIOp>(loc, dimC, constant(k));
    tableGrads[j] = builder.create<memref::AllocOp>(
        loc, MemRefType::get({ShapedType::kDynamic}, f64), ValueRange{size},
        builder.getI64IntegerAttr(64));
    auto fill = builder.create<scf::ForOp>(loc, zero, size, one);
    OpBuilder::InsertionGuard inFill(builder);
    builder.setInsertionPointToStart(fill.getBody());
    builder.create<memref::StoreOp>(
        loc, builder.create<arith::ConstantOp>(loc, builder.getF64FloatAttr(0.0)), tableGrads[j],
        ValueRange{fill.getInductionVar()});
  }
  // Per-channel tables (constant along N) transposed to [K][C]: a column group
  // loads each entry of its channels as one vector, and a lookup selects among
  // them instead of gathering (pwlu nsc backward on 1M floats in cache, one
  // thread: two 8-lane 64-bit gathers a step cost 0.40 of its 1.38 ms).
  columnTableT.assign(act.getNumParams(), Value());
  for (unsigned p = 0; p < act.getNumParams(); ++p) {
    int64_t k = act.getTableLength(p);
    if (!k || !act.isPerChannel(p) || act.isPerSample(p) || k > kMaxRegisterTable)
      continue;
    Value size = builder.create<arith::MulIOp>(loc, dimC, constant(k));
    Value t = builder.create<memref::AllocOp>(
        loc, MemRefType::get({ShapedType::kDynamic}, storageType), ValueRange{size},
        builder.getI64IntegerAttr(64));
    columnTableT[p] = t;
    auto channels = builder.create<scf::ForOp>(loc, zero, dimC, one);
    OpBuilder::InsertionGuard inChannels(builder);
    builder.setInsertionPointToStart(channels.getBody());
    Value c = channels.getInductionVar();
    Value rowStart = builder.create<arith::MulIOp>(loc, c, constant(k));
    for (int64_t e = 0; e < k; ++e)
      builder.create<memref::StoreOp>(
          loc,
          builder.create<memref::LoadOp>(
              loc, params[p], ValueRange{builder.create<arith::AddIOp>(loc, rowStart, constant(e))}),
          t, ValueRange{builder.create<arith::AddIOp>(
                 loc, builder.create<arith::MulIOp>(loc, dimC, constant(e)), c)});
  }
  bool perSample = llvm::any_of(llvm::seq(0u, act.getNumParams()),
                                [&](unsigned p) { return act.isPerSample(p); });
  Value n = zero, from = rowBegin, to = rowEnd;
  Operation *samples = nullptr;
  if (perSample) {
    std::tie(n, from, to) = enterSamples(dimS, rowBegin, rowEnd);
    samples = builder.getInsertionBlock()->getParentOp();
  }
  columnsLast = builder.create<arith::SubIOp>(loc, builder.create<arith::MulIOp>(loc, rowEnd, dimC),
                                              one);
  // From memory, without tables: wide steps (kWideGroups groups of a row side by
  // side, unstaged) where C allows, the other groups unstaged; in cache, staged
  // groups. A wide step reads kWideGroups consecutive vectors of a row, so at C =
  // 64 the walk is sequential, where a group's steps read one line a row; its
  // vector<4Wxf32> operations keep four independent chains in flight, which the
  // unstaged loop lacks. Side by side on 16.7M floats, two threads (fastest of 11
  // runs), nsc backward at C = 64: acon_c 7.0 -> 5.0 ms, meta_acon_c 6.8 -> 4.9,
  // prelu 4.3 -> 3.6; C = 100 (a wide group, two groups and a masked one): acon_c
  // 7.8 -> 7.2; C = 1024: 8.8 -> 8.1 (medians of an earlier run: acon_b 5.4 -> 4.2
  // at C = 64, acon_c 12.3 -> 9.7 and prelu 8.6 -> 5.3 at C = 4096). With a
  // table (pwlu) wide steps were slower (11.7 -> 13.8 ms: 4x the table's
  // accumulators and gathers), and in cache the staged groups stay faster (acon_c
  // 0.47 ms on 1M floats against 0.66 for wide staged steps).
  bool anyTable = llvm::any_of(llvm::seq(0u, act.getNumParams()),
                               [&](unsigned p) { return act.getTableLength(p) > 0; });
  if (anyTable || !columnsStreaming) {
    if (failed(emitColumnBlocks(n, from, to, dimC, tableGrads, /*wide=*/false)))
      return failure();
  } else {
    Value streaming = columnsStreaming;
    auto choice = builder.create<scf::IfOp>(loc, streaming, /*withElseRegion=*/true);
    for (bool wide : {true, false}) {
      OpBuilder::InsertionGuard inChoice(builder);
      builder.setInsertionPointToStart(wide ? choice.thenBlock() : choice.elseBlock());
      // Each branch knows which loops it runs: unstaged (emitStepLoops emits only
      // that loop for a constant true), or staged.
      columnsStreaming = wide ? builder.create<arith::ConstantIntOp>(loc, 1, 1).getResult() : Value();
      if (failed(emitColumnBlocks(n, from, to, dimC, tableGrads, wide)))
        return failure();
    }
    columnsStreaming = streaming;
    builder.setInsertionPointAfter(choice);
  }
  // The tables' sums reach the gradient (entry c K + e of channel c) after each
  // sample's rows, when the tables vary along N, else after all rows.
  for (auto [j, p] : llvm::enumerate(learnable)) {
    if (!tableGrads[j])
      continue;
    int64_t k = act.getTableLength(p);
    auto channels = builder.create<scf::ForOp>(loc, zero, dimC, one);
    OpBuilder::InsertionGuard inChannels(builder);
    builder.setInsertionPointToStart(channels.getBody());
    Value c = channels.getInductionVar();
    Value channel = act.isPerSample(p)
                        ? builder.create<arith::AddIOp>(loc, builder.create<arith::MulIOp>(loc, n, dimC), c)
                        : c;
    Value rowStart = builder.create<arith::MulIOp>(loc, channel, constant(k));
    Value fzero = builder.create<arith::ConstantOp>(loc, builder.getF64FloatAttr(0.0));
    for (int64_t e = 0; e < k; ++e) {
      Value at = builder.create<arith::AddIOp>(
          loc, builder.create<arith::MulIOp>(loc, dimC, constant(e)), c);
      Value sum = builder.create<memref::LoadOp>(loc, tableGrads[j], ValueRange{at});
      accumulate(dparams[j], builder.create<arith::AddIOp>(loc, rowStart, constant(e)), sum);
      builder.create<memref::StoreOp>(loc, fzero, tableGrads[j], ValueRange{at});
    }
  }
  if (samples)
    builder.setInsertionPointAfter(samples);
  for (Value buffer : tableGrads)
    if (buffer)
      builder.create<memref::DeallocOp>(loc, buffer);
  for (Value buffer : columnTableT)
    if (buffer)
      builder.create<memref::DeallocOp>(loc, buffer);
  return success();
}

LogicalResult KernelEmitter::emitColumnBlocks(Value n, Value from, Value to, Value dimC,
                                              ArrayRef<Value> tableGrads, bool wide) {
  Location loc = act.getLoc();
  OpBuilder::InsertionGuard guard(builder);
  auto constant = [&](int64_t v) { return builder.create<arith::ConstantIndexOp>(loc, v); };
  Value block = constant(wide ? kWideRowBlock : kRowBlock);
  auto blocks = builder.create<scf::ForOp>(loc, from, to, block);
  builder.setInsertionPointToStart(blocks.getBody());
  Value rowStart = blocks.getInductionVar();
  Value rows =
      builder.create<arith::MinUIOp>(loc, block, builder.create<arith::SubIOp>(loc, to, rowStart));
  Value narrowFrom;
  if (wide) {
    Value span = constant(kWideGroups * width);
    narrowFrom = builder.create<arith::SubIOp>(loc, dimC,
                                               builder.create<arith::RemUIOp>(loc, dimC, span));
    auto spans = builder.create<scf::ForOp>(loc, constant(0), narrowFrom, span);
    OpBuilder::InsertionGuard inSpans(builder);
    builder.setInsertionPointToStart(spans.getBody());
    // The span's steps are vectors of kWideGroups * width lanes: the emitter's width
    // for this group only.
    width *= kWideGroups;
    LogicalResult spanned =
        emitColumnGroup(n, rowStart, rows, spans.getInductionVar(), Value(), dimC, tableGrads,
                        /*longBlock=*/true);
    width /= kWideGroups;
    if (failed(spanned))
      return failure();
  }
  return forChannelGroups(
      dimC,
      [&](Value c0, Value, Value mask) {
        return emitColumnGroup(n, rowStart, rows, c0, mask, dimC, tableGrads, wide);
      },
      narrowFrom);
}

LogicalResult KernelEmitter::emitColumnGroup(Value n, Value rowStart, Value rows, Value c0,
                                             Value mask, Value dimC, ArrayRef<Value> tableGrads,
                                             bool longBlock) {
  Location loc = act.getLoc();
  Block &body = act.getBodyBlock();
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  Type f64 = builder.getF64Type(), i32 = builder.getI32Type();
  auto constant = [&](int64_t v) { return builder.create<arith::ConstantIndexOp>(loc, v); };

  VectorRow row;
  row.n = n;
  row.dimC = dimC;
  row.base = builder.create<arith::AddIOp>(loc, builder.create<arith::MulIOp>(loc, rowStart, dimC),
                                           c0);
  row.rowStride = dimC;
  row.unstaged = columnsStreaming;
  row.value.assign(numParams, Value());
  row.tableStart.assign(numParams, Value());
  rowTableScalar.assign(numParams, Value());
  rowTableRegs.assign(numParams, {});
  columnEntry.assign(numParams, {});
  columnTable.assign(numParams, {});
  Value allLanes = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vec(builder.getI1Type()), true));
  // Each parameter's position for the group's first channel: [C] c0, [N,C] n C + c0,
  // [N] n, scalars 0; lane l reads position + l when the parameter varies along C.
  SmallVector<Value> pos(numParams);
  for (unsigned p = 0; p < numParams; ++p) {
    bool perC = act.isPerChannel(p), perN = act.isPerSample(p);
    Value nC = perN && perC ? builder.create<arith::MulIOp>(loc, n, dimC).getResult() : Value();
    pos[p] = perC ? (perN ? builder.create<arith::AddIOp>(loc, nC, c0).getResult() : c0)
                  : (perN ? n : constant(0));
    int64_t k = act.getTableLength(p);
    if (k && !perC) {
      holdRowTable(p, pos[p], row.tableStart);
      continue;
    }
    if (!k) {
      row.value[p] = perC ? toCompute(loadVec(storageType, params[p], pos[p], mask))
                          : splat(elemType, load(params[p], pos[p]));
      continue;
    }
    // A per-channel table: lane l's row starts at (position + l) K.
    row.tableStart[p] = laneTableStarts(pos[p], c0, dimC, mask, k);
    // Transposed: each entry of the group's channels, one vector load.
    if (Value t = columnTableT[p]) {
      for (int64_t e = 0; e < k; ++e) {
        Value at = builder.create<arith::AddIOp>(
            loc, builder.create<arith::MulIOp>(loc, dimC, constant(e)), c0);
        columnTable[p].push_back(toCompute(loadVec(storageType, t, at, mask)));
        columnEntry[p][e] = columnTable[p].back();
      }
      continue;
    }
    // The fixed entries the body reads (pwl's y[0] and y[n]): one gather per group.
    Value start = builder.create<arith::IndexCastOp>(loc, vec(i32), row.tableStart[p]);
    for (Operation &op : body) {
      auto ld = dyn_cast<memref::LoadOp>(op);
      IntegerAttr entry;
      if (!ld || ld.getMemRef() != body.getArgument(numIn + p) ||
          !matchPattern(ld.getIndices()[0], m_Constant(&entry)) ||
          columnEntry[p].count(entry.getInt()))
        continue;
      Value at = builder.create<arith::AddIOp>(
          loc, start,
          builder.create<arith::ConstantOp>(
              loc, DenseElementsAttr::get(vec(i32), builder.getI32IntegerAttr((int32_t)entry.getInt()))));
      Value passThru = builder.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(vec(storageType), builder.getFloatAttr(storageType, 0)));
      columnEntry[p][entry.getInt()] = toCompute(builder.create<vector::GatherOp>(
          loc, vec(storageType), params[p], ValueRange{constant(0)}, at, mask ? mask : allLanes,
          passThru));
    }
  }

  // One register accumulator per parameter and per entry of a table (of at most
  // kMaxRegisterTable entries; longer ones are updated lane by lane in the steps):
  // float32 sums over the block's rows in float32 kernels, else double.
  SmallVector<Value> init;
  row.slot.assign(learnable.size(), -1);
  row.partial = elemType.getWidth() < 64;
  VectorType accType = vec(row.partial ? Type(elemType) : f64);
  for (auto [j, p] : llvm::enumerate(learnable)) {
    int64_t entries = pairCounts[j] == 0 ? 1 : act.getTableLength(p);
    if (pairCounts[j] > 0 && entries > kMaxRegisterTable)
      continue;
    row.slot[j] = (int)init.size();
    for (int64_t e = 0; e < entries; ++e)
      init.push_back(builder.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, builder.getFloatAttr(accType.getElementType(), 0.0))));
  }

  // Down the rows: step i is row i / width (a loop in vectors, so act-stage-loops
  // can tile it like a row's), staged, and unstaged where the tensor streams from
  // memory (columnsStreaming). In a long block the f32 partial sums restart every
  // kRowBlock rows and are carried on in double (registers) to the block's end.
  Value steps = builder.create<arith::MulIOp>(loc, rows, constant(width));
  FailureOr<SmallVector<Value>> sums;
  if (!longBlock || !row.partial) {
    sums = emitStepLoops(row, constant(0), steps, mask, init, kRowBlock);
  } else {
    SmallVector<Value> doubles;
    for (size_t k = 0; k < init.size(); ++k)
      doubles.push_back(builder.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(vec(f64), builder.getF64FloatAttr(0.0))));
    Value sub = constant(kRowBlock * (int64_t)width);
    auto subBlocks = builder.create<scf::ForOp>(loc, constant(0), steps, sub, doubles);
    OpBuilder::InsertionGuard inSubBlocks(builder);
    builder.setInsertionPointToStart(subBlocks.getBody());
    Value from = subBlocks.getInductionVar();
    Value to =
        builder.create<arith::MinUIOp>(loc, builder.create<arith::AddIOp>(loc, from, sub), steps);
    FailureOr<SmallVector<Value>> partials = emitStepLoops(row, from, to, mask, init, kRowBlock);
    if (failed(partials))
      return failure();
    SmallVector<Value> carried;
    for (auto [sum, partial] : llvm::zip(subBlocks.getRegionIterArgs(), *partials))
      carried.push_back(builder.create<arith::AddFOp>(loc, sum, widen(partial)));
    builder.create<scf::YieldOp>(loc, carried);
    builder.setInsertionPointAfter(subBlocks);
    sums = SmallVector<Value>(subBlocks.getResults().begin(), subBlocks.getResults().end());
  }
  if (failed(sums))
    return failure();

  // The group's sums: per-channel ones added lane for lane to their channels'
  // gradients (a table's to its [K][C] buffer), the others reduced in lane order.
  for (auto [j, p] : llvm::enumerate(learnable)) {
    if (row.slot[j] < 0)
      continue;
    bool table = pairCounts[j] > 0;
    int64_t entries = table ? act.getTableLength(p) : 1;
    for (int64_t e = 0; e < entries; ++e) {
      Value sum = widen((*sums)[row.slot[j] + e]);
      if (act.isPerChannel(p)) {
        Value buffer = table ? tableGrads[j] : dparams[j];
        Value at = table ? builder.create<arith::AddIOp>(
                               loc, builder.create<arith::MulIOp>(loc, dimC, constant(e)), c0)
                         : pos[p];
        Value old = loadVec(f64, buffer, at, mask);
        storeVec(builder.create<arith::AddFOp>(loc, old, sum), buffer, at, mask);
        continue;
      }
      Value at = table ? builder.create<arith::AddIOp>(loc, rowTableScalar[p], constant(e))
                       : pos[p];
      Value old = builder.create<memref::LoadOp>(loc, dparams[j], ValueRange{at});
      builder.create<memref::StoreOp>(
          loc, builder.create<vector::ReductionOp>(loc, vector::CombiningKind::ADD, sum, old),
          dparams[j], ValueRange{at});
    }
  }
  columnEntry.assign(numParams, {}); // the group's: not for the rows path's steps
  columnTable.assign(numParams, {});
  return success();
}

} // namespace act

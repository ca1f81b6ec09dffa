// convert-act-to-kernels: the loops along one row (KernelEmitter.h): the vector loop
// over whole vectors with its register accumulators (f32 partial sums folded into
// double every kBlock vectors), the masked remainder step, the reduction of the
// accumulators into the gradient buffers; and the scalar loop (vector-bits=1).
#include "KernelEmitter.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>
#include <cstdint>

using namespace mlir;

namespace act {

LogicalResult KernelEmitter::emitScalarRow(IRMapping &mapping, Value n, Value base, Value rowLen,
                                           Value dimC) {
  Location loc = act.getLoc();
  unsigned numIn = act.getNumInputs();
  OpBuilder::InsertionGuard guard(builder);
  Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
  Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
  auto inner = builder.create<scf::ForOp>(loc, zero, rowLen, one);
  builder.setInsertionPointToStart(inner.getBody());
  Value i = inner.getInductionVar();
  if (channelsLast)
    mapParams(mapping, n, i, dimC);
  Value idx = builder.create<arith::AddIOp>(loc, base, i);
  Block &body = act.getBodyBlock();
  for (unsigned k = 0; k < numIn; ++k)
    mapping.map(body.getArgument(k), load(inputs[k], idx));
  FailureOr<SmallVector<Value>> results = cloneBody(mapping);
  if (failed(results))
    return failure();
  for (unsigned k = 0; k < outputs.size(); ++k)
    store((*results)[k], outputs[k], idx);
  if (grad) {
    Value g = load(dy, idx);
    for (unsigned k = 0; k < numIn; ++k) {
      Value d = builder.create<arith::MulFOp>(loc, g, (*results)[1 + k]);
      store(d, dinputs[k], idx);
    }
    Value g64 = widen(g);
    size_t at = 1 + numIn;
    for (auto [j, p] : llvm::enumerate(learnable)) {
      if (pairCounts[j] == 0) {
        accumulate(dparams[j], positions[p], builder.create<arith::MulFOp>(
                                                 loc, g64, widen((*results)[at++])));
        continue;
      }
      Value k = builder.create<arith::ConstantIndexOp>(loc, act.getTableLength(p));
      Value rowStart = builder.create<arith::MulIOp>(loc, positions[p], k);
      for (int64_t q = 0; q < pairCounts[j]; ++q, at += 2) {
        Value entry = builder.create<arith::AddIOp>(loc, rowStart, (*results)[at]);
        accumulate(dparams[j], entry, builder.create<arith::MulFOp>(
                                          loc, g64, widen((*results)[at + 1])));
      }
    }
  }

  return success();
}

void KernelEmitter::holdRowTable(unsigned p, Value pos, SmallVector<Value> &tableStart) {
  Location loc = act.getLoc();
  int64_t k = act.getTableLength(p);
  rowTableScalar[p] =
      builder.create<arith::MulIOp>(loc, pos, builder.create<arith::ConstantIndexOp>(loc, k));
  tableStart[p] = splat(builder.getIndexType(), rowTableScalar[p]);
  if (!permutesTable(k))
    return;
  auto part = [&](int64_t from) -> Value {
    if (from >= k)
      return Value();
    Value at = builder.create<arith::AddIOp>(loc, rowTableScalar[p],
                                             builder.create<arith::ConstantIndexOp>(loc, from));
    Value mask = builder.create<vector::CreateMaskOp>(
        loc, vec(builder.getI1Type()),
        ValueRange{
            builder.create<arith::ConstantIndexOp>(loc, std::min<int64_t>(k - from, width))});
    return toCompute(loadVec(storageType, params[p], at, mask));
  };
  rowTableRegs[p] = {part(0), part(width)};
}

FailureOr<scf::ForOp> KernelEmitter::emitStepLoop(const VectorRow &row, Value from, Value to,
                                                 Value mask, ValueRange accs, bool staged,
                                                 int64_t tiled) {
  Location loc = act.getLoc();
  auto loop = builder.create<scf::ForOp>(loc, from, to,
                                         builder.create<arith::ConstantIndexOp>(loc, width), accs);
  if (staged)
    loop->setAttr("act.stage", builder.getUnitAttr());
  if (tiled)
    loop->setAttr("act.tiled", builder.getI64IntegerAttr(tiled));
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(loop.getBody());
  stepsStaged = staged;
  FailureOr<SmallVector<Value>> next = emitVectorStep(
      row, loop.getInductionVar(), mask,
      SmallVector<Value>(loop.getRegionIterArgs().begin(), loop.getRegionIterArgs().end()));
  if (failed(next))
    return failure();
  if (!next->empty())
    builder.create<scf::YieldOp>(loc, *next);
  return loop;
}

FailureOr<SmallVector<Value>> KernelEmitter::emitStepLoops(const VectorRow &row, Value from,
                                                           Value to, Value mask, ValueRange accs,
                                                           int64_t tiled) {
  // One loop where the choice is known: staged (no choice), or unstaged (a constant
  // true, as in wide column groups' branch).
  bool onlyUnstaged = row.unstaged && matchPattern(row.unstaged, m_One());
  if (!row.unstaged || onlyUnstaged) {
    FailureOr<scf::ForOp> loop =
        emitStepLoop(row, from, to, mask, accs, /*staged=*/!onlyUnstaged, tiled);
    if (failed(loop))
      return failure();
    return SmallVector<Value>(loop->getResults());
  }
  Location loc = act.getLoc();
  auto choice = builder.create<scf::IfOp>(loc, TypeRange(accs), row.unstaged,
                                          /*addThenBlock=*/true, /*addElseBlock=*/true);
  for (bool staged : {false, true}) {
    OpBuilder::InsertionGuard guard(builder);
    Block *block = staged ? &choice.getElseRegion().front() : &choice.getThenRegion().front();
    builder.setInsertionPointToStart(block);
    FailureOr<scf::ForOp> loop = emitStepLoop(row, from, to, mask, accs, staged, tiled);
    if (failed(loop))
      return failure();
    if (block->mightHaveTerminator())
      block->getTerminator()->setOperands(loop->getResults());
    else
      builder.create<scf::YieldOp>(loc, loop->getResults());
  }
  return SmallVector<Value>(choice.getResults());
}

bool KernelEmitter::rowsRunOn() {
  if (channelsLast || grad || width <= 1) // width 0: one element at a time (vector-bits=1)
    return false;
  return llvm::none_of(llvm::seq(0u, act.getNumParams()),
                       [&](unsigned p) { return act.getTableLength(p) > 0; });
}

LogicalResult KernelEmitter::emitVectorRow(IRMapping &rowMapping, Value n, Value base, Value rowLen,
                                           Value dimC, RowCarry *carry) {
  Location loc = act.getLoc();
  Block &body = act.getBodyBlock();
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  Type f64 = builder.getF64Type();
  Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
  auto varies = [&](unsigned p) { return channelsLast && act.isPerChannel(p); };

  VectorRow row;
  row.n = n;
  row.base = base;
  row.dimC = dimC;
  row.value.assign(numParams, Value());
  row.tableStart.assign(numParams, Value());
  SmallVector<Value> rowPos(numParams);
  rowTableScalar.assign(numParams, Value());
  rowTableRegs.assign(numParams, {});
  for (unsigned p = 0; p < numParams; ++p) {
    if (varies(p))
      continue;
    Value pos = channelsLast ? (act.isPerSample(p) ? n : zero) : positions[p];
    rowPos[p] = pos;
    if (act.getTableLength(p)) {
      holdRowTable(p, pos, row.tableStart);
      continue;
    }
    Value scalar = channelsLast ? load(params[p], pos)
                                : rowMapping.lookup(body.getArgument(numIn + p));
    row.value[p] = splat(elemType, scalar);
  }

  int64_t bytesPerChannel = channelsLast ? perChannelBytes() : 0;
  // Unstaged only where C can pass kStagedParamBytes: not in the rows path of a
  // kernel that takes C from 3 W on by columns (one copy of the loop fewer to
  // compile: acon_c's nsc backward kernel 718 -> 657 lines of IR).
  bool canPass = !rowsBelowC || (rowsBelowC - 1) * bytesPerChannel > kStagedParamBytes;
  // The few rows after a forward kernel's whole tiles, in a kernel for a columns
  // class: the unstaged loop alone.
  if (tilesApply() && columnClass > (int)ColumnClass::Rows)
    row.unstaged = builder.create<arith::ConstantIntOp>(loc, 1, 1);
  else if (bytesPerChannel > 0 && canPass && kind == KernelKind::Forward && forwardRows >= 0)
    // A forward kernel for one answer of rowsUnstaged: that loop alone (acon_c's
    // nsc forward IR a third smaller, its fwd+bwd compile about 2 ms shorter).
    row.unstaged =
        forwardRows ? builder.create<arith::ConstantIntOp>(loc, 1, 1).getResult() : Value();
  else if (bytesPerChannel == 0 && kind == KernelKind::Forward && forwardRows == 1)
    // Rows without per-channel parameters along them (channels-first, or none): a
    // forward kernel for tensors streaming from memory runs the unstaged loop
    // (forwardRowsFor in the runtime's CallShapes.cpp; staged stays the default).
    row.unstaged = builder.create<arith::ConstantIntOp>(loc, 1, 1);
  else if (bytesPerChannel > 0 && canPass)
    row.unstaged = builder.create<arith::CmpIOp>(
        loc, arith::CmpIPredicate::ugt,
        builder.create<arith::MulIOp>(loc, dimC,
                                      builder.create<arith::ConstantIndexOp>(loc, bytesPerChannel)),
        builder.create<arith::ConstantIndexOp>(loc, kStagedParamBytes));

  SmallVector<Value> init;
  row.slot.assign(learnable.size(), -1);
  if (grad)
    for (auto [j, p] : llvm::enumerate(learnable)) {
      int64_t entries = pairCounts[j] == 0 ? 1 : act.getTableLength(p);
      if (varies(p) || (pairCounts[j] > 0 && entries > kMaxRegisterTable))
        continue;
      row.slot[j] = (int)init.size();
      if (elemType.getWidth() < 64)
        row.partial = true;
      // Under f32 partial sums, half as many f64 lanes: each block's partial is
      // added in two halves (lanes l and l + W/2 into f64 lane l), so the double
      // sums take W/2 lanes, one register for 16 floats (pwlu's 21 accumulators
      // spilled as 42).
      VectorType wideType =
          row.partial && width % 2 == 0 ? VectorType::get({(int64_t)width / 2}, f64) : vec(f64);
      for (int64_t e = 0; e < entries; ++e)
        init.push_back(builder.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(wideType, builder.getF64FloatAttr(0.0))));
    }
  Value w = builder.create<arith::ConstantIndexOp>(loc, width);
  // The whole vectors from `start` (the elements the last row's step did).
  Value start = carry ? carry->offset : zero;
  Value left = builder.create<arith::SubIOp>(loc, rowLen, start);
  Value vecEnd = builder.create<arith::SubIOp>(loc, rowLen,
                                               builder.create<arith::RemUIOp>(loc, left, w));
  // Table accumulators as the steps see them: f32 partial sums when the kernel
  // computes in f32 (row.partial), folded into the f64 ones every kBlock vectors.
  SmallVector<bool> partialSlot(init.size(), false);
  if (row.partial)
    partialSlot.assign(init.size(), true);
  auto toPartial = [&](ValueRange wide) {
    SmallVector<Value> out(wide.begin(), wide.end());
    for (auto [k, v] : llvm::enumerate(out))
      if (partialSlot[k])
        v = builder.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(vec(elemType), builder.getFloatAttr(elemType, 0.0)));
    return out;
  };
  auto fold = [&](ValueRange wide, ValueRange partial) {
    SmallVector<Value> out(partial.begin(), partial.end());
    for (auto [k, v] : llvm::enumerate(out)) {
      if (!partialSlot[k])
        continue;
      int64_t half = cast<VectorType>(wide[k].getType()).getNumElements();
      if (half == (int64_t)width) {
        v = builder.create<arith::AddFOp>(loc, wide[k], widen(partial[k]));
        continue;
      }
      auto lanes = [&](int64_t from) {
        return widen(builder.create<vector::ExtractStridedSliceOp>(
            loc, partial[k], ArrayRef<int64_t>{from}, ArrayRef<int64_t>{half},
            ArrayRef<int64_t>{1}));
      };
      v = builder.create<arith::AddFOp>(
          loc, builder.create<arith::AddFOp>(loc, wide[k], lanes(0)), lanes(half));
    }
    return out;
  };
  // Staged, or, where the row's per-channel parameters pass kStagedParamBytes, both
  // loops and a run-time choice on C. Measured side by side in one process (16.7M
  // floats, two threads, initial parameter values): pwlu nsc forward (84 bytes of
  // parameters a channel) at C = 512, 1024, 4096 took 9.8, 9.9, 9.8 ms staged and
  // 7.6, 7.6, 8.1 unstaged, at C = 64 7.1 staged against 7.5; in cache (1M floats,
  // one thread) staging won at C = 64 (0.63 ms against 0.76) and tied from 512 on.
  auto emitLoop = [&](Value from, Value to, ValueRange accs) {
    return emitStepLoops(row, from, to, Value(), accs, row.partial ? kBlock : 0);
  };
  SmallVector<Value> accs;
  if (!row.partial) {
    FailureOr<SmallVector<Value>> results = emitLoop(start, vecEnd, init);
    if (failed(results))
      return failure();
    accs = *results;
  } else {
    Value block = builder.create<arith::ConstantIndexOp>(loc, width * kBlock);
    auto blocks = builder.create<scf::ForOp>(loc, start, vecEnd, block, init);
    {
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(blocks.getBody());
      Value from = blocks.getInductionVar();
      Value to = builder.create<arith::MinUIOp>(
          loc, builder.create<arith::AddIOp>(loc, from, block), vecEnd);
      ValueRange wide = blocks.getRegionIterArgs();
      FailureOr<SmallVector<Value>> inner = emitLoop(from, to, toPartial(wide));
      if (failed(inner))
        return failure();
      builder.create<scf::YieldOp>(loc, fold(wide, *inner));
    }
    accs.assign(blocks.getResults().begin(), blocks.getResults().end());
  }
  // The remainder, when there is one (a row of a multiple of the width has none:
  // channels-last rows of 64 channels would otherwise pay a fifth vector step each):
  // lanes past the row's end are masked off, or, with a carry and a next row, the
  // step runs on into the next row (RowCarry).
  Value rest = builder.create<arith::SubIOp>(loc, rowLen, vecEnd);
  // Results: the row's sums, or with a carry (no sums) the next row's offset.
  SmallVector<Value> noRest(accs);
  if (carry)
    noRest.push_back(zero);
  Value hasRest = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, vecEnd, rowLen);
  auto restIf = builder.create<scf::IfOp>(loc, TypeRange(ValueRange(noRest)), hasRest,
                                          /*addThenBlock=*/true,
                                          /*addElseBlock=*/!noRest.empty());
  {
    OpBuilder::InsertionGuard guard(builder);
    Block *then = &restIf.getThenRegion().front();
    if (!then->mightHaveTerminator()) {
      builder.setInsertionPointToEnd(then);
      builder.create<scf::YieldOp>(loc);
    }
    builder.setInsertionPoint(then->getTerminator());
    // With a carry, one step either way (a second copy of the body had made forward
    // kernels compile 1-3 ms longer): over this row's last `rest` elements and,
    // where there is a next row, its first W - rest, all lanes on, those taking the
    // next row's parameters; else masked.
    Value lanes = carry ? builder.create<arith::SelectOp>(loc, carry->next, w, rest) : rest;
    Value mask =
        builder.create<vector::CreateMaskOp>(loc, vec(builder.getI1Type()), ValueRange{lanes});
    VectorRow stepRow = row;
    if (carry) {
      Value ours =
          builder.create<vector::CreateMaskOp>(loc, vec(builder.getI1Type()), ValueRange{rest});
      IRMapping nextMapping;
      carry->mapNext(nextMapping);
      for (unsigned p = 0; p < numParams; ++p)
        if (row.value[p])
          stepRow.value[p] = builder.create<arith::SelectOp>(
              loc, ours, row.value[p],
              splat(elemType, nextMapping.lookup(body.getArgument(numIn + p))));
    }
    FailureOr<SmallVector<Value>> step =
        emitVectorStep(stepRow, vecEnd, mask, row.partial ? toPartial(accs) : accs);
    if (failed(step))
      return failure();
    SmallVector<Value> done = row.partial ? fold(accs, *step) : *step;
    if (carry) // where the next row's vectors start
      done.push_back(builder.create<arith::SelectOp>(
          loc, carry->next, builder.create<arith::SubIOp>(loc, w, rest), zero));
    if (!noRest.empty()) {
      then->getTerminator()->setOperands(done);
      builder.setInsertionPointToEnd(&restIf.getElseRegion().front());
      builder.create<scf::YieldOp>(loc, noRest);
    }
  }
  if (carry)
    carry->nextOffset = restIf.getResult(accs.size());
  SmallVector<Value> last(restIf.getResults().take_front(accs.size()));
  // The row's sums, every accumulator at once: reduced L at a time by a tree of
  // pairwise shuffles and adds, into a stack buffer, then each added to its
  // gradient value. A lane-order reduction a sum had cost about 16 instructions and
  // ran once a row, which on short rows was most of a backward kernel (pwlu ncs on
  // {64, 64, 64}: 21 of them a row of 4 vectors); the tree takes about 3 for L = 8.
  // The loop-carried values are the slots' sums, learnable by learnable: slot s's
  // reduced sum is element s of the buffer.
  if (last.empty())
    return success();
  Value rowSums = emitLaneSums(last);
  for (auto [j, p] : llvm::enumerate(learnable)) {
    if (row.slot[j] < 0)
      continue;
    int64_t entries = pairCounts[j] == 0 ? 1 : act.getTableLength(p);
    auto addAt = [&](Value sumAt, Value at) {
      Value old = builder.create<memref::LoadOp>(loc, dparams[j], ValueRange{at});
      Value sum = builder.create<memref::LoadOp>(loc, rowSums, ValueRange{sumAt});
      builder.create<memref::StoreOp>(loc, builder.create<arith::AddFOp>(loc, old, sum),
                                      dparams[j], ValueRange{at});
    };
    Value first = builder.create<arith::ConstantIndexOp>(loc, row.slot[j]);
    if (pairCounts[j] == 0) {
      addAt(first, rowPos[p]);
      continue;
    }
    // A table's entries by one loop (pwlu's 17 unrolled had been a quarter of its
    // backward kernel's code).
    Value one = builder.create<arith::ConstantIndexOp>(loc, 1);
    auto each = builder.create<scf::ForOp>(
        loc, zero, builder.create<arith::ConstantIndexOp>(loc, entries), one);
    OpBuilder::InsertionGuard inEach(builder);
    builder.setInsertionPointToStart(each.getBody());
    Value e = each.getInductionVar();
    addAt(builder.create<arith::AddIOp>(loc, first, e),
          builder.create<arith::AddIOp>(loc, rowTableScalar[p], e));
  }
  return success();
}

Value KernelEmitter::emitLaneSums(ArrayRef<Value> sums) {
  Location loc = act.getLoc();
  auto type = cast<VectorType>(sums.front().getType());
  int64_t lanes = type.getNumElements();
  int64_t count = (int64_t)sums.size();
  int64_t padded = (count + lanes - 1) / lanes * lanes;
  Value buffer;
  {
    OpBuilder::InsertionGuard atEntry(builder);
    Block &entry =
        builder.getInsertionBlock()->getParent()->getParentOfType<func::FuncOp>().getBody().front();
    builder.setInsertionPointToStart(&entry);
    buffer = builder.create<memref::AllocaOp>(
        loc, MemRefType::get({padded}, type.getElementType()), ValueRange{}, ValueRange{},
        builder.getI64IntegerAttr(64));
  }
  Value zeros = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(type, builder.getFloatAttr(type.getElementType(), 0.0)));
  // At granularity g, a pair (a, b) becomes lo + hi, where in each run of 2g lanes
  // lo holds a's first g lanes then b's, hi their next g: lane l of the result then
  // sums half of what two lanes did, and after log2(L) levels lane i is sum i.
  for (int64_t from = 0; from < count; from += lanes) {
    SmallVector<Value> level(sums.begin() + from, sums.begin() + std::min(count, from + lanes));
    for (int64_t g = 1; g < lanes; g *= 2) {
      SmallVector<Value> paired;
      for (size_t i = 0; i < level.size(); i += 2) {
        Value a = level[i], b = i + 1 < level.size() ? level[i + 1] : zeros;
        SmallVector<int64_t> lo, hi;
        for (int64_t l = 0; l < lanes; ++l) {
          int64_t run = l / (2 * g), r = l % (2 * g), fromB = r / g, k = r % g;
          lo.push_back(fromB * lanes + run * 2 * g + k);
          hi.push_back(fromB * lanes + run * 2 * g + g + k);
        }
        paired.push_back(builder.create<arith::AddFOp>(
            loc, builder.create<vector::ShuffleOp>(loc, a, b, lo),
            builder.create<vector::ShuffleOp>(loc, a, b, hi)));
      }
      level = paired;
    }
    builder.create<vector::StoreOp>(loc, level.front(), buffer,
                                    ValueRange{builder.create<arith::ConstantIndexOp>(loc, from)});
  }
  return buffer;
}

} // namespace act

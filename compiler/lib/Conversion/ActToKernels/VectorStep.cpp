// convert-act-to-kernels: one vector step of a row (KernelEmitter.h): the loads,
// the scalar body cloned on vectors, the stores, and the gradient contributions
// added to the row's register accumulators or to the gradient buffers.
#include "KernelEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>

using namespace mlir;

namespace act {

std::pair<int64_t, int64_t> KernelEmitter::indexRange(Value index) {
  std::pair<int64_t, int64_t> all{INT32_MIN, INT32_MAX};
  auto toInt = index.getDefiningOp<arith::FPToSIOp>();
  if (!toInt)
    return all;
  double lo = -INFINITY, hi = INFINITY;
  Value v = toInt.getIn();
  auto constantOf = [](Value c) -> std::optional<double> {
    SplatElementsAttr splat;
    if (!matchPattern(c, m_Constant(&splat)) || !isa<FloatType>(splat.getElementType()))
      return std::nullopt;
    return splat.getSplatValue<APFloat>().convertToDouble();
  };
  for (int depth = 0; depth < 4; ++depth) {
    if (auto mx = v.getDefiningOp<arith::MaxNumFOp>()) {
      if (std::optional<double> c = constantOf(mx.getRhs()))
        lo = std::max(lo, *c);
      v = mx.getLhs();
    } else if (auto mn = v.getDefiningOp<arith::MinNumFOp>()) {
      if (std::optional<double> c = constantOf(mn.getRhs()))
        hi = std::min(hi, *c);
      v = mn.getLhs();
    } else {
      break;
    }
  }
  if (std::isfinite(lo))
    all.first = (int64_t)std::ceil(lo);
  if (std::isfinite(hi))
    all.second = (int64_t)std::floor(hi);
  return all;
}

FailureOr<SmallVector<Value>> KernelEmitter::emitVectorStep(const VectorRow &row, Value i,
                                                            Value mask, SmallVector<Value> accs) {
  Location loc = act.getLoc();
  Block &body = act.getBodyBlock();
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  Type f64 = builder.getF64Type(), index = builder.getIndexType();
  // Along a row, per-channel parameters vary by lane (read per step); a column
  // group holds them in `row`.
  auto varies = [&](unsigned p) { return channelsLast && act.isPerChannel(p) && !row.rowStride; };
  Value offset = i;
  if (row.rowStride)
    offset = builder.create<arith::MulIOp>(
        loc, builder.create<arith::DivUIOp>(loc, i, builder.create<arith::ConstantIndexOp>(loc, width)),
        row.rowStride);
  Value idx = builder.create<arith::AddIOp>(loc, row.base, offset);
  if (row.rowStride) {
    // Down a column a step reads a new cache line of each buffer, a stride the
    // hardware prefetchers follow poorly: acon_c nsc backward on 16.7M floats took
    // 9.6-10.6 ms without these prefetches (the same group one block of rows
    // ahead), 4.6-4.7 with them (memcpy 2-3 ms).
    Value blockAhead = builder.create<arith::MulIOp>(
        loc, row.rowStride, builder.create<arith::ConstantIndexOp>(loc, kRowBlock));
    Value ahead = builder.create<arith::AddIOp>(loc, idx, blockAhead);
    // Every line the step reads: a wide step (emitColumnBlocks) spans several (acon_c
    // nsc backward's wide steps at C = 256 and 1024: 9.0-9.4 ms without prefetches,
    // 5.7-6.5 with all four lines).
    int64_t lineElements = std::max<int64_t>(1, 64 / (storageType.getIntOrFloatBitWidth() / 8));
    SmallVector<Value> lines;
    for (int64_t at = 0; at < (int64_t)width; at += lineElements)
      lines.push_back(builder.create<arith::MinUIOp>(
          loc, builder.create<arith::AddIOp>(loc, ahead, builder.create<arith::ConstantIndexOp>(loc, at)),
          columnsLast));
    auto prefetch = [&](ValueRange buffers, bool write) {
      for (Value buffer : buffers)
        for (Value line : lines)
          builder.create<memref::PrefetchOp>(loc, buffer, ValueRange{line}, write,
                                             /*localityHint=*/3, /*isDataCache=*/true);
    };
    prefetch(inputs, false);
    if (grad)
      prefetch(dy, false);
    prefetch(outputs, true);
    prefetch(dinputs, true);
  }

  IRMapping mapping;
  SmallVector<Value> tableStart(row.tableStart), varyingBase(numParams);
  for (unsigned p = 0; p < numParams; ++p) {
    int64_t k = act.getTableLength(p);
    Value value = row.value[p];
    if (varies(p)) {
      // A parameter repeated over the run is read at the run position i.
      Value posBase = act.isPerSample(p) && !channelRun[p]
                          ? builder.create<arith::AddIOp>(
                                loc, builder.create<arith::MulIOp>(loc, row.n, row.dimC), i)
                          : i;
      varyingBase[p] = posBase;
      if (k && tableRowRun[p]) { // rows run together: the row offsets are repeated too
        Type i32 = builder.getI32Type();
        Value rows =
            mask ? builder.create<vector::MaskedLoadOp>(
                       loc, vec(i32), tableRowRun[p], ValueRange{posBase}, mask,
                       builder.create<arith::ConstantOp>(
                           loc, DenseElementsAttr::get(vec(i32), builder.getI32IntegerAttr(0))))
                 : builder.create<vector::LoadOp>(loc, vec(i32), tableRowRun[p],
                                                  ValueRange{posBase})
                       .getResult();
        tableStart[p] = builder.create<arith::IndexCastOp>(loc, vec(index), rows);
        stepRunPos = posBase;
      } else if (k) {
        tableStart[p] = laneTableStarts(posBase, i, row.dimC, mask, k);
      } else {
        value = toCompute(loadVec(storageType, channelRun[p] ? channelRun[p] : params[p],
                                  posBase, mask));
      }
    }
    if (!k)
      mapping.map(body.getArgument(numIn + p), value);
  }
  for (unsigned k = 0; k < numIn; ++k)
    mapping.map(body.getArgument(k), toCompute(loadVec(storageType, inputs[k], idx, mask)));
  FailureOr<SmallVector<Value>> results = cloneBodyVector(mapping, tableStart, mask);
  if (failed(results))
    return failure();
  for (unsigned k = 0; k < outputs.size(); ++k)
    storeVec(toStorage((*results)[k]), outputs[k], idx, mask);
  if (!grad)
    return accs;
  Value g = toCompute(loadVec(storageType, dy, idx, mask));
  for (unsigned k = 0; k < numIn; ++k)
    storeVec(toStorage(builder.create<arith::MulFOp>(loc, g, (*results)[1 + k])), dinputs[k],
             idx, mask);
  Value g64 = widen(g);
  Value zeros = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vec(f64), builder.getF64FloatAttr(0.0)));
  // A masked-off lane contributes exactly 0 (its inputs read as 0, but its
  // partials need not be finite), except to a column group's per-channel sums:
  // those reach the gradient lane for lane through masked stores, so the lanes
  // past C are never read (no select a step and accumulator).
  auto laneMask = [&](unsigned p) {
    return row.rowStride && act.isPerChannel(p) ? Value() : mask;
  };
  auto contribution = [&](Value partial, Value lanes) -> Value {
    Value c = builder.create<arith::MulFOp>(loc, g64, widen(partial));
    return lanes ? builder.create<arith::SelectOp>(loc, lanes, c, zeros) : c;
  };
  size_t at = 1 + numIn;
  for (auto [j, p] : llvm::enumerate(learnable)) {
    Value accMask = laneMask(p);
    if (pairCounts[j] == 0) {
      if (row.slot[j] >= 0 && row.partial) { // acc + g * partial, one fma
        Value &acc = accs[row.slot[j]];
        Value sum = builder.create<math::FmaOp>(loc, g, (*results)[at++], acc);
        acc = accMask ? builder.create<arith::SelectOp>(loc, accMask, sum, acc) : sum;
        continue;
      }
      if (Value buffer = channelPartial[j]) { // nsc, f32: partial += g * partial
        Value old = loadVec(elemType, buffer, varyingBase[p], mask);
        storeVec(builder.create<math::FmaOp>(loc, g, (*results)[at++], old), buffer,
                 varyingBase[p], mask);
        continue;
      }
      Value c = contribution((*results)[at++], row.slot[j] >= 0 ? accMask : mask);
      if (row.slot[j] >= 0) {
        accs[row.slot[j]] = builder.create<arith::AddFOp>(loc, accs[row.slot[j]], c);
        continue;
      }
      Value old = loadVec(f64, dparams[j], varyingBase[p], mask);
      storeVec(builder.create<arith::AddFOp>(loc, old, c), dparams[j], varyingBase[p], mask);
      continue;
    }
    if (row.slot[j] >= 0) { // a row-constant table: one register per entry
      int64_t entries = act.getTableLength(p);
      Type i32 = builder.getI32Type();
      // Entry e takes the pair's contribution where its index is e: a masked
      // add in f64, or in f32 partial sums one masked fma g * partial.
      for (int64_t q = 0; q < pairCounts[j]; ++q, at += 2) {
        Value entry = (*results)[at];
        Value partial = (*results)[at + 1];
        Value c = row.partial ? Value() : contribution(partial, accMask);
        // An index base + k is e where base is e - k: pairs (i, i + 1) share
        // their tests (CSE).
        int64_t offset = 0;
        if (auto add = entry.getDefiningOp<arith::AddIOp>()) {
          SplatElementsAttr k;
          if (matchPattern(add.getRhs(), m_Constant(&k))) {
            offset = k.getSplatValue<APInt>().getSExtValue();
            entry = add.getLhs();
          }
        }
        // Entries the index cannot name (pwl's left knot index is clamped to
        // [0, n - 1], so entry n never takes the first pair member, entry 0
        // never the second) get no test.
        auto [lowest, highest] = indexRange(entry);
        for (int64_t e = 0; e < entries; ++e) {
          if (e - offset < lowest || e - offset > highest)
            continue;
          Value hit = builder.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::eq, entry,
              builder.create<arith::ConstantOp>(
                  loc, DenseElementsAttr::get(vec(i32), builder.getI32IntegerAttr(
                                                            (int32_t)(e - offset)))));
          Value &acc = accs[row.slot[j] + e];
          if (!row.partial) {
            acc = builder.create<arith::SelectOp>(
                loc, hit, builder.create<arith::AddFOp>(loc, acc, c), acc);
            continue;
          }
          if (accMask) // a masked-off lane adds nothing
            hit = builder.create<arith::AndIOp>(loc, hit, accMask);
          acc = builder.create<arith::SelectOp>(
              loc, hit, builder.create<math::FmaOp>(loc, g, partial, acc), acc);
        }
      }
      continue;
    }
    for (int64_t q = 0; q < pairCounts[j]; ++q, at += 2) {
      Value entries = builder.create<arith::AddIOp>(
          loc, tableStart[p], builder.create<arith::IndexCastOp>(loc, vec(index), (*results)[at]));
      Value contributions = contribution((*results)[at + 1], mask);
      for (int64_t l = 0; l < (int64_t)width; ++l) // lane order: deterministic
        accumulate(dparams[j], builder.create<vector::ExtractOp>(loc, entries, l),
                   builder.create<vector::ExtractOp>(loc, contributions, l));
    }
  }
  return accs;
}

Value KernelEmitter::laneTableStarts(Value first, Value c, Value dimC, Value mask, int64_t k) {
  Location loc = act.getLoc();
  Type index = builder.getIndexType();
  SmallVector<APInt> lanes;
  for (unsigned l = 0; l < width; ++l)
    lanes.push_back(APInt(64, l));
  Value rows = builder.create<arith::AddIOp>(
      loc, splat(index, first),
      builder.create<arith::ConstantOp>(loc, DenseElementsAttr::get(vec(index), lanes)));
  if (mask) { // lanes past the last channel still name a row of the table
    Value lastRow = builder.create<arith::SubIOp>(
        loc, builder.create<arith::AddIOp>(loc, first, builder.create<arith::SubIOp>(loc, dimC, c)),
        builder.create<arith::ConstantIndexOp>(loc, 1));
    rows = builder.create<arith::MinUIOp>(loc, rows, splat(index, lastRow));
  }
  return builder.create<arith::MulIOp>(loc, rows, vecIndex(loc, k));
}

std::pair<Value, Value> KernelEmitter::gatherPairs(Value table, Value at, Value mask) {
  Location loc = table.getLoc();
  MLIRContext *ctx = builder.getContext();
  unsigned bits = storageType.getWidth();
  Type pairType = builder.getIntegerType(2 * bits);
  // The memref has no view of 64-bit elements at 4-byte offsets: address the
  // entries through an LLVM pointer (identity layout, so the offset is 0).
  Value address = builder.create<arith::IndexCastOp>(
      loc, builder.getI64Type(),
      builder.create<memref::ExtractAlignedPointerAsIndexOp>(loc, table).getResult());
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Value base = builder.create<LLVM::IntToPtrOp>(loc, ptrType, address);
  Value ptrs = builder.create<LLVM::GEPOp>(loc, LLVM::getVectorType(ptrType, width), storageType,
                                           base, ValueRange{at});
  Value zeros = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vec(pairType), builder.getIntegerAttr(pairType, 0)));
  Value pairs = builder.create<LLVM::masked_gather>(loc, vec(pairType), ptrs, mask,
                                                    ValueRange{zeros}, bits / 8);
  Value both = builder.create<vector::BitCastOp>(
      loc, VectorType::get({2 * (int64_t)width}, storageType), pairs);
  SmallVector<int64_t> even, odd; // entry i is the low half (little-endian)
  for (int64_t l = 0; l < (int64_t)width; ++l) {
    even.push_back(2 * l);
    odd.push_back(2 * l + 1);
  }
  return {builder.create<vector::ShuffleOp>(loc, both, both, even),
          builder.create<vector::ShuffleOp>(loc, both, both, odd)};
}

Value KernelEmitter::selectEntry(ArrayRef<Value> entries, Value index, int64_t lo, int64_t hi,
                                 int64_t shift) {
  Location loc = index.getLoc();
  Type i32 = builder.getI32Type();
  auto splatI32 = [&](int64_t v) -> Value {
    return builder.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vec(i32), builder.getI32IntegerAttr((int32_t)v)));
  };
  Value rel = lo ? builder.create<arith::SubIOp>(loc, index, splatI32(lo)).getResult() : index;
  SmallVector<Value> level(entries.begin() + lo + shift, entries.begin() + hi + shift + 1);
  for (int64_t bit = 1; level.size() > 1; bit <<= 1) {
    // Lanes whose index has this bit take the odd candidate of each pair.
    Value odd = builder.create<arith::CmpIOp>(
        loc, arith::CmpIPredicate::ne, builder.create<arith::AndIOp>(loc, rel, splatI32(bit)),
        splatI32(0));
    SmallVector<Value> next;
    for (size_t j = 0; j < level.size(); j += 2)
      next.push_back(j + 1 < level.size()
                         ? builder.create<arith::SelectOp>(loc, odd, level[j + 1], level[j]).getResult()
                         : level[j]);
    level = std::move(next);
  }
  return level.front();
}

FailureOr<SmallVector<Value>>
KernelEmitter::cloneBodyVector(IRMapping &mapping, ArrayRef<Value> tableStart, Value laneMask) {
  unsigned numIn = act.getNumInputs();
  Type i32 = builder.getI32Type();
  auto narrow = [&](Type t) -> Type {
    return t.isIndex() || t.getIntOrFloatBitWidth() > 32 ? i32 : t;
  };
  // Reads of a table at i and i + 1 (pwl's two knots), keyed by either read: one
  // gather of pairs when two entries fit in 64 bits.
  DenseMap<Operation *, std::pair<memref::LoadOp, memref::LoadOp>> entryPairs;
  if (storageType.getWidth() <= 32)
    for (Operation &op : act.getBodyBlock())
      if (auto high = dyn_cast<memref::LoadOp>(op); high && high.getIndices().size() == 1)
        if (auto add = high.getIndices()[0].getDefiningOp<arith::AddIOp>()) {
          Value base = matchPattern(add.getRhs(), m_One())   ? add.getLhs()
                       : matchPattern(add.getLhs(), m_One()) ? add.getRhs()
                                                             : Value();
          // The nearest read of entry i before it (a body may read both twice).
          memref::LoadOp pairLow;
          for (Operation &other : act.getBodyBlock()) {
            if (&other == high.getOperation())
              break;
            if (auto low = dyn_cast<memref::LoadOp>(other);
                base && low && low.getMemRef() == high.getMemRef() &&
                low.getIndices().size() == 1 && low.getIndices()[0] == base)
              pairLow = low;
          }
          if (pairLow)
            entryPairs[pairLow] = entryPairs[high] = {pairLow, high};
        }
  // The body's operations this kernel needs: a gradient kernel that stores no y
  // (bwd) needs the primal value only where a partial reads it.
  Block &body = act.getBodyBlock();
  auto yield = cast<YieldOp>(body.getTerminator());
  DenseSet<Operation *> live;
  SmallVector<Value> wanted(yield.getOperands().begin() + (grad && outputs.empty() ? 1 : 0),
                            yield.getOperands().end());
  while (!wanted.empty()) {
    Operation *def = wanted.pop_back_val().getDefiningOp();
    if (def && def->getBlock() == &body && live.insert(def).second)
      wanted.append(def->getOperands().begin(), def->getOperands().end());
  }
  auto liveUses = [&](Operation *op) {
    return llvm::count_if(op->getUsers(), [&](Operation *u) { return live.contains(u); });
  };
  // Differences T[i + 1] - T[i] of a table whose two reads feed nothing else here
  // (pwl's backward reads the knots only for the segment's rise): where the table
  // sits in registers, one lookup in a table of differences instead of two lookups
  // and a subtraction, the same values (T[i + 1] - T[i] is the same subtraction).
  DenseMap<Operation *, std::pair<memref::LoadOp, memref::LoadOp>> rises;
  for (Operation &op : body)
    if (auto sub = dyn_cast<arith::SubFOp>(op); sub && live.contains(sub)) {
      auto high = sub.getLhs().getDefiningOp<memref::LoadOp>();
      auto low = sub.getRhs().getDefiningOp<memref::LoadOp>();
      if (!high || !low || liveUses(high) != 1 || liveUses(low) != 1 ||
          high.getMemRef() != low.getMemRef() || high.getIndices().size() != 1)
        continue;
      auto add = high.getIndices()[0].getDefiningOp<arith::AddIOp>();
      if (add && ((matchPattern(add.getRhs(), m_One()) && add.getLhs() == low.getIndices()[0]) ||
                  (matchPattern(add.getLhs(), m_One()) && add.getRhs() == low.getIndices()[0])))
        rises[sub] = {low, high};
    }
  // Whether table p's rise at `idx` comes from registers: a row's table held in
  // registers (permutes), or a column group's in staged steps at a bounded index.
  auto riseFromRegisters = [&](unsigned p, Value idx) {
    if (rowTableRegs[p].first)
      return true;
    if (!stepsStaged || columnTable[p].empty())
      return false;
    auto [lo, hi] = indexRange(idx);
    return lo >= 0 && hi + 1 < (int64_t)columnTable[p].size();
  };
  auto riseInRegisters = [&](unsigned p, Value idx) -> Value {
    Location loc = idx.getLoc();
    if (Value lo = rowTableRegs[p].first) {
      // Entry e of the rises: T[e + 1] - T[e], a shuffle of the registers (hoisted
      // out of the loop with them).
      Value hi = rowTableRegs[p].second;
      auto rises = [&](Value a, Value b) -> Value {
        SmallVector<int64_t> at;
        for (int64_t l = 0; l < (int64_t)width; ++l)
          at.push_back(std::min<int64_t>(l + 1, 2 * (int64_t)width - 1));
        Value next = builder.create<vector::ShuffleOp>(loc, a, b ? b : a, at);
        return builder.create<arith::SubFOp>(loc, next, a);
      };
      Type t = vec(elemType);
      if (act.getTableLength(p) - 1 <= (int64_t)width)
        return builder
            .create<LLVM::CallIntrinsicOp>(loc, t, StringRef("llvm.x86.avx512.permvar.sf.512"),
                                           ValueRange{rises(lo, hi), idx})
            .getResult(0);
      return builder
          .create<LLVM::CallIntrinsicOp>(loc, t, StringRef("llvm.x86.avx512.vpermi2var.ps.512"),
                                         ValueRange{rises(lo, hi), idx, rises(hi, Value())})
          .getResult(0);
    }
    // A column group's: a tree of selects among the entries' rises.
    auto [lo, hi] = indexRange(idx);
    SmallVector<Value> diffs(columnTable[p].size() - 1);
    for (int64_t e = lo; e <= hi; ++e)
      diffs[e] = builder.create<arith::SubFOp>(loc, columnTable[p][e + 1], columnTable[p][e]);
    return selectEntry(diffs, idx, lo, hi, 0);
  };
  // The rise each read belongs to, when it comes from registers (then the read
  // itself emits nothing).
  DenseMap<Operation *, Operation *> riseOfRead;
  auto tableOf = [&](memref::LoadOp ld) {
    return cast<BlockArgument>(ld.getMemRef()).getArgNumber() - numIn;
  };
  for (auto &[sub, pair] : rises) {
    riseOfRead[pair.first] = sub;
    riseOfRead[pair.second] = sub;
  }
  for (Operation &op : body.without_terminator()) {
    if (!live.contains(&op)) // another kernel's (the primal value, in bwd)
      continue;
    if (auto rise = rises.find(&op); rise != rises.end()) {
      auto [low, high] = rise->second;
      if (!mapping.contains(low.getResult())) {
        mapping.map(op.getResult(0),
                    riseInRegisters(tableOf(low), mapping.lookup(low.getIndices()[0])));
        continue;
      }
    }
    if (auto read = riseOfRead.find(&op); read != riseOfRead.end()) {
      memref::LoadOp low = rises[read->second].first;
      if (isa<BlockArgument>(low.getMemRef()) &&
          riseFromRegisters(tableOf(low), mapping.lookup(low.getIndices()[0])))
        continue;
    }
    if (!isa<arith::ArithDialect, math::MathDialect, memref::MemRefDialect>(
            op.getDialect()))
      return op.emitOpError("cannot be put in a kernel; run act-expand first");
    Location loc = op.getLoc();
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      Attribute value = cst.getValue();
      DenseElementsAttr splatValue;
      if (auto f = dyn_cast<FloatAttr>(value))
        splatValue = DenseElementsAttr::get(
            vec(elemType), builder.getFloatAttr(elemType, f.getValueAsDouble()));
      else if (auto n = dyn_cast<IntegerAttr>(value))
        splatValue = DenseElementsAttr::get(
            vec(narrow(n.getType())), IntegerAttr::get(narrow(n.getType()), n.getValue().sextOrTrunc(
                                                narrow(n.getType()).getIntOrFloatBitWidth())));
      else
        return op.emitOpError("has a constant the vector kernels cannot splat");
      mapping.map(cst.getResult(), builder.create<arith::ConstantOp>(loc, splatValue));
      continue;
    }
    if (auto ld = dyn_cast<memref::LoadOp>(op)) {
      auto arg = dyn_cast<BlockArgument>(ld.getMemRef());
      if (!arg || arg.getArgNumber() < numIn || ld.getIndices().size() != 1)
        return op.emitOpError("is not a table lookup");
      unsigned p = arg.getArgNumber() - numIn;
      // A fixed entry of a table that is constant along the row: one value.
      IntegerAttr entry;
      if (rowTableScalar[p] && matchPattern(ld.getIndices()[0], m_Constant(&entry))) {
        Value at = builder.create<arith::AddIOp>(
            loc, rowTableScalar[p], builder.create<arith::ConstantIndexOp>(loc, entry.getInt()));
        mapping.map(ld.getResult(), splat(elemType, load(params[p], at)));
        continue;
      }
      // A fixed entry of a per-channel table in a column group: gathered once.
      if (!columnEntry[p].empty() && matchPattern(ld.getIndices()[0], m_Constant(&entry))) {
        mapping.map(ld.getResult(), columnEntry[p].at(entry.getInt()));
        continue;
      }
      // A fixed entry of a per-channel table whose rows run together: repeated.
      if (!tableEntryRun[p].empty() && matchPattern(ld.getIndices()[0], m_Constant(&entry))) {
        mapping.map(ld.getResult(),
                    toCompute(loadVec(storageType, tableEntryRun[p].at(entry.getInt()),
                                      stepRunPos, laneMask)));
        continue;
      }
      // A short row-constant table: one permute of the registers holding it.
      if (Value lo = rowTableRegs[p].first) {
        Value idx = mapping.lookup(ld.getIndices()[0]);
        Value hi = rowTableRegs[p].second;
        Type t = vec(elemType);
        Value entries =
            hi ? builder.create<LLVM::CallIntrinsicOp>(
                         loc, t, StringRef("llvm.x86.avx512.vpermi2var.ps.512"),
                         ValueRange{lo, idx, hi}).getResult(0)
               : builder.create<LLVM::CallIntrinsicOp>(
                         loc, t, StringRef("llvm.x86.avx512.permvar.sf.512"),
                         ValueRange{lo, idx}).getResult(0);
        mapping.map(ld.getResult(), entries);
        continue;
      }
      // 32-bit offsets: one gather instruction per vector instead of two (the
      // runtime rejects tables of 2^31 entries or more).
      Value start = builder.create<arith::IndexCastOp>(loc, vec(i32), tableStart[p]);
      Value mask = laneMask ? laneMask
                            : builder.create<arith::ConstantOp>(
                                  loc, DenseElementsAttr::get(vec(builder.getI1Type()), true));
      if (auto pair = entryPairs.find(ld); pair != entryPairs.end()) {
        if (mapping.contains(ld.getResult())) // gathered with its pair
          continue;
        auto [low, high] = pair->second;
        // A column group's table in registers: selects, where the index is bounded.
        if (stepsStaged && !columnTable[p].empty()) {
          Value idx = mapping.lookup(low.getIndices()[0]);
          auto [lo, hi] = indexRange(idx);
          if (lo >= 0 && hi + 1 < (int64_t)columnTable[p].size()) {
            mapping.map(low.getResult(), selectEntry(columnTable[p], idx, lo, hi, 0));
            mapping.map(high.getResult(), selectEntry(columnTable[p], idx, lo, hi, 1));
            continue;
          }
        }
        Value at = builder.create<arith::AddIOp>(loc, start, mapping.lookup(low.getIndices()[0]));
        auto [lowEntries, highEntries] = gatherPairs(params[p], at, mask);
        mapping.map(low.getResult(), toCompute(lowEntries));
        mapping.map(high.getResult(), toCompute(highEntries));
        continue;
      }
      Value at = builder.create<arith::AddIOp>(loc, start, mapping.lookup(ld.getIndices()[0]));
      Value passThru = builder.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(vec(storageType), builder.getFloatAttr(storageType, 0)));
      Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
      Value gathered = builder.create<vector::GatherOp>(loc, vec(storageType), params[p],
                                                        ValueRange{zero}, at, mask, passThru);
      mapping.map(ld.getResult(), toCompute(gathered));
      continue;
    }
    if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op)) { // i32 on both sides now
      mapping.map(op.getResult(0), mapping.lookup(op.getOperand(0)));
      continue;
    }
    Operation *clone = builder.clone(op, mapping);
    for (Value res : clone->getResults()) {
      Type t = res.getType();
      if (isa<FloatType>(t))
        res.setType(vec(elemType));
      else if (t.isIntOrIndex())
        res.setType(vec(narrow(t)));
      else
        return op.emitOpError("has a result the vector kernels cannot widen");
    }
  }
  SmallVector<Value> results;
  for (Value v : yield.getResults())
    results.push_back(mapping.lookupOrNull(v));
  return results;
}

} // namespace act

// convert-act-to-kernels: channels-last forward kernels by transposed tiles
// (KernelEmitter.h, emitTiles). Along a channels-last row every lane is another
// channel, so a per-channel table is gathered lane by lane (pwlu: two 8-lane gathers
// of entry pairs a vector, about 20 cycles on Zen 5). A tile of 16 rows and 16
// channels transposed in registers is a small ncs tensor: each vector holds one
// channel's 16 rows, its parameters are broadcast and its table sits in registers,
// so a lookup is one permute, as along a ncs row. The arithmetic is the same, so
// the results are bitwise those of the rows path. Measured side by side in one
// process: pwlu nsc forward on 16.7M floats, two threads, at C = 64, 256, 1024,
// 4096: 7.2, 9.5, 9.0, 8.0 ms along rows, 3.9, 4.8, 5.7, 4.6 by tiles; on 1M floats,
// one thread: 0.97 -> 0.54 ms (C = 64), 0.91 -> 0.50 (C = 1024). f16 and bf16
// buffers compute in f32 too; their tiles are transposed as stored (bf16 pwlu nsc
// forward, 16.7M values, two threads, C = 64: 7.5 -> 5.4 ms).
#include "KernelEmitter.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace act {

bool KernelEmitter::tilesApply() {
  if (kind != KernelKind::Forward || !channelsLast || width != kTileRows || !elemType.isF32())
    return false;
  bool anyTable = false;
  for (unsigned p = 0; p < act.getNumParams(); ++p) {
    if (act.isPerSample(p))
      return false; // a tile's rows may belong to two samples
    int64_t k = act.getTableLength(p);
    if (k && act.isPerChannel(p)) {
      if (!permutesTable(k))
        return false;
      anyTable = true;
    }
  }
  return anyTable;
}

void KernelEmitter::transposeTile(MutableArrayRef<Value> rows) {
  Location loc = act.getLoc();
  // Each step a two-source shuffle LLVM lowers to one instruction: within 128-bit
  // lanes unpack floats (vunpcklps/hps), then pairs (vunpcklpd/hpd), then across
  // lanes two rounds of 128-bit blocks (vshuff32x4).
  auto shuffle = [&](Value a, Value b, auto index) {
    SmallVector<int64_t> mask;
    for (int64_t l = 0; l < 16; ++l)
      mask.push_back(index(l));
    return builder.create<vector::ShuffleOp>(loc, a, b, mask).getResult();
  };
  auto unpack = [&](Value a, Value b, int64_t size, bool high) {
    // Lane l of 128-bit block L: element pairs (size floats) alternate from a and b.
    return shuffle(a, b, [&](int64_t l) {
      int64_t block = l / 4, inBlock = l % 4, part = inBlock / size, within = inBlock % size;
      int64_t fromB = part % 2, pick = part / 2 + (high ? 2 / size : 0);
      return fromB * 16 + block * 4 + pick * size + within;
    });
  };
  auto blocks = [&](Value a, Value b, bool odd) {
    // 128-bit blocks: a's 0 and 2 (odd: 1 and 3), then b's.
    return shuffle(a, b, [&](int64_t l) {
      int64_t block = l / 4, source = block / 2, pick = 2 * (block % 2) + (odd ? 1 : 0);
      return source * 16 + pick * 4 + l % 4;
    });
  };
  SmallVector<Value> t(16);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = unpack(rows[2 * i], rows[2 * i + 1], 1, false);
    t[2 * i + 1] = unpack(rows[2 * i], rows[2 * i + 1], 1, true);
  }
  for (int i = 0; i < 4; ++i) {
    rows[4 * i] = unpack(t[4 * i], t[4 * i + 2], 2, false);
    rows[4 * i + 1] = unpack(t[4 * i], t[4 * i + 2], 2, true);
    rows[4 * i + 2] = unpack(t[4 * i + 1], t[4 * i + 3], 2, false);
    rows[4 * i + 3] = unpack(t[4 * i + 1], t[4 * i + 3], 2, true);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = blocks(rows[i], rows[i + 4], false);
    t[i + 4] = blocks(rows[i], rows[i + 4], true);
    t[i + 8] = blocks(rows[i + 8], rows[i + 12], false);
    t[i + 12] = blocks(rows[i + 8], rows[i + 12], true);
  }
  for (int i = 0; i < 8; ++i) {
    rows[i] = blocks(t[i], t[i + 8], false);
    rows[i + 8] = blocks(t[i], t[i + 8], true);
  }
}

FailureOr<Value> KernelEmitter::emitTiles(Value dimC, Value rowBegin, Value rowEnd) {
  Location loc = act.getLoc();
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  auto constant = [&](int64_t v) { return builder.create<arith::ConstantIndexOp>(loc, v); };
  Value zero = constant(0), one = constant(1), tile = constant(kTileRows);
  // Whole tiles of rows, when C fills vectors well (as for columns); the rows
  // after the last whole tile, and all rows otherwise, go along rows.
  Value rowCount = builder.create<arith::SubIOp>(loc, rowEnd, rowBegin);
  Value tiled = builder.create<arith::MulIOp>(
      loc, builder.create<arith::DivUIOp>(loc, rowCount, tile), tile);
  Value tileEnd = builder.create<arith::AddIOp>(
      loc, rowBegin, builder.create<arith::SelectOp>(loc, columnsFit(dimC), tiled, zero));

  // The transposed tiles: one vector a channel.
  auto tileBuffer = [&]() -> Value {
    Value buffer = builder.create<memref::AllocaOp>(
        loc, MemRefType::get({kTileRows * width}, storageType), ValueRange{}, ValueRange{},
        builder.getI64IntegerAttr(64));
    return builder.create<memref::CastOp>(
        loc, MemRefType::get({ShapedType::kDynamic}, storageType), buffer);
  };
  SmallVector<Value> tileIn, tileOut;
  for (unsigned k = 0; k < numIn; ++k)
    tileIn.push_back(tileBuffer());
  for (unsigned k = 0; k < outputs.size(); ++k)
    tileOut.push_back(tileBuffer());

  OpBuilder::InsertionGuard guard(builder);
  auto tiles = builder.create<scf::ForOp>(loc, rowBegin, tileEnd, tile);
  builder.setInsertionPointToStart(tiles.getBody());
  Value r0 = tiles.getInductionVar();
  Value w = constant(width);
  // C rounded up to whole groups; the first row of the last tile the kernel was
  // given, and its last channel (prefetches stop there).
  Value padded = builder.create<arith::MulIOp>(
      loc, builder.create<arith::DivUIOp>(loc, builder.create<arith::AddIOp>(loc, dimC, constant(width - 1)), w),
      w);
  Value lastTile = builder.create<arith::SubIOp>(loc, rowEnd, tile);
  Value lastChannel = builder.create<arith::SubIOp>(loc, dimC, one);

  // Channels [c0, c0 + count) of the tile's rows; lanes past C off by `mask`.
  auto group = [&](Value c0, Value count, Value mask) -> LogicalResult {
    // The tile's rows at channel c0, each C on from the last: additions, where
    // (r0 + r) C + c0 a row was 16 multiplications a group (the scalar address
    // arithmetic held the loop back: pwlu nsc forward on 16.7M floats, two threads,
    // 4.35 -> 3.7 ms with LLVM's SLP vectorizer folding half of it).
    SmallVector<Value> at{builder.create<arith::AddIOp>(
        loc, builder.create<arith::MulIOp>(loc, r0, dimC), c0)};
    for (int64_t r = 1; r < kTileRows; ++r)
      at.push_back(builder.create<arith::AddIOp>(loc, at.back(), dimC));
    // Prefetches of the lines kTileGroupsAhead groups on (in this tile's rows, or
    // past the row's end the next tile's): a tile's rows are 16 strided reads the
    // hardware prefetchers follow poorly. pwlu nsc forward on 16.7M floats, two
    // threads: 5.97 -> 4.08 ms at C = 64 (4.05 two groups ahead, 4.60 eight), 5.73
    // -> 5.48 at C = 1024; the output's prefetches gain 5.79 -> 5.06 at C = 64.
    Value aheadC = builder.create<arith::AddIOp>(loc, c0, constant(kTileGroupsAhead * width));
    Value aheadRow = builder.create<arith::AddIOp>(
        loc, r0,
        builder.create<arith::MulIOp>(loc, builder.create<arith::DivUIOp>(loc, aheadC, padded),
                                      tile));
    // Within bounds by two clamps a group instead of one a row: a tile no later
    // than the last, a channel below C.
    aheadRow = builder.create<arith::MinUIOp>(loc, aheadRow, lastTile);
    aheadC = builder.create<arith::MinUIOp>(
        loc, builder.create<arith::RemUIOp>(loc, aheadC, padded), lastChannel);
    Value ahead = builder.create<arith::AddIOp>(
        loc, builder.create<arith::MulIOp>(loc, aheadRow, dimC), aheadC);
    for (int64_t r = 0; r < kTileRows; ++r) {
      if (r > 0)
        ahead = builder.create<arith::AddIOp>(loc, ahead, dimC);
      for (Value buffer : inputs)
        builder.create<memref::PrefetchOp>(loc, buffer, ValueRange{ahead}, /*isWrite=*/false,
                                           /*localityHint=*/3, /*isDataCache=*/true);
      for (Value buffer : outputs)
        builder.create<memref::PrefetchOp>(loc, buffer, ValueRange{ahead}, /*isWrite=*/true,
                                           /*localityHint=*/3, /*isDataCache=*/true);
    }
    for (unsigned k = 0; k < numIn; ++k) {
      SmallVector<Value> rows;
      for (int64_t r = 0; r < kTileRows; ++r)
        rows.push_back(loadVec(storageType, inputs[k], at[r], mask));
      transposeTile(rows);
      for (int64_t c = 0; c < kTileRows; ++c)
        builder.create<vector::StoreOp>(loc, rows[c], tileIn[k], ValueRange{constant(c * width)});
    }
    // Channel by channel, as a ncs row of one vector.
    auto channels = builder.create<scf::ForOp>(loc, zero, count, one);
    {
      OpBuilder::InsertionGuard inChannels(builder);
      builder.setInsertionPointToStart(channels.getBody());
      Value c = channels.getInductionVar();
      Value channel = builder.create<arith::AddIOp>(loc, c0, c);
      VectorRow row;
      row.n = zero;
      row.dimC = dimC;
      row.base = builder.create<arith::MulIOp>(loc, c, w);
      row.value.assign(numParams, Value());
      row.tableStart.assign(numParams, Value());
      rowTableScalar.assign(numParams, Value());
      rowTableRegs.assign(numParams, {});
      for (unsigned p = 0; p < numParams; ++p) {
        Value pos = act.isPerChannel(p) ? channel : zero;
        if (act.getTableLength(p))
          holdRowTable(p, pos, row.tableStart);
        else
          row.value[p] = splat(elemType, load(params[p], pos));
      }
      // The step reads and writes the tile buffers, its parameters held in `row`.
      ValueRange rowInputs = inputs, rowOutputs = outputs;
      inputs = tileIn;
      outputs = tileOut;
      channelsLast = false;
      FailureOr<SmallVector<Value>> step = emitVectorStep(row, zero, Value(), {});
      channelsLast = true;
      inputs = rowInputs;
      outputs = rowOutputs;
      if (failed(step))
        return failure();
    }
    for (unsigned k = 0; k < outputs.size(); ++k) {
      SmallVector<Value> rows;
      for (int64_t c = 0; c < kTileRows; ++c)
        rows.push_back(builder.create<vector::LoadOp>(loc, vec(storageType), tileOut[k],
                                                      ValueRange{constant(c * width)}));
      transposeTile(rows);
      // Plain stores but in the last group of a C that is not a multiple of the
      // width: masked stores are slow on some CPUs (KernelEmitter.h, emitVectorRow).
      auto whole = builder.create<scf::IfOp>(
          loc, builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, count, w),
          /*withElseRegion=*/true);
      for (bool masked : {false, true}) {
        OpBuilder::InsertionGuard inBranch(builder);
        builder.setInsertionPointToStart(masked ? whole.elseBlock() : whole.thenBlock());
        for (int64_t r = 0; r < kTileRows; ++r)
          storeVec(rows[r], outputs[k], at[r], masked ? mask : Value());
      }
    }
    return success();
  };
  // Every group, the last one's lanes past C off, in one copy of the code (the
  // loads masked in every group: a masked load costs what a load does): the
  // transposes are most of a tiled kernel's code generation time.
  if (failed(forChannelGroups(dimC, group)))
    return failure();
  return tileEnd;
}

} // namespace act

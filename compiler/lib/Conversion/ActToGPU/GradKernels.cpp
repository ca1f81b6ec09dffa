// convert-act-to-gpu: backward and fused forward+backward GPU kernels, and the
// second pass that reduces their per-tile partial gradients (see GPUKernels.h).
#include "GPUKernels.h"

#include "../ActToKernels/ElementBody.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace act {
namespace {

constexpr int64_t kWarp = 32;
/// Elements (ncs) or rows (nsc) a lane takes per trip of the main loop: their loads
/// are issued together.
constexpr int64_t kUnroll = 4;

/// Shared by both kernels: the global warp id, the warp count and the lane.
struct WarpIds {
  Value warp, warps, lane;
};

WarpIds warpIds(OpBuilder &b, Location loc) {
  GridThread t = gridThread(b, loc);
  Value w = b.create<arith::ConstantIndexOp>(loc, kWarp);
  Value tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
  return {b.create<arith::DivUIOp>(loc, t.index, w), b.create<arith::DivUIOp>(loc, t.count, w),
          b.create<arith::RemUIOp>(loc, tid, w)};
}

/// The sum of `v` over the warp's 32 lanes, by a fixed butterfly (every lane must
/// take part; lane 0's result is the one used).
Value warpSum(OpBuilder &b, Location loc, Value v) {
  for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
    Value other =
        b.create<gpu::ShuffleOp>(loc, v, offset, (int32_t)kWarp, gpu::ShuffleMode::XOR)
            .getShuffleResult();
    v = b.create<arith::AddFOp>(loc, v, other);
  }
  return v;
}

/// ceil(a / d) for index values, as (a + d - 1) / d (the NVVM lowering has no
/// arith.ceildivui; the operands here are far below overflow).
Value ceilDiv(OpBuilder &b, Location loc, Value a, Value d) {
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value up = b.create<arith::AddIOp>(loc, a, b.create<arith::SubIOp>(loc, d, one));
  return b.create<arith::DivUIOp>(loc, up, d);
}

class GPUGradEmitter : ElementBody {
public:
  GPUGradEmitter(ActivationOp grad, FloatType type, bool channelsLast, bool fused)
      : ElementBody(grad, type), channelsLast(channelsLast), fused(fused) {}

  LogicalResult emit(gpu::GPUModuleOp gpuModule, StringRef name) {
    Location loc = act.getLoc();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    for (unsigned p = 0; p < numParams; ++p)
      if (!act.getParamConst()[p])
        learnable.push_back(p);
    auto pairs = act->getAttrOfType<DenseI64ArrayAttr>("act.table_pairs");
    if (!pairs || pairs.size() != (int64_t)learnable.size())
      return act.emitOpError("is not an order-1 derivative body from act-autodiff");
    pairCounts.assign(pairs.asArrayRef().begin(), pairs.asArrayRef().end());

    Type f64 = builder.getF64Type();
    Type buf = MemRefType::get({ShapedType::kDynamic}, elemType);
    Type partBuf = MemRefType::get({ShapedType::kDynamic}, f64);
    SmallVector<Type> argTypes(numIn, buf);
    if (fused)
      argTypes.push_back(buf);
    argTypes.append(1 + numIn + numParams, buf); // dy, din..., p...
    argTypes.append(learnable.size(), partBuf);
    argTypes.append(4, builder.getIndexType());
    // A table's gradient is scattered by knot index: each lane sums its tile's
    // contributions in a private array, then the warp sums the arrays entry by entry.
    SmallVector<Type> privateTypes;
    auto privateSpace =
        gpu::AddressSpaceAttr::get(builder.getContext(), gpu::AddressSpace::Private);
    for (auto [j, p] : llvm::enumerate(learnable))
      if (pairCounts[j])
        privateTypes.push_back(MemRefType::get({act.getTableLength(p)}, f64,
                                               MemRefLayoutAttrInterface(), privateSpace));

    builder.setInsertionPoint(gpuModule.getBody()->getTerminator());
    auto fn = builder.create<gpu::GPUFuncOp>(loc, name, builder.getFunctionType(argTypes, {}),
                                             TypeRange(), privateTypes);
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), builder.getUnitAttr());
    Block &entry = fn.getBody().front();
    builder.setInsertionPointToStart(&entry);
    ValueRange args = entry.getArguments().take_front(argTypes.size());
    size_t next = 0;
    auto take = [&](size_t n) {
      ValueRange r = args.slice(next, n);
      next += n;
      return r;
    };
    inputs = take(numIn);
    y = fused ? take(1)[0] : Value();
    dy = take(1)[0];
    dinputs = take(numIn);
    params = take(numParams);
    parts = take(learnable.size());
    ValueRange dims = take(4);
    dimN = dims[0], dimC = dims[1], dimS = dims[2], tileLen = dims[3];
    size_t t = 0;
    tables.assign(learnable.size(), Value());
    for (auto [j, p] : llvm::enumerate(learnable))
      if (pairCounts[j])
        tables[j] = fn.getPrivateAttributions()[t++];

    WarpIds ids = warpIds(builder, loc);
    lane = ids.lane;
    Value tilesPerRow = ceilDiv(builder, loc, dimS, tileLen);
    Value lanes = builder.create<arith::ConstantIndexOp>(loc, kWarp);
    Value numTiles =
        channelsLast
            ? builder.create<arith::MulIOp>(
                  loc, builder.create<arith::MulIOp>(loc, dimN, ceilDiv(builder, loc, dimC, lanes)),
                  tilesPerRow)
            : builder.create<arith::MulIOp>(
                  loc, builder.create<arith::MulIOp>(loc, dimN, dimC), tilesPerRow);
    // Tiles in a warp-uniform grid-stride loop: every lane of a warp runs the same
    // trips, so the shuffles below see the whole warp.
    auto tiles = builder.create<scf::ForOp>(loc, ids.warp, numTiles, ids.warps);
    builder.setInsertionPointToStart(tiles.getBody());
    if (failed(channelsLast ? emitTileNSC(tiles.getInductionVar(), tilesPerRow)
                            : emitTileNCS(tiles.getInductionVar(), tilesPerRow)))
      return failure();
    builder.setInsertionPointToEnd(&entry);
    builder.create<gpu::ReturnOp>(loc);
    return success();
  }

private:
  bool channelsLast, fused;
  ValueRange inputs, dinputs, parts;
  Value y, dy, dimN, dimC, dimS, tileLen, lane;
  SmallVector<unsigned> learnable;
  SmallVector<int64_t> pairCounts;
  SmallVector<Value> tables; ///< per learnable: its private array (tables only)

  Value cst(int64_t v) { return builder.create<arith::ConstantIndexOp>(act.getLoc(), v); }
  /// a * b + c on indices (tile and element numbers).
  Value mulAdd(Value a, Value b, Value c) {
    Location loc = act.getLoc();
    return builder.create<arith::AddIOp>(loc, builder.create<arith::MulIOp>(loc, a, b), c);
  }

  /// Register accumulators: one f64 per learnable non-table parameter.
  SmallVector<Value> zeroAccumulators() {
    Location loc = act.getLoc();
    SmallVector<Value> accs;
    for (auto [j, p] : llvm::enumerate(learnable)) {
      (void)p;
      if (!pairCounts[j])
        accs.push_back(builder.create<arith::ConstantOp>(loc, builder.getF64FloatAttr(0)));
    }
    // Private table arrays start each tile at zero.
    for (auto [j, p] : llvm::enumerate(learnable)) {
      if (!pairCounts[j])
        continue;
      auto loop = builder.create<scf::ForOp>(loc, cst(0), cst(act.getTableLength(p)), cst(1));
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(loop.getBody());
      builder.create<memref::StoreOp>(
          loc, builder.create<arith::ConstantOp>(loc, builder.getF64FloatAttr(0)), tables[j],
          ValueRange{loop.getInductionVar()});
    }
    return accs;
  }

  /// Elements `idx` (all of them valid): loads first, then the bodies, the stores and
  /// the gradient contributions. Returns the updated accumulators.
  FailureOr<SmallVector<Value>> emitElements(const IRMapping &tileMapping,
                                             ArrayRef<Value> idx, SmallVector<Value> accs) {
    Location loc = act.getLoc();
    unsigned numIn = act.getNumInputs();
    Block &body = act.getBodyBlock();
    SmallVector<SmallVector<Value>> loaded(idx.size());
    SmallVector<Value> grads;
    for (auto [u, i] : llvm::enumerate(idx)) {
      for (unsigned k = 0; k < numIn; ++k)
        loaded[u].push_back(load(inputs[k], i));
      grads.push_back(load(dy, i));
    }
    for (auto [u, i] : llvm::enumerate(idx)) {
      IRMapping mapping = tileMapping;
      for (unsigned k = 0; k < numIn; ++k)
        mapping.map(body.getArgument(k), loaded[u][k]);
      FailureOr<SmallVector<Value>> r = cloneBody(mapping);
      if (failed(r))
        return failure();
      if (fused)
        store((*r)[0], y, i);
      Value g = grads[u];
      for (unsigned k = 0; k < numIn; ++k)
        store(builder.create<arith::MulFOp>(loc, g, (*r)[1 + k]), dinputs[k], i);
      Value g64 = widen(g);
      size_t at = 1 + numIn, slot = 0;
      for (auto [j, p] : llvm::enumerate(learnable)) {
        (void)p;
        if (!pairCounts[j]) {
          Value c = builder.create<arith::MulFOp>(loc, g64, widen((*r)[at++]));
          accs[slot] = builder.create<arith::AddFOp>(loc, accs[slot], c);
          ++slot;
          continue;
        }
        for (int64_t q = 0; q < pairCounts[j]; ++q, at += 2)
          accumulate(tables[j], (*r)[at],
                     builder.create<arith::MulFOp>(loc, g64, widen((*r)[at + 1])));
      }
    }
    return accs;
  }

  /// `count` elements: `first`, `first + step`, ...; the main loop takes kUnroll at
  /// a time, the rest one at a time. Returns the accumulators.
  FailureOr<SmallVector<Value>> emitStrided(const IRMapping &tileMapping, Value first,
                                            Value step, Value count,
                                            SmallVector<Value> accs) {
    Location loc = act.getLoc();
    Value whole = builder.create<arith::SubIOp>(
        loc, count, builder.create<arith::RemUIOp>(loc, count, cst(kUnroll)));
    auto main = builder.create<scf::ForOp>(loc, cst(0), whole, cst(kUnroll), accs);
    {
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(main.getBody());
      SmallVector<Value> idx;
      for (int64_t u = 0; u < kUnroll; ++u) {
        Value k = builder.create<arith::AddIOp>(loc, main.getInductionVar(), cst(u));
        idx.push_back(builder.create<arith::AddIOp>(
            loc, first, builder.create<arith::MulIOp>(loc, k, step)));
      }
      FailureOr<SmallVector<Value>> r = emitElements(
          tileMapping, idx,
          SmallVector<Value>(main.getRegionIterArgs().begin(), main.getRegionIterArgs().end()));
      if (failed(r))
        return failure();
      if (!r->empty()) // without accumulators the loop has its yield already
        builder.create<scf::YieldOp>(loc, *r);
    }
    auto rest = builder.create<scf::ForOp>(loc, whole, count, cst(1), main.getResults());
    {
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(rest.getBody());
      Value i = builder.create<arith::AddIOp>(
          loc, first, builder.create<arith::MulIOp>(loc, rest.getInductionVar(), step));
      FailureOr<SmallVector<Value>> r = emitElements(
          tileMapping, {i},
          SmallVector<Value>(rest.getRegionIterArgs().begin(), rest.getRegionIterArgs().end()));
      if (failed(r))
        return failure();
      if (!r->empty()) // without accumulators the loop has its yield already
        builder.create<scf::YieldOp>(loc, *r);
    }
    return SmallVector<Value>(rest.getResults().begin(), rest.getResults().end());
  }

  /// Writes partial `w`'s gradients: `sum` decides whether the warp's lanes are
  /// summed first (ncs: they share (n, c)) and `writer` whether this lane stores.
  void storePartials(Value w, ArrayRef<Value> accs, bool sum, Value writes) {
    Location loc = act.getLoc();
    size_t slot = 0;
    for (auto [j, p] : llvm::enumerate(learnable)) {
      if (!pairCounts[j]) {
        Value v = sum ? warpSum(builder, loc, accs[slot]) : accs[slot];
        ++slot;
        auto guard = builder.create<scf::IfOp>(loc, writes, false);
        OpBuilder::InsertionGuard g(builder);
        builder.setInsertionPointToStart(guard.thenBlock());
        builder.create<memref::StoreOp>(loc, v, parts[j], ValueRange{w});
        continue;
      }
      int64_t k = act.getTableLength(p);
      auto loop = builder.create<scf::ForOp>(loc, cst(0), cst(k), cst(1));
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointToStart(loop.getBody());
      Value e = loop.getInductionVar();
      Value v = builder.create<memref::LoadOp>(loc, tables[j], ValueRange{e});
      if (sum)
        v = warpSum(builder, loc, v);
      auto guard = builder.create<scf::IfOp>(loc, writes, false);
      builder.setInsertionPointToStart(guard.thenBlock());
      Value at = mulAdd(w, cst(k), e);
      builder.create<memref::StoreOp>(loc, v, parts[j], ValueRange{at});
    }
  }

  /// ncs: tile w = (n*C + c)*T + t, its elements strided by 32 over the lanes.
  LogicalResult emitTileNCS(Value w, Value tilesPerRow) {
    Location loc = act.getLoc();
    Value row = builder.create<arith::DivUIOp>(loc, w, tilesPerRow);
    Value t = builder.create<arith::RemUIOp>(loc, w, tilesPerRow);
    Value n = builder.create<arith::DivUIOp>(loc, row, dimC);
    Value c = builder.create<arith::RemUIOp>(loc, row, dimC);
    IRMapping mapping;
    mapParams(mapping, n, c, dimC);
    Value offset = builder.create<arith::MulIOp>(loc, t, tileLen);
    Value len = builder.create<arith::MinUIOp>(
        loc, tileLen, builder.create<arith::SubIOp>(loc, dimS, offset));
    // Lane l takes elements l, l + 32, ... of the tile: ceil((len - l) / 32) of them.
    Value mine = builder.create<arith::SelectOp>(
        loc, builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, lane, len),
        ceilDiv(builder, loc, builder.create<arith::SubIOp>(loc, len, lane), cst(kWarp)),
        cst(0));
    Value first = builder.create<arith::AddIOp>(loc, mulAdd(row, dimS, offset), lane);
    FailureOr<SmallVector<Value>> accs =
        emitStrided(mapping, first, cst(kWarp), mine, zeroAccumulators());
    if (failed(accs))
      return failure();
    Value isLane0 = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lane, cst(0));
    storePartials(w, *accs, /*sum=*/true, isLane0);
    return success();
  }

  /// nsc: tile w = (n*CB + b)*T + t (CB = ceil(C/32)); lane l owns channel
  /// c = 32b + l and walks rows s of the tile, C apart in memory.
  LogicalResult emitTileNSC(Value w, Value tilesPerRow) {
    Location loc = act.getLoc();
    Value blocks = ceilDiv(builder, loc, dimC, cst(kWarp));
    Value t = builder.create<arith::RemUIOp>(loc, w, tilesPerRow);
    Value nb = builder.create<arith::DivUIOp>(loc, w, tilesPerRow);
    Value n = builder.create<arith::DivUIOp>(loc, nb, blocks);
    Value b = builder.create<arith::RemUIOp>(loc, nb, blocks);
    Value c = mulAdd(b, cst(kWarp), lane);
    Value active = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, c, dimC);
    // Lanes past the last channel read channel C-1's parameters and take no rows.
    Value cRead = builder.create<arith::MinUIOp>(
        loc, c, builder.create<arith::SubIOp>(loc, dimC, cst(1)));
    IRMapping mapping;
    mapParams(mapping, n, cRead, dimC);
    Value s0 = builder.create<arith::MulIOp>(loc, t, tileLen);
    Value rows = builder.create<arith::MinUIOp>(
        loc, tileLen, builder.create<arith::SubIOp>(loc, dimS, s0));
    Value mine = builder.create<arith::SelectOp>(loc, active, rows, cst(0));
    // Element (n, s, c) = (n*S + s)*C + c.
    Value first = mulAdd(mulAdd(n, dimS, s0), dimC, cRead);
    FailureOr<SmallVector<Value>> accs = emitStrided(mapping, first, dimC, mine, zeroAccumulators());
    if (failed(accs))
      return failure();
    // Partial (n, c, t) of this lane's channel: ((n*C + c)*T + t).
    Value at = mulAdd(mulAdd(n, dimC, cRead), tilesPerRow, t);
    storePartials(at, *accs, /*sum=*/false, active);
    return success();
  }
};

} // namespace

GridThread gridThread(OpBuilder &b, Location loc) {
  Value bid = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value bdim = b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
  Value tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
  Value gdim = b.create<gpu::GridDimOp>(loc, gpu::Dimension::x);
  return {b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, bid, bdim), tid),
          b.create<arith::MulIOp>(loc, gdim, bdim)};
}

LogicalResult emitGPUGradKernel(gpu::GPUModuleOp gpuModule, ActivationOp grad, FloatType type,
                                bool channelsLast, bool fused, StringRef name) {
  return GPUGradEmitter(grad, type, channelsLast, fused).emit(gpuModule, name);
}

void emitGPUReduceKernel(gpu::GPUModuleOp gpuModule, FloatType outType, StringRef name) {
  MLIRContext *ctx = gpuModule.getContext();
  Location loc = gpuModule.getLoc();
  OpBuilder b(ctx);
  Type index = b.getIndexType(), f64 = b.getF64Type();
  SmallVector<Type> argTypes{MemRefType::get({ShapedType::kDynamic}, f64),
                             MemRefType::get({ShapedType::kDynamic}, outType)};
  argTypes.append(6, index);
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(loc, name, b.getFunctionType(argTypes, {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  ValueRange a = entry.getArguments();
  Value part = a[0], out = a[1], dimN = a[2], dimC = a[3], dimT = a[4], dimK = a[5];
  auto cst = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  Value zero = cst(0), one = cst(1);
  Value perN = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, a[6], zero);
  Value perC = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, a[7], zero);
  Value outN = b.create<arith::SelectOp>(loc, perN, dimN, one);
  Value outC = b.create<arith::SelectOp>(loc, perC, dimC, one);
  Value outCount =
      b.create<arith::MulIOp>(loc, b.create<arith::MulIOp>(loc, outN, outC), dimK);
  // Partials per output entry: the free (n, c) pairs times T.
  Value freeN = b.create<arith::SelectOp>(loc, perN, one, dimN);
  Value freeC = b.create<arith::SelectOp>(loc, perC, one, dimC);
  Value count =
      b.create<arith::MulIOp>(loc, b.create<arith::MulIOp>(loc, freeN, freeC), dimT);

  WarpIds ids = warpIds(b, loc);
  auto entries = b.create<scf::ForOp>(loc, ids.warp, outCount, ids.warps);
  b.setInsertionPointToStart(entries.getBody());
  Value o = entries.getInductionVar();
  Value e = b.create<arith::RemUIOp>(loc, o, dimK);
  Value pos = b.create<arith::DivUIOp>(loc, o, dimK);
  // The fixed (n0, c0) of this entry; the free coordinate(s) start at 0.
  Value n0 = b.create<arith::SelectOp>(loc, perN, b.create<arith::DivUIOp>(loc, pos, outC), zero);
  Value c0 = b.create<arith::SelectOp>(loc, perC, b.create<arith::RemUIOp>(loc, pos, outC), zero);
  Value acc0 = b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(0));
  auto loop = b.create<scf::ForOp>(loc, ids.lane, count, cst(kWarp), ValueRange{acc0});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    Value j = loop.getInductionVar();
    Value t = b.create<arith::RemUIOp>(loc, j, dimT);
    Value q = b.create<arith::DivUIOp>(loc, j, dimT);
    // q enumerates the free (n, c) in order: n over freeN, c over freeC.
    Value n = b.create<arith::AddIOp>(loc, n0, b.create<arith::DivUIOp>(loc, q, freeC));
    Value c = b.create<arith::AddIOp>(loc, c0, b.create<arith::RemUIOp>(loc, q, freeC));
    Value nc = b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, n, dimC), c);
    Value at = b.create<arith::AddIOp>(
        loc,
        b.create<arith::MulIOp>(
            loc, b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, nc, dimT), t), dimK),
        e);
    Value v = b.create<memref::LoadOp>(loc, part, ValueRange{at});
    b.create<scf::YieldOp>(loc, ValueRange{b.create<arith::AddFOp>(
                                    loc, loop.getRegionIterArgs()[0], v)});
  }
  Value sum = warpSum(b, loc, loop.getResult(0));
  Value isLane0 = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, ids.lane, zero);
  auto guard = b.create<scf::IfOp>(loc, isLane0, false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(guard.thenBlock());
    Value r = outType == f64 ? sum : b.create<arith::TruncFOp>(loc, outType, sum).getResult();
    b.create<memref::StoreOp>(loc, r, out, ValueRange{o});
  }
  b.setInsertionPointToEnd(&entry);
  b.create<gpu::ReturnOp>(loc);
}

} // namespace act

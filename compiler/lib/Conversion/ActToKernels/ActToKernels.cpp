// convert-act-to-kernels: scalar bodies -> fused, vectorised loop kernels over memrefs.
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "ElementBody.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>

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

namespace {

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
                bool channelsLast, KernelKind kind, unsigned vectorBits)
      : ElementBody(act, elemType, storageType), channelsLast(channelsLast), kind(kind),
        width(vectorBits / elemType.getWidth()) {}

  LogicalResult emit(StringRef name) {
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
    auto rows = builder.create<scf::ForOp>(loc, rowBegin, rowEnd, one);
    builder.setInsertionPointToStart(rows.getBody());
    Value r = rows.getInductionVar();
    // ncs: row r = (n, c), n = r / C, c = r % C, S elements.
    // nsc: row r = (n, s), n = r / S, C elements, c = the inner index.
    Value rowLen = channelsLast ? dimC : dimS;
    Value n = builder.create<arith::DivUIOp>(loc, r, channelsLast ? dimS : dimC);
    Value base = builder.create<arith::MulIOp>(loc, r, rowLen);
    IRMapping mapping;
    if (!channelsLast) {
      Value c = builder.create<arith::RemUIOp>(loc, r, dimC);
      mapParams(mapping, n, c, dimC); // hoisted: constant along the row
    }
    if (width > 1) {
      if (failed(emitVectorRow(mapping, n, base, rowLen, dimC)))
        return failure();
    } else if (failed(emitScalarRow(mapping, n, base, rowLen, dimC))) {
      return failure();
    }

    builder.setInsertionPointToEnd(entry);
    builder.create<func::ReturnOp>(loc);
    return success();
  }

private:
  bool channelsLast;
  KernelKind kind;
  unsigned width; ///< vector lanes (<= 1: scalar loop only)
  bool grad = false;
  ValueRange inputs, outputs, dinputs, dparams;
  Value dy;
  SmallVector<unsigned> learnable;
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
  /// still bitwise the same for any thread count, and at most 8 f32 roundings per
  /// lane before the sum is carried on in double.
  static constexpr int64_t kBlock = 8;

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

  /// One element at a time along the row (vector-bits=1).
  LogicalResult emitScalarRow(IRMapping &mapping, Value n, Value base, Value rowLen,
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

  /// One row on vectors: a loop over whole vectors, then one masked step for the
  /// remainder (every element takes the same path, so the tail gives bitwise the
  /// values the loop would). Row-constant parameters are broadcast once per row;
  /// along C (nsc) per-channel ones are vector loads. Gradients of row-constant
  /// parameters stay in vector registers (iter_args) and are reduced in lane order
  /// into their buffer at the row's end, and so do row-constant tables of up to
  /// kMaxRegisterTable entries (one accumulator per entry); per-channel ones (nsc)
  /// are updated as vectors, other tables' entries lane by lane. (Masking every step instead would halve
  /// the code, but masked stores are slow on some CPUs: 2.5x slower on Zen 4.)
  LogicalResult emitVectorRow(IRMapping &rowMapping, Value n, Value base, Value rowLen,
                              Value dimC) {
    Location loc = act.getLoc();
    Block &body = act.getBodyBlock();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    Type f64 = builder.getF64Type(), index = builder.getIndexType();
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
      if (int64_t k = act.getTableLength(p)) {
        rowTableScalar[p] = builder.create<arith::MulIOp>(
            loc, pos, builder.create<arith::ConstantIndexOp>(loc, k));
        row.tableStart[p] = splat(index, rowTableScalar[p]);
        if (permutesTable(k)) {
          auto part = [&](int64_t from) -> Value {
            if (from >= k)
              return Value();
            Value at = builder.create<arith::AddIOp>(
                loc, rowTableScalar[p], builder.create<arith::ConstantIndexOp>(loc, from));
            Value mask = builder.create<vector::CreateMaskOp>(
                loc, vec(builder.getI1Type()),
                ValueRange{builder.create<arith::ConstantIndexOp>(
                    loc, std::min<int64_t>(k - from, width))});
            return toCompute(loadVec(storageType, params[p], at, mask));
          };
          rowTableRegs[p] = {part(0), part(width)};
        }
        continue;
      }
      Value scalar = channelsLast ? load(params[p], pos)
                                  : rowMapping.lookup(body.getArgument(numIn + p));
      row.value[p] = splat(elemType, scalar);
    }

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
    Value vecEnd =
        builder.create<arith::SubIOp>(loc, rowLen, builder.create<arith::RemUIOp>(loc, rowLen, w));
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
    // The unmasked loops are marked for act-stage-loops (`act.tiled = N`: at most N
    // vectors long).
    auto emitLoop = [&](Value from, Value to, ValueRange accs) -> FailureOr<scf::ForOp> {
      auto loop = builder.create<scf::ForOp>(loc, from, to, w, accs);
      loop->setAttr("act.stage", builder.getUnitAttr());
      if (row.partial)
        loop->setAttr("act.tiled", builder.getI64IntegerAttr(kBlock));
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(loop.getBody());
      FailureOr<SmallVector<Value>> next = emitVectorStep(
          row, loop.getInductionVar(), Value(),
          SmallVector<Value>(loop.getRegionIterArgs().begin(), loop.getRegionIterArgs().end()));
      if (failed(next))
        return failure();
      if (!next->empty())
        builder.create<scf::YieldOp>(loc, *next);
      return loop;
    };
    SmallVector<Value> accs;
    if (!row.partial) {
      FailureOr<scf::ForOp> loop = emitLoop(zero, vecEnd, init);
      if (failed(loop))
        return failure();
      accs.assign(loop->getResults().begin(), loop->getResults().end());
    } else {
      Value block = builder.create<arith::ConstantIndexOp>(loc, width * kBlock);
      auto blocks = builder.create<scf::ForOp>(loc, zero, vecEnd, block, init);
      {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPointToStart(blocks.getBody());
        Value from = blocks.getInductionVar();
        Value to = builder.create<arith::MinUIOp>(
            loc, builder.create<arith::AddIOp>(loc, from, block), vecEnd);
        ValueRange wide = blocks.getRegionIterArgs();
        FailureOr<scf::ForOp> inner = emitLoop(from, to, toPartial(wide));
        if (failed(inner))
          return failure();
        builder.create<scf::YieldOp>(loc, fold(wide, inner->getResults()));
      }
      accs.assign(blocks.getResults().begin(), blocks.getResults().end());
    }
    // The remainder (possibly none): lanes past the row's end are masked off.
    Value mask = builder.create<vector::CreateMaskOp>(
        loc, vec(builder.getI1Type()),
        ValueRange{builder.create<arith::SubIOp>(loc, rowLen, vecEnd)});
    FailureOr<SmallVector<Value>> last =
        emitVectorStep(row, vecEnd, mask, row.partial ? toPartial(accs) : accs);
    if (failed(last))
      return failure();
    if (row.partial)
      *last = fold(accs, *last);
    for (auto [j, p] : llvm::enumerate(learnable)) {
      if (row.slot[j] < 0)
        continue;
      int64_t entries = pairCounts[j] == 0 ? 1 : act.getTableLength(p);
      for (int64_t e = 0; e < entries; ++e) {
        Value at = pairCounts[j] == 0
                       ? rowPos[p]
                       : builder.create<arith::AddIOp>(
                             loc, rowTableScalar[p], builder.create<arith::ConstantIndexOp>(loc, e));
        Value old = builder.create<memref::LoadOp>(loc, dparams[j], ValueRange{at});
        Value sum = builder.create<vector::ReductionOp>(loc, vector::CombiningKind::ADD,
                                                        (*last)[row.slot[j] + e], old);
        builder.create<memref::StoreOp>(loc, sum, dparams[j], ValueRange{at});
      }
    }
    return success();
  }

  /// What every vector step of a row shares.
  struct VectorRow {
    Value n, base, dimC;
    SmallVector<Value> value;      ///< row-constant parameters, broadcast
    SmallVector<Value> tableStart; ///< row-constant tables' offsets, broadcast
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
  static std::pair<int64_t, int64_t> indexRange(Value index) {
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

  /// Elements [i, i + width) of the row (those `mask` enables, when given): loads,
  /// the body on vectors, stores, and gradient contributions added to `accs`.
  FailureOr<SmallVector<Value>> emitVectorStep(const VectorRow &row, Value i, Value mask,
                                               SmallVector<Value> accs) {
    Location loc = act.getLoc();
    Block &body = act.getBodyBlock();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    Type f64 = builder.getF64Type(), index = builder.getIndexType();
    auto varies = [&](unsigned p) { return channelsLast && act.isPerChannel(p); };
    Value idx = builder.create<arith::AddIOp>(loc, row.base, i);

    IRMapping mapping;
    SmallVector<Value> tableStart(row.tableStart), varyingBase(numParams);
    for (unsigned p = 0; p < numParams; ++p) {
      int64_t k = act.getTableLength(p);
      Value value = row.value[p];
      if (varies(p)) {
        Value posBase = act.isPerSample(p)
                            ? builder.create<arith::AddIOp>(
                                  loc, builder.create<arith::MulIOp>(loc, row.n, row.dimC), i)
                            : i;
        varyingBase[p] = posBase;
        if (k) {
          SmallVector<APInt> lanes;
          for (unsigned l = 0; l < width; ++l)
            lanes.push_back(APInt(64, l));
          Value iota = builder.create<arith::ConstantOp>(
              loc, DenseElementsAttr::get(vec(index), lanes));
          Value rows = builder.create<arith::AddIOp>(loc, splat(index, posBase), iota);
          if (mask) { // lanes past the row still name a row of the table
            Value lastRow = builder.create<arith::SubIOp>(
                loc, builder.create<arith::AddIOp>(loc, posBase,
                                                   builder.create<arith::SubIOp>(loc, row.dimC, i)),
                builder.create<arith::ConstantIndexOp>(loc, 1));
            rows = builder.create<arith::MinUIOp>(loc, rows, splat(index, lastRow));
          }
          tableStart[p] = builder.create<arith::MulIOp>(loc, rows, vecIndex(loc, k));
        } else {
          value = toCompute(loadVec(storageType, params[p], posBase, mask));
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
    // partials need not be finite).
    auto contribution = [&](Value partial) -> Value {
      Value c = builder.create<arith::MulFOp>(loc, g64, widen(partial));
      return mask ? builder.create<arith::SelectOp>(loc, mask, c, zeros) : c;
    };
    size_t at = 1 + numIn;
    for (auto [j, p] : llvm::enumerate(learnable)) {
      if (pairCounts[j] == 0) {
        if (row.slot[j] >= 0 && row.partial) { // acc + g * partial, one fma
          Value &acc = accs[row.slot[j]];
          Value sum = builder.create<math::FmaOp>(loc, g, (*results)[at++], acc);
          acc = mask ? builder.create<arith::SelectOp>(loc, mask, sum, acc) : sum;
          continue;
        }
        Value c = contribution((*results)[at++]);
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
          Value c = row.partial ? Value() : contribution(partial);
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
            if (mask) // a masked-off lane adds nothing
              hit = builder.create<arith::AndIOp>(loc, hit, mask);
            acc = builder.create<arith::SelectOp>(
                loc, hit, builder.create<math::FmaOp>(loc, g, partial, acc), acc);
          }
        }
        continue;
      }
      for (int64_t q = 0; q < pairCounts[j]; ++q, at += 2) {
        Value entries = builder.create<arith::AddIOp>(
            loc, tableStart[p], builder.create<arith::IndexCastOp>(loc, vec(index), (*results)[at]));
        Value contributions = contribution((*results)[at + 1]);
        for (int64_t l = 0; l < (int64_t)width; ++l) // lane order: deterministic
          accumulate(dparams[j], builder.create<vector::ExtractOp>(loc, entries, l),
                     builder.create<vector::ExtractOp>(loc, contributions, l));
      }
    }
    return accs;
  }

  /// Clones the scalar body on vectors of `width` lanes: floats become vectors of
  /// the compute type, integers and indices vectors of themselves, constants splats,
  /// and a table lookup a gather from the parameter buffer at `tableStart` + index.
  ///
  /// Integers in bodies are table indices, clamped to the table: they become i32
  /// (one conversion and one gather per vector, not two of each at 64 bits).
  FailureOr<SmallVector<Value>> cloneBodyVector(IRMapping &mapping,
                                                ArrayRef<Value> tableStart, Value laneMask) {
    unsigned numIn = act.getNumInputs();
    Type i32 = builder.getI32Type();
    auto narrow = [&](Type t) -> Type {
      return t.isIndex() || t.getIntOrFloatBitWidth() > 32 ? i32 : t;
    };
    for (Operation &op : act.getBodyBlock().without_terminator()) {
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
        Value at = builder.create<arith::AddIOp>(loc, start, mapping.lookup(ld.getIndices()[0]));
        Value mask = laneMask ? laneMask
                              : builder.create<arith::ConstantOp>(
                                    loc, DenseElementsAttr::get(vec(builder.getI1Type()), true));
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
    for (Value v : cast<YieldOp>(act.getBodyBlock().getTerminator()).getResults())
      results.push_back(mapping.lookup(v));
    return results;
  }
};

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
      return KernelEmitter(act, type, storage, nsc, KernelKind::Forward, bits)
          .emit(kernelName(act.getSymName(), "fwd", dt, lt));
    }
    auto order = act->getAttrOfType<IntegerAttr>("act.grad_order");
    if (order && order.getInt() != 1) {
      if (!wanted("derivs"))
        return success();
      return KernelEmitter(act, type, storage, nsc, KernelKind::Derivatives, bits)
          .emit(kernelName(of.getValue(), "derivs" + std::to_string(order.getInt()), dt, lt));
    }
    if (wanted("bwd") && failed(KernelEmitter(act, type, storage, nsc, KernelKind::Backward, bits)
                                    .emit(kernelName(of.getValue(), "bwd", dt, lt))))
      return failure();
    if (!wanted("fwdbwd"))
      return success();
    return KernelEmitter(act, type, storage, nsc, KernelKind::ForwardBackward, bits)
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

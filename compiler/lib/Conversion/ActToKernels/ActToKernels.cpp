// convert-act-to-kernels: scalar bodies -> fused loop kernels over memrefs.
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "ElementBody.h"

using namespace mlir;

namespace act {
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
                bool channelsLast, KernelKind kind)
      : ElementBody(act, elemType, storageType), channelsLast(channelsLast), kind(kind) {}

  LogicalResult emit(StringRef name) {
    Location loc = act.getLoc();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    bool grad = kind == KernelKind::Backward || kind == KernelKind::ForwardBackward;
    bool writesY = kind != KernelKind::Backward;
    unsigned numOutputs =
        kind == KernelKind::Derivatives
            ? (unsigned)cast<YieldOp>(act.getBodyBlock().getTerminator()).getNumOperands()
            : 1;
    SmallVector<unsigned> learnable;
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
    ValueRange outputs = writesY ? take(numOutputs) : ValueRange();
    Value dy = grad ? take(1)[0] : Value();
    ValueRange dinputs = grad ? take(numIn) : ValueRange();
    params = take(numParams);
    ValueRange dparams = grad ? take(learnable.size()) : ValueRange();
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

    builder.setInsertionPointToEnd(entry);
    builder.create<func::ReturnOp>(loc);
    return success();
  }

private:
  bool channelsLast;
  KernelKind kind;
  ValueRange inputs;
  SmallVector<int64_t> pairCounts;
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
    auto of = act->getAttrOfType<StringAttr>("act.grad_of");
    if (!of)
      return KernelEmitter(act, type, storage, nsc, KernelKind::Forward)
          .emit(kernelName(act.getSymName(), "fwd", dt, lt));
    auto order = act->getAttrOfType<IntegerAttr>("act.grad_order");
    if (order && order.getInt() != 1)
      return KernelEmitter(act, type, storage, nsc, KernelKind::Derivatives)
          .emit(kernelName(of.getValue(), "derivs" + std::to_string(order.getInt()), dt, lt));
    if (failed(KernelEmitter(act, type, storage, nsc, KernelKind::Backward)
                   .emit(kernelName(of.getValue(), "bwd", dt, lt))))
      return failure();
    return KernelEmitter(act, type, storage, nsc, KernelKind::ForwardBackward)
        .emit(kernelName(of.getValue(), "fwdbwd", dt, lt));
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
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

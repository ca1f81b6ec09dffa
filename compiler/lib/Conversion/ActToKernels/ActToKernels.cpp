// convert-act-to-kernels: scalar bodies -> fused loop kernels over memrefs.
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_CONVERTACTTOKERNELS
#include "act/Conversion/Passes.h.inc"

std::string kernelName(StringRef activation, StringRef kind, StringRef dtype,
                       StringRef layout) {
  return (activation + "__" + kind + "_" + dtype + "_" + layout).str();
}

namespace {

/// Emits one forward kernel for `act` computing in `elemType` over `layout`.
class KernelEmitter {
public:
  KernelEmitter(ActivationOp act, FloatType elemType, bool channelsLast)
      : act(act), elemType(elemType), channelsLast(channelsLast),
        builder(act->getContext()) {}

  LogicalResult emit(StringRef name) {
    Location loc = act.getLoc();
    unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
    Type buf = MemRefType::get({ShapedType::kDynamic}, elemType);
    SmallVector<Type> argTypes(numIn + 1 + numParams, buf);
    argTypes.append(5, builder.getIndexType());

    builder.setInsertionPoint(act);
    auto fn = builder.create<func::FuncOp>(loc, name,
                                           builder.getFunctionType(argTypes, {}));
    Block *entry = fn.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    ValueRange args = entry->getArguments();
    inputs = args.take_front(numIn);
    output = args[numIn];
    params = args.slice(numIn + 1, numParams);
    Value dimC = args[numIn + 1 + numParams + 1];
    Value dimS = args[numIn + 1 + numParams + 2];
    Value rowBegin = args[numIn + 1 + numParams + 3];
    Value rowEnd = args[numIn + 1 + numParams + 4];

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
      mapping.map(body.getArgument(k),
                  builder.create<memref::LoadOp>(loc, inputs[k], ValueRange{idx}));
    FailureOr<Value> result = cloneBody(mapping);
    if (failed(result))
      return failure();
    builder.create<memref::StoreOp>(loc, *result, output, ValueRange{idx});

    builder.setInsertionPointToEnd(entry);
    builder.create<func::ReturnOp>(loc);
    return success();
  }

private:
  ActivationOp act;
  FloatType elemType;
  bool channelsLast;
  OpBuilder builder;
  ValueRange inputs, params;
  Value output;

  /// Binds each parameter's body argument to its value at (n, c): scalars read
  /// element 0, [C] element c, [N] element n, [N,C] element n*C + c; a table
  /// binds to the K-element row at that position.
  void mapParams(IRMapping &mapping, Value n, Value c, Value dimC) {
    Location loc = act.getLoc();
    Block &body = act.getBodyBlock();
    for (unsigned p = 0; p < act.getNumParams(); ++p) {
      Value pos = builder.create<arith::ConstantIndexOp>(loc, 0);
      bool perN = act.isPerSample(p), perC = act.isPerChannel(p);
      if (perN && perC)
        pos = builder.create<arith::AddIOp>(
            loc, builder.create<arith::MulIOp>(loc, n, dimC), c);
      else if (perN)
        pos = n;
      else if (perC)
        pos = c;
      Value value;
      if (int64_t k = act.getTableLength(p)) {
        Value kv = builder.create<arith::ConstantIndexOp>(loc, k);
        Value offset = builder.create<arith::MulIOp>(loc, pos, kv);
        auto rowType = MemRefType::get(
            {k}, elemType, StridedLayoutAttr::get(builder.getContext(),
                                                  ShapedType::kDynamic, {1}));
        value = builder.create<memref::SubViewOp>(
            loc, rowType, params[p], ArrayRef<OpFoldResult>{offset},
            ArrayRef<OpFoldResult>{builder.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{builder.getIndexAttr(1)});
      } else {
        value = builder.create<memref::LoadOp>(loc, params[p], ValueRange{pos});
      }
      mapping.map(body.getArgument(act.getNumInputs() + p), value);
    }
  }

  /// Clones the scalar body at the insertion point, retyping float values (and
  /// float constants) from the dialect's f64 to the kernel's element type.
  FailureOr<Value> cloneBody(IRMapping &mapping) {
    for (Operation &op : act.getBodyBlock().without_terminator()) {
      Dialect *dialect = op.getDialect();
      if (!isa<arith::ArithDialect, math::MathDialect, memref::MemRefDialect>(
              dialect))
        return op.emitOpError("cannot be put in a kernel; run act-expand first");
      if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
        if (auto f = dyn_cast<FloatAttr>(cst.getValue())) {
          mapping.map(cst.getResult(),
                      builder.create<arith::ConstantOp>(
                          cst.getLoc(), elemType,
                          builder.getFloatAttr(elemType, f.getValueAsDouble())));
          continue;
        }
      }
      Operation *clone = builder.clone(op, mapping);
      for (Value res : clone->getResults())
        if (isa<FloatType>(res.getType()))
          res.setType(elemType);
    }
    auto yield = cast<YieldOp>(act.getBodyBlock().getTerminator());
    return mapping.lookup(yield.getResults().front());
  }
};

struct ConvertActToKernelsPass
    : impl::ConvertActToKernelsBase<ConvertActToKernelsPass> {
  using Base::Base;

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
        FloatType type = dt == "f32" ? FloatType(b.getF32Type())
                         : dt == "f64" ? FloatType(b.getF64Type())
                                       : FloatType();
        if (!type) {
          module.emitError("unknown dtype '") << dt << "' (expected f32 or f64)";
          return signalPassFailure();
        }
        for (const std::string &lt : lts) {
          if (lt != "ncs" && lt != "nsc") {
            module.emitError("unknown layout '") << lt << "' (expected ncs or nsc)";
            return signalPassFailure();
          }
          KernelEmitter emitter(act, type, lt == "nsc");
          if (failed(emitter.emit(kernelName(act.getSymName(), "fwd", dt, lt))))
            return signalPassFailure();
        }
      }
      act.erase();
    }
  }
};

} // namespace
} // namespace act

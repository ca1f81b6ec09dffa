// act: what every kernel does at one element, shared by the CPU loop kernels
// (ActToKernels.cpp) and the GPU kernels (ActToGPU.cpp): bind each parameter's value
// at (n, c), clone the scalar body retyped to the kernel's element type, and
// accumulate parameter gradients in double. Buffers hold `storageType`; the body
// computes in `elemType` (f16 and bf16 buffers are computed in f32 and rounded once).
#pragma once

#include "act/Dialect/ActOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace act {
// A private header of the two kernel conversions, which both work in mlir terms.
using namespace mlir;

class ElementBody {
protected:
  ElementBody(ActivationOp act, mlir::FloatType elemType,
              mlir::FloatType storageType = {})
      : act(act), elemType(elemType), storageType(storageType ? storageType : elemType),
        builder(act->getContext()) {}

  ActivationOp act;
  mlir::FloatType elemType;
  mlir::FloatType storageType;
  mlir::OpBuilder builder;
  /// The kernel's parameter buffers, in declaration order.
  mlir::ValueRange params;
  /// Each parameter's element (or table row) index at the current (n, c).
  llvm::SmallVector<mlir::Value> positions;

  /// `scalar`, or a vector of it shaped like `v` when `v` is a vector.
  static mlir::Type shapedLike(mlir::Type scalar, mlir::Value v) {
    if (auto vec = dyn_cast<VectorType>(v.getType()))
      return VectorType::get(vec.getShape(), scalar);
    return scalar;
  }

  mlir::Value widen(mlir::Value v) {
    mlir::Type f64 = shapedLike(builder.getF64Type(), v);
    if (v.getType() == f64)
      return v;
    return builder.create<arith::ExtFOp>(v.getLoc(), f64, v);
  }

  /// A buffer element widened to the compute type.
  mlir::Value load(mlir::Value buffer, mlir::Value index) {
    Location loc = buffer.getLoc();
    mlir::Value v = builder.create<memref::LoadOp>(loc, buffer, ValueRange{index});
    return toCompute(v);
  }
  mlir::Value toCompute(mlir::Value v) {
    mlir::Type t = shapedLike(elemType, v);
    if (v.getType() == t)
      return v;
    return builder.create<arith::ExtFOp>(v.getLoc(), t, v);
  }
  /// A compute-type value (scalar or vector) rounded once to the storage type.
  mlir::Value toStorage(mlir::Value v) {
    mlir::Type t = shapedLike(storageType, v);
    if (v.getType() == t)
      return v;
    return builder.create<arith::TruncFOp>(v.getLoc(), t, v);
  }
  /// Stores a compute-type value, rounding it once to the storage type.
  void store(mlir::Value v, mlir::Value buffer, mlir::Value index) {
    v = toStorage(v);
    builder.create<memref::StoreOp>(v.getLoc(), v, buffer, ValueRange{index});
  }

  void accumulate(mlir::Value buffer, mlir::Value index, mlir::Value contribution) {
    Location loc = contribution.getLoc();
    mlir::Value old = builder.create<memref::LoadOp>(loc, buffer, ValueRange{index});
    mlir::Value sum = builder.create<arith::AddFOp>(loc, old, contribution);
    builder.create<memref::StoreOp>(loc, sum, buffer, ValueRange{index});
  }

  /// Binds each parameter's body argument to its value at (n, c): scalars read
  /// element 0, [C] element c, [N] element n, [N,C] element n*C + c; a table
  /// binds to the K-element row at that position.
  void mapParams(mlir::IRMapping &mapping, mlir::Value n, mlir::Value c, mlir::Value dimC) {
    Location loc = act.getLoc();
    Block &body = act.getBodyBlock();
    positions.clear();
    for (unsigned p = 0; p < act.getNumParams(); ++p) {
      mlir::Value pos = builder.create<arith::ConstantIndexOp>(loc, 0);
      bool perN = act.isPerSample(p), perC = act.isPerChannel(p);
      if (perN && perC)
        pos = builder.create<arith::AddIOp>(
            loc, builder.create<arith::MulIOp>(loc, n, dimC), c);
      else if (perN)
        pos = n;
      else if (perC)
        pos = c;
      positions.push_back(pos);
      mlir::Value value;
      if (int64_t k = act.getTableLength(p)) {
        mlir::Value kv = builder.create<arith::ConstantIndexOp>(loc, k);
        mlir::Value offset = builder.create<arith::MulIOp>(loc, pos, kv);
        auto rowType = MemRefType::get(
            {k}, storageType, StridedLayoutAttr::get(builder.getContext(),
                                                  ShapedType::kDynamic, {1}));
        value = builder.create<memref::SubViewOp>(
            loc, rowType, params[p], ArrayRef<OpFoldResult>{offset},
            ArrayRef<OpFoldResult>{builder.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{builder.getIndexAttr(1)});
      } else {
        value = load(params[p], pos);
      }
      mapping.map(body.getArgument(act.getNumInputs() + p), value);
    }
  }

  /// Clones the scalar body at the insertion point, retyping float values (and
  /// float constants) from the dialect's f64 to the kernel's element type. Returns
  /// the yielded values.
  FailureOr<SmallVector<Value>> cloneBody(mlir::IRMapping &mapping) {
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
      if (auto ld = dyn_cast<memref::LoadOp>(op)) { // a table entry
        Operation *clone = builder.clone(op, mapping);
        clone->getResult(0).setType(storageType);
        mapping.map(ld.getResult(), toCompute(clone->getResult(0)));
        continue;
      }
      Operation *clone = builder.clone(op, mapping);
      for (mlir::Value res : clone->getResults())
        if (isa<FloatType>(res.getType()))
          res.setType(elemType);
    }
    SmallVector<Value> results;
    for (mlir::Value v : cast<YieldOp>(act.getBodyBlock().getTerminator()).getResults())
      results.push_back(mapping.lookup(v));
    return results;
  }
};

} // namespace act

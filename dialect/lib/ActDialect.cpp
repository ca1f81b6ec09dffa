// act: dialect registration and constant materialisation.
#include "act/Dialect/ActDialect.h"
#include "act/Dialect/ActOps.h"

using namespace mlir;

#include "act/Dialect/ActDialect.cpp.inc"

void act::ActDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "act/Dialect/ActOps.cpp.inc"
      >();
}

// Folded scalar bodies are plain arith constants; no act.constant op is needed.
Operation *act::ActDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                                Type type, Location loc) {
  if (auto floatAttr = dyn_cast<FloatAttr>(value))
    return builder.create<arith::ConstantOp>(loc, type, floatAttr);
  return nullptr;
}

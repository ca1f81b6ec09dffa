// act: op verifiers and helpers. Folders live in ActFolds.cpp.
#include "act/Dialect/ActOps.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace act;

namespace {
/// A parsed broadcast shape string ("", "C", "N,C", "C,17", ...).
struct ShapeSpec {
  bool perSample = false, perChannel = false;
  int64_t tableLen = 0;
  bool valid = true;
};

ShapeSpec parseShape(StringRef s) {
  ShapeSpec spec;
  if (s.empty())
    return spec;
  SmallVector<StringRef> parts;
  s.split(parts, ',');
  unsigned stage = 0; // N, then C, then the table length, in that order
  for (StringRef p : parts) {
    p = p.trim();
    if (p == "N" && stage == 0) {
      spec.perSample = true;
      stage = 1;
    } else if (p == "C" && stage <= 1) {
      spec.perChannel = true;
      stage = 2;
    } else if (stage <= 2 && !p.getAsInteger(10, spec.tableLen) && spec.tableLen >= 2) {
      stage = 3;
    } else {
      spec.valid = false;
    }
  }
  return spec;
}
} // namespace

int64_t ActivationOp::getTableLength(unsigned i) {
  return parseShape(cast<StringAttr>(getParamShapes()[i]).getValue()).tableLen;
}
bool ActivationOp::isPerSample(unsigned i) {
  return parseShape(cast<StringAttr>(getParamShapes()[i]).getValue()).perSample;
}
bool ActivationOp::isPerChannel(unsigned i) {
  return parseShape(cast<StringAttr>(getParamShapes()[i]).getValue()).perChannel;
}

LogicalResult ActivationOp::verify() {
  unsigned numParams = getParamNames().size();
  if (getParamShapes().size() != numParams || getParamInits().size() != numParams ||
      getParamConst().size() != numParams)
    return emitOpError("needs one shape, one init list and one const flag per "
                       "parameter (")
           << numParams << " parameters)";
  if (getInputNames().empty())
    return emitOpError("needs at least one input");
  Block &block = getBodyBlock();
  if (block.getNumArguments() != getNumInputs() + numParams)
    return emitOpError("body has ")
           << block.getNumArguments() << " arguments, expected "
           << getNumInputs() + numParams << " (inputs, then parameters)";
  for (unsigned i = 0; i < getNumInputs(); ++i)
    if (!isa<FloatType>(block.getArgument(i).getType()))
      return emitOpError("input '")
             << getInputNames()[i] << "' must be a scalar float";
  for (unsigned i = 0; i < numParams; ++i) {
    StringRef name = cast<StringAttr>(getParamNames()[i]).getValue();
    ShapeSpec spec = parseShape(cast<StringAttr>(getParamShapes()[i]).getValue());
    if (!spec.valid)
      return emitOpError("parameter '") << name << "' has an invalid shape '"
                                        << getParamShapes()[i] << "'";
    Type type = block.getArgument(getNumInputs() + i).getType();
    if (spec.tableLen) {
      auto memref = dyn_cast<MemRefType>(type);
      if (!memref || memref.getRank() != 1 || memref.getDimSize(0) != spec.tableLen ||
          !isa<FloatType>(memref.getElementType()))
        return emitOpError("table parameter '")
               << name << "' must be a memref<" << spec.tableLen << "xf..>, got "
               << type;
    } else if (!isa<FloatType>(type)) {
      return emitOpError("parameter '") << name << "' must be a scalar float";
    }
    auto inits = cast<DenseF64ArrayAttr>(getParamInits()[i]);
    if (inits.size() > 1 && inits.size() != spec.tableLen)
      return emitOpError("parameter '")
             << name << "' has " << inits.size()
             << " initial values; expected none, one, or one per table entry";
  }
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getResults().empty())
    return emitOpError("body must end in act.yield of at least one value");
  return success();
}

static LogicalResult verifySmooth(Operation *op, ValueRange inputs) {
  if (inputs.size() < 2)
    return op->emitOpError("needs at least two operands before ';', got ")
           << inputs.size();
  return success();
}
LogicalResult SmoothMaxOp::verify() { return verifySmooth(*this, getInputs()); }
LogicalResult SmoothMinOp::verify() { return verifySmooth(*this, getInputs()); }
LogicalResult LogSumExpOp::verify() { return verifySmooth(*this, getInputs()); }

LogicalResult PwlOp::verify() {
  auto table = cast<MemRefType>(getTable().getType());
  if (table.getRank() != 1 || table.getDimSize(0) < 2)
    return emitOpError("table must be one-dimensional with at least 2 knots, got ")
           << table;
  if (table.getElementType() != getType())
    return emitOpError("table element type ")
           << table.getElementType() << " does not match result type " << getType();
  for (Value v : {getInput(), getLeft(), getRight(), getLeftSlope(), getRightSlope()})
    if (v.getType() != getType())
      return emitOpError("scalar operands must all have type ") << getType();
  return success();
}

void PwlOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  effects.emplace_back(MemoryEffects::Read::get(), &getTableMutable(),
                       SideEffects::DefaultResource::get());
}

#define GET_OP_CLASSES
#include "act/Dialect/ActOps.cpp.inc"

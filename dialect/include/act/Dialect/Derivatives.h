// act: derivative rules for the arith and math ops that act bodies use.
#pragma once

#include "mlir/IR/DialectRegistry.h"

namespace act {

/// Attaches DifferentiableOpInterface to arith and math ops (the act ops implement
/// it directly). Call on the registry every context that runs act-autodiff uses.
void registerDerivativeModels(mlir::DialectRegistry &registry);

} // namespace act

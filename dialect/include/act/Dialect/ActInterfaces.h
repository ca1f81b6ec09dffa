// act: the differentiation interface (generated from ActInterfaces.td).
#pragma once

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "act/Dialect/ActInterfaces.h.inc"

// act: the dialect's operations (generated from ActOps.td).
#pragma once

#include "act/Dialect/ActDialect.h"
#include "act/Dialect/ActInterfaces.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "act/Dialect/ActOps.h.inc"

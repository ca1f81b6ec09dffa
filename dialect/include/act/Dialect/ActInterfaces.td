//===- ActInterfaces.td - the differentiation interface ------------------===//

#ifndef ACT_INTERFACES_TD
#define ACT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let description = [{
    An op with one float result that can build its local partial derivatives as IR:
    d(result)/d(operand) for each operand, at the builder's insertion point, after the
    op itself (the rule may use the op's result). Operands without a derivative
    (conditions, indices, tables) get a null Value. `act-autodiff` chains these
    rules in reverse mode; an op in a body without this interface is an error
    naming the op.
  }];
  let cppNamespace = "::act";
  let methods = [
    InterfaceMethod<
      "Appends d(result)/d(operand) for every operand (null where none exists).",
      "::mlir::LogicalResult", "buildPartials",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$partials)>,
  ];
}

#endif // ACT_INTERFACES_TD

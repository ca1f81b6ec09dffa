//===- ActDialect.td - the act dialect and its base op class -------------===//
//
// act describes neural-network activations as scalar bodies: one op per activation
// holds a region computing the value at one element from the scalar value of each
// input and parameter. Primitives (smooth_max, gate, pwl, ...) are ops so that
// derivatives, simplification and stabilisation are local rewrites.
//
//===----------------------------------------------------------------------===//

#ifndef ACT_DIALECT_TD
#define ACT_DIALECT_TD

include "mlir/IR/OpBase.td"

def Act_Dialect : Dialect {
  let name = "act";
  let summary = "Differentiable elementwise activation functions";
  let description = [{
    The `act` dialect holds activation functions as scalar bodies
    (`act.activation`), the primitives the activation language is built on
    (`act.smooth_max`, `act.gate`, `act.pwl`, ...) and the builtins that are not
    in `arith`/`math` (`act.sigmoid`, `act.softplus`, `act.gelu`, ...).
  }];
  let cppNamespace = "::act";
  let hasConstantMaterializer = 1;
  let hasCanonicalizer = 1;
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect"];
}

class Act_Op<string mnemonic, list<Trait> traits = []> :
    Op<Act_Dialect, mnemonic, traits>;

#endif // ACT_DIALECT_TD

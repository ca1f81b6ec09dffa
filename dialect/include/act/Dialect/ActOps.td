//===- ActOps.td - act dialect operations --------------------------------===//

#ifndef ACT_OPS_TD
#define ACT_OPS_TD

include "act/Dialect/ActDialect.td"
include "act/Dialect/ActInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

//===----------------------------------------------------------------------===//
// The activation and its terminator
//===----------------------------------------------------------------------===//

def Act_ActivationOp : Act_Op<"activation", [Symbol, IsolatedFromAbove,
                                             SingleBlock]> {
  let summary = "an activation function as a scalar body";
  let description = [{
    Holds one activation. The body's block arguments are the scalar value at one
    element of each elementwise input (in order), then of each parameter. A table
    parameter (shape with a trailing length K, e.g. `[C,17]`) arrives as a
    `memref<Kxf64>` holding the row for the element's channel. `act.yield` returns
    the result (and, after `act-autodiff`, the partial derivatives).

    Parameter metadata: `param_shapes` spells each broadcast shape as in the source
    without brackets (`""` scalar, `"C"`, `"N"`, `"N,C"`, `"C,17"`); `param_inits`
    holds the initial values (empty: none, one value: broadcast, K values: a table);
    `param_const` marks parameters that are not learnable.

    Example:

    ```mlir
    act.activation @swish attributes {input_names = ["x"], param_names = ["beta"],
        param_shapes = [""], param_inits = [array<f64: 1.0>],
        param_const = array<i1: false>} {
    ^bb0(%x: f64, %beta: f64):
      %0 = arith.mulf %beta, %x : f64
      %1 = act.sigmoid %0 : f64
      %2 = arith.mulf %x, %1 : f64
      act.yield %2 : f64
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       StrArrayAttr:$input_names,
                       StrArrayAttr:$param_names,
                       StrArrayAttr:$param_shapes,
                       TypedArrayAttrBase<DenseF64ArrayAttr, "initial values">:$param_inits,
                       DenseBoolArrayAttr:$param_const,
                       OptionalAttr<StrAttr>:$formula);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    unsigned getNumInputs() { return getInputNames().size(); }
    unsigned getNumParams() { return getParamNames().size(); }
    mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The source name of body argument `i`: the inputs', then the parameters'.
    llvm::StringRef getArgumentName(unsigned i) {
      unsigned numIn = getNumInputs();
      return mlir::cast<mlir::StringAttr>(i < numIn ? getInputNames()[i]
                                                    : getParamNames()[i - numIn])
          .getValue();
    }
    /// Table length of parameter `i` (0 when it is not a table).
    int64_t getTableLength(unsigned i);
    bool isPerSample(unsigned i);
    bool isPerChannel(unsigned i);
  }];
}

def Act_YieldOp : Act_Op<"yield", [Pure, Terminator, HasParent<"ActivationOp">]> {
  let summary = "returns the body's results";
  let description = [{
    Terminates an `act.activation` body: the activation's value, followed by the
    derivatives when the body was produced by `act-autodiff` (where a table
    parameter's gradient is (index, weight) pairs).

    ```mlir
    act.yield %y : f64
    ```
  }];
  let arguments = (ins Variadic<AnyTypeOf<[AnyFloat, Index]>>:$results);
  let assemblyFormat = "attr-dict ($results^ `:` type($results))?";
}

//===----------------------------------------------------------------------===//
// Unary builtins that are not in arith/math
//===----------------------------------------------------------------------===//

class Act_UnaryOp<string mnemonic, string math> :
    Act_Op<mnemonic, [Pure, SameOperandsAndResultType,
                      DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = "elementwise " # math;
  let description = "Computes `" # math # [{` of a scalar float.

    ```mlir
    %y = act.}] # mnemonic # [{ %x : f64
    ```
  }];
  let arguments = (ins AnyFloat:$input);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Act_SigmoidOp : Act_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Act_SoftplusOp : Act_UnaryOp<"softplus", "log(1 + exp(x))">;
def Act_ReluOp : Act_UnaryOp<"relu", "max(x, 0) (NaN propagates)">;
def Act_Relu6Op : Act_UnaryOp<"relu6", "min(max(x, 0), 6)">;
def Act_HardSigmoidOp : Act_UnaryOp<"hard_sigmoid", "relu6(x + 3) / 6">;
def Act_HardSwishOp : Act_UnaryOp<"hard_swish", "x * relu6(x + 3) / 6">;
def Act_GeluOp : Act_UnaryOp<"gelu", "x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2)))">;
def Act_GeluTanhOp : Act_UnaryOp<"gelu_tanh",
    "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))">;
def Act_SincOp : Act_UnaryOp<"sinc", "sin(x) / x with sinc(0) = 1">;
def Act_GaussOp : Act_UnaryOp<"gauss", "exp(-x^2)">;
def Act_SignOp : Act_UnaryOp<"sign", "-1, 0 or 1 (sign(0) = 0, NaN propagates)">;
// Not a language builtin: canonicalisation forms it from tanh(softplus(x)) (Mish),
// which it evaluates with one exp and one division.
def Act_TanhSoftplusOp : Act_UnaryOp<"tanh_softplus", "tanh(softplus(x))">;
// Not a language builtin: gelu's expansion and derivative use it; act-expand writes
// it as a Chebyshev series with as many terms as the kernels' precision needs.
def Act_ErfcxOp : Act_UnaryOp<"erfcx", "exp(x^2) erfc(x) for x >= 0 (erfcx(inf) = 0)">;
// Not a language builtin: gelu's derivative, so act-expand can write it for the
// kernels' precision (float kernels: a clamped form with no inf * 0 guards).
def Act_GeluDerivOp : Act_UnaryOp<"gelu_deriv", "gelu'(x) = Phi(x) + x phi(x)">;

//===----------------------------------------------------------------------===//
// Gating, clamping and the smooth-maximum family
//===----------------------------------------------------------------------===//

def Act_GateOp : Act_Op<"gate", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = "v * sigmoid(g)";
  let description = [{
    The gating family (Swish is `gate(x, beta * x)`).

    ```mlir
    %y = act.gate %v, %g : f64
    ```
  }];
  let arguments = (ins AnyFloat:$value, AnyFloat:$gate);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$value `,` $gate attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Act_HardGateOp : Act_Op<"hard_gate", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = "v * hard_sigmoid(g)";
  let description = [{
    ```mlir
    %y = act.hard_gate %v, %g : f64
    ```
  }];
  let arguments = (ins AnyFloat:$value, AnyFloat:$gate);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$value `,` $gate attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Act_ClampOp : Act_Op<"clamp", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = "min(max(v, lo), hi)";
  let description = [{
    ```mlir
    %y = act.clamp %v, %lo, %hi : f64
    ```
  }];
  let arguments = (ins AnyFloat:$value, AnyFloat:$lo, AnyFloat:$hi);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$value `,` $lo `,` $hi attr-dict `:` type($result)";
  let hasFolder = 1;
}

class Act_SmoothOp<string mnemonic, string math> :
    Act_Op<mnemonic, [Pure, SameOperandsAndResultType,
                      DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = math;
  let description = "`" # math # [{`, over n >= 2 operands with
    sharpness `beta` (the operand after `;`).

    ```mlir
    %y = act.}] # mnemonic # [{ %a, %b beta %beta : f64
    ```
  }];
  let arguments = (ins Variadic<AnyFloat>:$inputs, AnyFloat:$beta);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$inputs `beta` $beta attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Act_SmoothMaxOp : Act_SmoothOp<"smooth_max",
    "smooth maximum sum(ai exp(beta ai)) / sum(exp(beta ai))">;
def Act_SmoothMinOp : Act_SmoothOp<"smooth_min",
    "smooth minimum, smooth_max(a1, ..., an; -beta)">;
def Act_LogSumExpOp : Act_SmoothOp<"logsumexp",
    "log(sum(exp(beta ai))) / beta">;

def Act_SafeMulOp : Act_Op<"safe_mul", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DifferentiableOpInterface>]> {
  let summary = "a * b, exactly 0 where a is 0";
  let description = [{
    The chain-rule product `adjoint * partial` that act-autodiff emits: equal to
    `a * b`, except that it is exactly 0 when `a` is 0 even where `b` is inf or NaN,
    so a branch masked off upstream contributes nothing (no NaN leaks). Its own
    derivative is that of `a * b`, so higher-order derivatives stay exact.

    ```mlir
    %y = act.safe_mul %adjoint, %partial : f64
    ```
  }];
  let arguments = (ins AnyFloat:$lhs, AnyFloat:$rhs);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Piecewise linear
//===----------------------------------------------------------------------===//

def Act_PwlOp : Act_Op<"pwl", [DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    AllTypesMatch<["input", "left", "right", "leftSlope", "rightSlope", "result"]>]> {
  let summary = "piecewise-linear unit with uniform knots (PWLU)";
  let description = [{
    `n = K - 1` uniform segments of width `d = (br - bl) / n` on `[bl, br]` with knot
    values `y[0..n]` read from the table; left of `bl`: `y[0] + kl (x - bl)`, right of
    `br`: `y[n] + kr (x - br)`.

    ```mlir
    %r = act.pwl %x, %y, %bl, %br, %kl, %kr : f64, memref<17xf64>
    ```
  }];
  let arguments = (ins AnyFloat:$input, AnyStaticShapeMemRef:$table,
                       AnyFloat:$left, AnyFloat:$right,
                       AnyFloat:$leftSlope, AnyFloat:$rightSlope);
  let results = (outs AnyFloat:$result);
  let assemblyFormat = [{
    $input `,` $table `,` $left `,` $right `,` $leftSlope `,` $rightSlope attr-dict
    `:` type($result) `,` type($table)
  }];
  let hasVerifier = 1;
}

#endif // ACT_OPS_TD

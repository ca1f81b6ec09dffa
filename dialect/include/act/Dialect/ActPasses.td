//===- ActPasses.td - passes over the act dialect ------------------------===//

#ifndef ACT_PASSES_TD
#define ACT_PASSES_TD

include "mlir/Pass/PassBase.td"

def ActExpand : Pass<"act-expand", "mlir::ModuleOp"> {
  let summary = "Expand act primitives into arith/math/memref in stable forms";
  let description = [{
    Rewrites every act primitive inside `act.activation` bodies into `arith`, `math`
    and (for `act.pwl`) `memref.load` ops, choosing forms that do not overflow:
    `sigmoid` from `exp(-|x|)`, `softplus` as `max(x,0) + log1p(exp(-|x|))`,
    `smooth_max`/`logsumexp` with the maximum subtracted. After this pass a body
    contains only ops every target can lower.
  }];
  let options = [
    Option<"singlePrecision", "single-precision", "bool", "false",
           "the bodies will run in float32 (or narrower) only: series such as erfcx "
           "keep just the terms float needs">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect"];
}

def ActStabilize : Pass<"act-stabilize", "mlir::ModuleOp"> {
  let summary = "Rewrite numerically fragile spellings into stable primitives";
  let description = [{
    Rewrites patterns in `act.activation` bodies that overflow, underflow or cancel
    into the act primitives (whose expansions are stable) or into `math` ops made
    for them:

    | pattern                                   | becomes                  | name          |
    |-------------------------------------------|--------------------------|---------------|
    | `log(1 + exp(z))`, `log1p(exp(z))`        | `softplus(z)`            | `softplus`    |
    | `log(sigmoid(z))`                         | `-softplus(-z)`          | `log_sigmoid` |
    | `log(exp(a) + exp(b))`                    | `logsumexp(a, b; 1)`     | `logsumexp`   |
    | `exp(a) / (exp(a) + exp(b))`              | `sigmoid(a - b)`         | `sigmoid`     |
    | `exp(z) / (1 + exp(z))`                   | `sigmoid(z)`             | `sigmoid`     |
    | `v / (1 + exp(-z))`                       | `v * sigmoid(z)`         | `sigmoid`     |
    | `1 - sigmoid(z)`                          | `sigmoid(-z)`            | `sigmoid`     |
    | `softplus(z) - z`                         | `softplus(-z)`           | `softplus`    |
    | `(exp(z) - exp(-z)) / (exp(z) + exp(-z))` | `tanh(z)`                | `tanh`        |
    | `exp(x) - 1`, `1 - exp(x)`                | `expm1(x)`, `-expm1(x)`  | `expm1`       |
    | `log(1 + x)`                              | `log1p(x)`               | `log1p`       |
    | `1 + sin(x)` (any signs; also cos)        | `cos^2 / (1 - sin)` where it cancels | `one_plus_trig` |
    | `sqrt(u*u + v*v)`, `sqrt(u*u + c)`        | hypot, scaled by the larger | `hypot`      |

    Sums match in either operand order. `v * sigmoid(g)` is left to canonicalisation,
    which makes it an `act.gate`. Each activation on which a rewrite fired gets an
    `act.stabilized` attribute listing the names that fired (in the order of the
    table). The pipeline runs this pass before canonicalisation and before
    `act-autodiff`, so derivative bodies are taken from the stable forms; act-autodiff
    applies the same rewrites to each derivative body it builds.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def ActAutodiff : Pass<"act-autodiff", "mlir::ModuleOp"> {
  let summary = "Reverse-mode derivatives of act.activation bodies";
  let description = [{
    For every activation `@f` (not itself a derivative) adds `@f__grad` with the same
    arguments. With `order=1` its body yields `f`, then df/d(input) for every input,
    then for every learnable parameter in order either df/dp (scalar-valued shapes)
    or, for a table, (knot index, weight) pairs saying which entries the element's
    gradient goes to (`act.table_pairs` gives the pair count per parameter).
    `const` parameters get nothing. With `order=K > 1` it yields
    `f, f', ..., f^(K)` with respect to the main input, by applying reverse mode to
    its own output. Each op contributes through its DifferentiableOpInterface rule;
    the adjoint flowing into an untaken select branch is exactly zero, and products
    with a zero adjoint are zero even where the partial is inf or NaN. An op with
    no rule is an error naming the op.
  }];
  let options = [
    Option<"order", "order", "unsigned", "1", "derivative order">,
    Option<"guardZeroAdjoints", "guard-zero-adjoints", "bool", "true",
           "make adjoint * partial exactly 0 when the adjoint is 0 (no NaN leaks); "
           "off only for printing derivatives as formulas">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect"];
}

def ActParamsToInputs : Pass<"act-params-to-inputs", "mlir::ModuleOp"> {
  let summary = "Turn parameters with a value per element into inputs";
  let description = [{
    For tensors whose extent is 1 along the dimensions `unit-dims` names (letters of
    `NCS`), some parameters have one value per element: `[N,C]` ones where S = 1
    (meta-ACON's beta on a dense layer's {N, C, 1}), `[N]` ones where also C = 1,
    `[C]` ones where also N = 1. Their gradients then need no reduction: each entry
    is one element's product, like an input's gradient. This pass turns every such
    learnable parameter that is not a table into an input, appended after the
    activation's own inputs in parameter order (the body's arguments and the
    attributes follow). The runtime builds its kernels for such shapes from a copy
    of the activation so rewritten, so their backward kernels store those gradients
    as they store an input's, instead of summing each into an accumulator of its
    own. Derivative bodies (`act.grad_of`) are left alone: run it before
    `act-autodiff`.
  }];
  let options = [
    Option<"unitDims", "unit-dims", "std::string", "\"\"",
           "the tensor dimensions of extent 1 (letters of NCS); without S none moves">,
  ];
}

#endif // ACT_PASSES_TD

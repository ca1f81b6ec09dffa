// RUN: act-opt %s -act-stabilize -split-input-file | FileCheck %s
// act-stabilize rewrites fragile spellings into the stable primitives and records
// which rewrites fired on each activation in `act.stabilized`.

// log(1 + exp(z)) -> softplus(z), either operand order.
// CHECK-LABEL: act.activation @softplus
// CHECK-SAME: act.stabilized = ["softplus"]
// CHECK: %[[A:.*]] = act.softplus %arg0
// CHECK: %[[B:.*]] = act.softplus %arg0
// CHECK: arith.addf %[[A]], %[[B]]
// CHECK-NOT: math.log
act.activation @softplus attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %e = math.exp %x : f64
  %s = arith.addf %one, %e : f64
  %l = math.log %s : f64
  %s2 = arith.addf %e, %one : f64
  %l2 = math.log %s2 : f64
  %r = arith.addf %l, %l2 : f64
  act.yield %r : f64
}

// -----

// log1p(exp(z)) -> softplus(z)
// CHECK-LABEL: act.activation @log1p_exp
// CHECK-SAME: act.stabilized = ["softplus"]
// CHECK: %[[A:.*]] = act.softplus %arg0
// CHECK: act.yield %[[A]]
act.activation @log1p_exp attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %e = math.exp %x : f64
  %l = math.log1p %e : f64
  act.yield %l : f64
}

// -----

// log(sigmoid(z)) -> -softplus(-z)
// CHECK-LABEL: act.activation @log_sigmoid
// CHECK-SAME: act.stabilized = ["log_sigmoid"]
// CHECK: %[[N:.*]] = arith.negf %arg0
// CHECK: %[[S:.*]] = act.softplus %[[N]]
// CHECK: %[[R:.*]] = arith.negf %[[S]]
// CHECK: act.yield %[[R]]
act.activation @log_sigmoid attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %s = act.sigmoid %x : f64
  %l = math.log %s : f64
  act.yield %l : f64
}

// -----

// exp(a) / (exp(a) + exp(b)) -> sigmoid(a - b); also with exp(a) second.
// CHECK-LABEL: act.activation @softmax2
// CHECK-SAME: act.stabilized = ["sigmoid"]
// CHECK: %[[D:.*]] = arith.subf %arg0, %arg1
// CHECK: %[[S:.*]] = act.sigmoid %[[D]]
// CHECK: %[[D2:.*]] = arith.subf %arg1, %arg0
// CHECK: %[[S2:.*]] = act.sigmoid %[[D2]]
// CHECK: arith.addf %[[S]], %[[S2]]
// CHECK-NOT: arith.divf
act.activation @softmax2 attributes {input_names = ["a", "b"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%a: f64, %b: f64):
  %ea = math.exp %a : f64
  %ea2 = math.exp %a : f64
  %eb = math.exp %b : f64
  %s = arith.addf %ea2, %eb : f64
  %q = arith.divf %ea, %s : f64
  %eb2 = math.exp %b : f64
  %q2 = arith.divf %eb2, %s : f64
  %r = arith.addf %q, %q2 : f64
  act.yield %r : f64
}

// -----

// exp(z) / (1 + exp(z)) -> sigmoid(z)
// CHECK-LABEL: act.activation @exp_over_one_plus_exp
// CHECK-SAME: act.stabilized = ["sigmoid"]
// CHECK: %[[S:.*]] = act.sigmoid %arg0
// CHECK: act.yield %[[S]]
act.activation @exp_over_one_plus_exp attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %e = math.exp %x : f64
  %d = arith.addf %e, %one : f64
  %q = arith.divf %e, %d : f64
  act.yield %q : f64
}

// -----

// 1 / (1 + exp(-z)) -> sigmoid(z) (the double negation is not built)
// CHECK-LABEL: act.activation @logistic
// CHECK-SAME: act.stabilized = ["sigmoid"]
// CHECK: %[[S:.*]] = act.sigmoid %arg0
// CHECK: act.yield %[[S]]
act.activation @logistic attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %n = arith.negf %x : f64
  %e = math.exp %n : f64
  %d = arith.addf %one, %e : f64
  %q = arith.divf %one, %d : f64
  act.yield %q : f64
}

// -----

// v / (1 + exp(-b x)) -> v * sigmoid(b x), which canonicalisation makes a gate.
// CHECK-LABEL: act.activation @swish_div
// CHECK-SAME: act.stabilized = ["sigmoid"]
// CHECK: %[[Z:.*]] = arith.mulf %arg1, %arg0
// CHECK: %[[S:.*]] = act.sigmoid %[[Z]]
// CHECK: %[[R:.*]] = arith.mulf %arg0, %[[S]]
// CHECK: act.yield %[[R]]
act.activation @swish_div attributes {input_names = ["x"], param_names = ["b"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %b: f64):
  %one = arith.constant 1.0 : f64
  %z = arith.mulf %b, %x : f64
  %n = arith.negf %z : f64
  %e = math.exp %n : f64
  %d = arith.addf %one, %e : f64
  %q = arith.divf %x, %d : f64
  act.yield %q : f64
}

// -----

// 1 - sigmoid(z) -> sigmoid(-z)
// CHECK-LABEL: act.activation @one_minus_sigmoid
// CHECK-SAME: act.stabilized = ["sigmoid"]
// CHECK: %[[N:.*]] = arith.negf %arg0
// CHECK: %[[S:.*]] = act.sigmoid %[[N]]
// CHECK: act.yield %[[S]]
act.activation @one_minus_sigmoid attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %s = act.sigmoid %x : f64
  %r = arith.subf %one, %s : f64
  act.yield %r : f64
}

// -----

// exp(x) - 1 -> expm1(x); 1 - exp(x) -> -expm1(x); exp(x) + (-1) -> expm1(x)
// CHECK-LABEL: act.activation @expm1
// CHECK-SAME: act.stabilized = ["expm1"]
// CHECK: %[[A:.*]] = math.expm1 %arg0
// CHECK: %[[B:.*]] = math.expm1 %arg0
// CHECK: %[[NB:.*]] = arith.negf %[[B]]
// CHECK: %[[C:.*]] = math.expm1 %arg0
// CHECK-NOT: math.exp %
act.activation @expm1 attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %m1 = arith.constant -1.0 : f64
  %e = math.exp %x : f64
  %a = arith.subf %e, %one : f64
  %b = arith.subf %one, %e : f64
  %c = arith.addf %m1, %e : f64
  %ab = arith.addf %a, %b : f64
  %r = arith.addf %ab, %c : f64
  act.yield %r : f64
}

// -----

// log(1 + x) -> log1p(x)
// CHECK-LABEL: act.activation @log1p
// CHECK-SAME: act.stabilized = ["log1p"]
// CHECK: %[[A:.*]] = math.log1p %arg0
// CHECK: act.yield %[[A]]
act.activation @log1p attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %s = arith.addf %x, %one : f64
  %l = math.log %s : f64
  act.yield %l : f64
}

// -----

// log(exp(a) + exp(b)) -> logsumexp(a, b; 1)
// CHECK-LABEL: act.activation @lse
// CHECK-SAME: act.stabilized = ["logsumexp"]
// CHECK: %[[ONE:.*]] = arith.constant 1.0
// CHECK: %[[L:.*]] = act.logsumexp %arg0, %arg1 beta %[[ONE]]
// CHECK: act.yield %[[L]]
act.activation @lse attributes {input_names = ["a", "b"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%a: f64, %b: f64):
  %ea = math.exp %a : f64
  %eb = math.exp %b : f64
  %s = arith.addf %ea, %eb : f64
  %l = math.log %s : f64
  act.yield %l : f64
}

// -----

// Several rewrites on one activation are all listed (in a fixed order);
// an activation with nothing fragile gets no attribute.
// CHECK-LABEL: act.activation @two
// CHECK-SAME: act.stabilized = ["softplus", "expm1"]
// CHECK-LABEL: act.activation @plain
// CHECK-NOT: act.stabilized
// CHECK: act.yield
act.activation @two attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %e = math.exp %x : f64
  %s = arith.addf %one, %e : f64
  %l = math.log %s : f64
  %m = arith.subf %e, %one : f64
  %r = arith.mulf %l, %m : f64
  act.yield %r : f64
}
act.activation @plain attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %e = math.exp %x : f64
  %l = math.log %e : f64
  act.yield %l : f64
}

// -----

// 1 + sin(x) cancels where sin(x) is near -1: there cos(x)^2 / (1 - sin(x)); the
// sums are rebuilt as fma so the pattern does not match its own output.
// -1 - sin(x) (as autodiff writes cos(x)' - 1) is -(1 + sin(x)).
// CHECK-LABEL: act.activation @one_plus_sin
// CHECK-SAME: act.stabilized = ["one_plus_trig"]
// CHECK: %[[S:.*]] = math.sin %arg0
// CHECK: %[[C:.*]] = math.cos %arg0
// CHECK: %[[D:.*]] = math.fma %[[S]]
// CHECK: %[[C2:.*]] = arith.mulf %[[C]], %[[C]]
// CHECK: arith.divf %[[C2]]
// CHECK: arith.cmpf olt, %[[S]]
// CHECK: %[[R:.*]] = arith.select
// CHECK: arith.negf
// CHECK-NOT: arith.addf
act.activation @one_plus_sin attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %m1 = arith.constant -1.0 : f64
  %s = math.sin %x : f64
  %a = arith.addf %one, %s : f64
  %n = arith.negf %s : f64
  %b = arith.addf %n, %m1 : f64
  %r = arith.mulf %a, %b : f64
  act.yield %r : f64
}

// -----

// sqrt(x*x + 1) -> hypot(x, 1) = |x| sqrt(1 + (1/x)^2) or sqrt(1 + x^2) by which of
// |x| and 1 is larger (1 + r^2 as fma, not matched again); sqrt(a*a + b*b) likewise.
// CHECK-LABEL: act.activation @hypot
// CHECK-SAME: act.stabilized = ["hypot"]
// CHECK-DAG: math.absf %arg0
// CHECK-DAG: arith.cmpf ogt
// CHECK-DAG: math.fma
// CHECK-DAG: math.sqrt
// CHECK: arith.select
// CHECK-NOT: arith.addf
act.activation @hypot attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %sq = arith.mulf %x, %x : f64
  %s = arith.addf %sq, %one : f64
  %r = math.sqrt %s : f64
  act.yield %r : f64
}

// -----

// (exp(z) - exp(-z)) / (exp(z) + exp(-z)) -> tanh(z); softplus(z) - z -> softplus(-z)
// CHECK-LABEL: act.activation @tanh_exp
// CHECK-SAME: act.stabilized = ["softplus", "tanh"]
// CHECK: %[[T:.*]] = math.tanh %arg0
// CHECK: %[[N:.*]] = arith.negf %arg0
// CHECK: %[[S:.*]] = act.softplus %[[N]]
// CHECK: arith.addf %[[T]], %[[S]]
act.activation @tanh_exp attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %n = arith.negf %x : f64
  %e = math.exp %x : f64
  %en = math.exp %n : f64
  %d = arith.subf %e, %en : f64
  %s = arith.addf %en, %e : f64
  %t = arith.divf %d, %s : f64
  %sp = act.softplus %x : f64
  %q = arith.subf %sp, %x : f64
  %r = arith.addf %t, %q : f64
  act.yield %r : f64
}

// RUN: act-opt %s -canonicalize -split-input-file | FileCheck %s

// Constants fold through act ops; x*1 and x+(-0) fold in arith.
// CHECK-LABEL: act.activation @fold_constants
// CHECK-NOT: act.sigmoid
// CHECK: %[[C:.*]] = arith.constant 0.7310585786300049 : f64
// CHECK: act.yield %[[C]]
act.activation @fold_constants attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %one = arith.constant 1.0 : f64
  %0 = act.sigmoid %one : f64
  %1 = arith.mulf %0, %one : f64
  act.yield %1 : f64
}

// -----

// smooth_max / smooth_min of identical operands is that operand for any beta.
// CHECK-LABEL: act.activation @smooth_max_same
// CHECK-NOT: act.smooth_max
// CHECK-NOT: act.smooth_min
// CHECK: act.yield %arg0
act.activation @smooth_max_same attributes {input_names = ["x"], param_names = ["b"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %b: f64):
  %0 = act.smooth_max %x, %x beta %b : f64
  %1 = act.smooth_min %0, %0, %0 beta %b : f64
  act.yield %1 : f64
}

// -----

// logsumexp(a, a) = a + log(2)/beta, so it must not fold to a.
// CHECK-LABEL: act.activation @logsumexp_same
// CHECK: act.logsumexp
act.activation @logsumexp_same attributes {input_names = ["x"], param_names = ["b"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %b: f64):
  %0 = act.logsumexp %x, %x beta %b : f64
  act.yield %0 : f64
}

// -----

// relu(relu(x)) = relu(x); sign(sign(x)) = sign(x); x + (-0) = x; x * 1 = x.
// CHECK-LABEL: act.activation @idempotent
// CHECK: %[[R:.*]] = act.relu %arg0
// CHECK-NOT: act.relu
// CHECK: act.yield %[[R]]
act.activation @idempotent attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %mz = arith.constant -0.0 : f64
  %one = arith.constant 1.0 : f64
  %0 = act.relu %x : f64
  %1 = act.relu %0 : f64
  %2 = arith.addf %1, %mz : f64
  %3 = arith.mulf %2, %one : f64
  act.yield %3 : f64
}

// -----

// Constant smooth_max, clamp and gate fold to their values.
// CHECK-LABEL: act.activation @fold_families
// gate(2, 0) = 2 sigmoid(0) = 1; smooth_max(2, 0; beta = 0) is the mean, 1.
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.000000e+00 : f64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-DAG: %[[FOUR:.*]] = arith.constant 4.000000e+00 : f64
// CHECK-NOT: act.{{[a-z_]+}} %
// CHECK: act.yield %[[TWO]], %[[ONE]], %[[ONE]], %[[FOUR]]
act.activation @fold_families attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %c0 = arith.constant 0.0 : f64
  %c2 = arith.constant 2.0 : f64
  %c5 = arith.constant 5.0 : f64
  %0 = act.clamp %c5, %c0, %c2 : f64
  %1 = act.gate %0, %c0 : f64
  %2 = act.smooth_max %c2, %c0 beta %c0 : f64
  %3 = arith.addf %0, %1 : f64
  %4 = arith.addf %3, %2 : f64
  act.yield %0, %1, %2, %4 : f64, f64, f64, f64
}

// -----

// v * sigmoid(g) in either order becomes act.gate(v, g).
// CHECK-LABEL: act.activation @gate_from_mul
// CHECK: %[[G1:.*]] = act.gate %arg0, %arg1 : f64
// CHECK: %[[G2:.*]] = act.gate %arg0, %arg0 : f64
// CHECK-NOT: act.sigmoid
act.activation @gate_from_mul attributes {input_names = ["x"], param_names = ["b"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %b: f64):
  %0 = act.sigmoid %b : f64
  %1 = arith.mulf %x, %0 : f64
  %2 = act.sigmoid %x : f64
  %3 = arith.mulf %2, %x : f64
  %4 = arith.addf %1, %3 : f64
  act.yield %4 : f64
}

// -----

// safe_mul(0, b) = 0 even for b = inf; safe_mul(a, 1) = a.
// CHECK-LABEL: act.activation @safe_mul
// CHECK: %[[Z:.*]] = arith.constant 0.000000e+00 : f64
// CHECK: act.yield %[[Z]], %arg0 : f64, f64
act.activation @safe_mul attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %zero = arith.constant 0.0 : f64
  %one = arith.constant 1.0 : f64
  %inf = arith.constant 0x7FF0000000000000 : f64
  %0 = act.safe_mul %zero, %inf : f64
  %1 = act.safe_mul %x, %one : f64
  act.yield %0, %1 : f64, f64
}

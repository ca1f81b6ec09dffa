// RUN: act-opt %s -act-expand | FileCheck %s
// act-expand writes each primitive in a stable form.

// sigmoid from e = exp(-|x|): r = 1/(1+e) for x >= 0, e/(1+e) otherwise (e r with a
// Newton correction): one division.
// CHECK-LABEL: act.activation @sigmoid
// CHECK: %[[A:.*]] = math.absf %arg0
// CHECK: %[[N:.*]] = arith.negf %[[A]]
// CHECK: %[[E:.*]] = math.exp %[[N]]
// CHECK: %[[D:.*]] = arith.addf %[[E]]
// CHECK: %[[R:.*]] = arith.divf %{{.*}}, %[[D]]
// CHECK: %[[Q:.*]] = arith.mulf %[[E]], %[[R]]
// CHECK: math.fma
// CHECK-NOT: arith.divf
// CHECK: arith.cmpf oge, %arg0
// CHECK: arith.select
// CHECK-NOT: act.sigmoid
act.activation @sigmoid attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.sigmoid %x : f64
  act.yield %0 : f64
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|))
// CHECK-LABEL: act.activation @softplus
// CHECK-DAG: %[[M:.*]] = arith.maximumf %arg0
// CHECK-DAG: %[[A:.*]] = math.absf %arg0
// CHECK-DAG: %[[E:.*]] = math.exp
// CHECK-DAG: %[[L:.*]] = math.log1p %[[E]]
// CHECK: arith.addf %[[M]], %[[L]]
act.activation @softplus attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.softplus %x : f64
  act.yield %0 : f64
}

// Two-operand smooth_max: (a - b) sigmoid(beta (a - b)) + b, no exp of beta*a.
// CHECK-LABEL: act.activation @smooth_max2
// CHECK: %[[D:.*]] = arith.subf %arg0, %arg1
// CHECK: arith.mulf %arg2, %[[D]]
// CHECK-NOT: act.smooth_max
act.activation @smooth_max2 attributes {input_names = ["a", "b"], param_names = ["beta"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%a: f64, %b: f64, %beta: f64):
  %0 = act.smooth_max %a, %b beta %beta : f64
  act.yield %0 : f64
}

// Three operands: the maximum of beta*ai is subtracted before exp.
// CHECK-LABEL: act.activation @smooth_max3
// CHECK: arith.maximumf
// CHECK: arith.maximumf
// CHECK: arith.subf
// CHECK: math.exp
act.activation @smooth_max3 attributes {input_names = ["a", "b", "c"], param_names = ["beta"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%a: f64, %b: f64, %c: f64, %beta: f64):
  %0 = act.smooth_max %a, %b, %c beta %beta : f64
  act.yield %0 : f64
}

// pwl: segment index clamped with NaN-ignoring maxnum/minnum, then table loads.
// CHECK-LABEL: act.activation @pwl
// CHECK: math.floor
// CHECK: arith.maxnumf
// CHECK: arith.minnumf
// CHECK-DAG: arith.fptosi
// CHECK-DAG: memref.load %arg1
// CHECK-DAG: arith.cmpf olt, %arg0, %arg2
// CHECK-DAG: arith.cmpf ogt, %arg0, %arg3
// CHECK: act.yield
act.activation @pwl attributes {input_names = ["x"], param_names = ["y", "bl", "br", "kl", "kr"],
    param_shapes = ["C,5", "", "", "", ""], param_inits = [array<f64>, array<f64>, array<f64>,
    array<f64>, array<f64>], param_const = array<i1: false, false, false, false, false>} {
^bb0(%x: f64, %y: memref<5xf64>, %bl: f64, %br: f64, %kl: f64, %kr: f64):
  %0 = act.pwl %x, %y, %bl, %br, %kl, %kr : f64, memref<5xf64>
  act.yield %0 : f64
}

// gate expands through sigmoid.
// CHECK-LABEL: act.activation @gate
// CHECK: math.exp
// CHECK-NOT: act.gate
// CHECK-NOT: act.sigmoid
act.activation @gate attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.gate %x, %x : f64
  act.yield %0 : f64
}

// -----
// tanh(softplus(x)) (Mish) canonicalises to act.tanh_softplus, which expands to one
// exp and one division.
// RUN: act-opt %s -canonicalize -split-input-file | FileCheck %s --check-prefix=TSP
// TSP-LABEL: act.activation @mish
// TSP: %[[T:.*]] = act.tanh_softplus %arg0 : f64
// TSP: arith.mulf %arg0, %[[T]]
act.activation @mish attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.softplus %x : f64
  %1 = math.tanh %0 : f64
  %2 = arith.mulf %x, %1 : f64
  act.yield %2 : f64
}

// smooth_max(p1 x, p2 x) starts from (p1 - p2) x, not p1 x - p2 x: the difference of
// two parameters (once per row in a kernel) times x, one rounding. A difference of
// products of the input with itself or with a non-parameter is left alone.
// CHECK-LABEL: act.activation @acon
// CHECK: %[[D:.*]] = arith.subf %arg1, %arg2
// CHECK: arith.mulf %[[D]], %arg0
// CHECK-NOT: arith.subf %{{.*}}, %{{.*}} : f64
// CHECK: act.yield
act.activation @acon attributes {input_names = ["x"], param_names = ["p1", "p2", "beta"],
    param_shapes = ["C", "C", "C"], param_inits = [array<f64: 1.0>, array<f64: 0.0>, array<f64: 1.0>],
    param_const = array<i1: false, false, false>} {
^bb0(%x: f64, %p1: f64, %p2: f64, %beta: f64):
  %a = arith.mulf %p1, %x : f64
  %b = arith.mulf %x, %p2 : f64
  %0 = act.smooth_max %a, %b beta %beta : f64
  act.yield %0 : f64
}

// CHECK-LABEL: act.activation @not_parameters
// CHECK: %[[A:.*]] = arith.mulf %arg0, %arg0
// CHECK: %[[B:.*]] = arith.mulf %arg1, %arg0
// CHECK: arith.subf %[[A]], %[[B]]
act.activation @not_parameters attributes {input_names = ["x"], param_names = ["p"],
    param_shapes = [""], param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %p: f64):
  %a = arith.mulf %x, %x : f64
  %b = arith.mulf %p, %x : f64
  %0 = arith.subf %a, %b : f64
  act.yield %0 : f64
}

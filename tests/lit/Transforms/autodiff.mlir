// RUN: act-opt %s -act-autodiff -canonicalize -cse -split-input-file -verify-diagnostics | FileCheck %s

// d/dx (b x) k = b k, d/db = x k; k is const and gets no derivative. The body is
// the forward body plus the adjoints; each chain-rule product is an act.safe_mul
// (exactly 0 where the adjoint is 0).
// CHECK-LABEL: act.activation @mul__grad
// CHECK-SAME: act.grad_of = "mul"
// CHECK-SAME: act.table_pairs = array<i64: 0>
// CHECK: ^bb0(%[[X:.*]]: f64, %[[B:.*]]: f64, %[[K:.*]]: f64):
// CHECK: %[[P:.*]] = arith.mulf %[[B]], %[[X]] : f64
// CHECK: %[[F:.*]] = arith.mulf %[[P]], %[[K]] : f64
// CHECK-DAG: %[[KX:.*]] = act.safe_mul %[[K]], %[[X]] : f64
// CHECK-DAG: %[[KB:.*]] = act.safe_mul %[[K]], %[[B]] : f64
// CHECK: act.yield %[[F]], %[[KB]], %[[KX]] : f64, f64, f64
act.activation @mul attributes {input_names = ["x"], param_names = ["b", "k"],
    param_shapes = ["", ""], param_inits = [array<f64: 1.0>, array<f64: 2.0>],
    param_const = array<i1: false, true>} {
^bb0(%x: f64, %b: f64, %k: f64):
  %0 = arith.mulf %b, %x : f64
  %1 = arith.mulf %0, %k : f64
  act.yield %1 : f64
}

// -----

// select: the untaken branch's adjoint is exactly zero (no NaN leaks).
// CHECK-LABEL: act.activation @elu__grad
// CHECK: %[[C:.*]] = arith.cmpf ogt
// CHECK: arith.select %[[C]]
// CHECK: act.yield
act.activation @elu attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %zero = arith.constant 0.0 : f64
  %one = arith.constant 1.0 : f64
  %c = arith.cmpf ogt, %x, %zero : f64
  %e = math.exp %x : f64
  %em1 = arith.subf %e, %one : f64
  %r = arith.select %c, %x, %em1 : f64
  act.yield %r : f64
}

// -----

// A table parameter's gradient is (knot index, weight) pairs: 2 per pwl use.
// CHECK-LABEL: act.activation @pwl__grad
// CHECK-SAME: act.table_pairs = array<i64: 2, 0, 0, 0, 0>
// CHECK: act.yield %{{.*}} : f64, f64, index, f64, index, f64, f64, f64, f64, f64
act.activation @pwl attributes {input_names = ["x"], param_names = ["y", "bl", "br", "kl", "kr"],
    param_shapes = ["C,5", "", "", "", ""], param_inits = [array<f64>, array<f64>, array<f64>,
    array<f64>, array<f64>], param_const = array<i1: false, false, false, false, false>} {
^bb0(%x: f64, %y: memref<5xf64>, %bl: f64, %br: f64, %kl: f64, %kr: f64):
  %0 = act.pwl %x, %y, %bl, %br, %kl, %kr : f64, memref<5xf64>
  act.yield %0 : f64
}

// -----

// An op without a derivative rule is an error naming it.
act.activation @ceil attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  // expected-error @+1 {{'math.ceil' op has no derivative rule}}
  %0 = math.ceil %x : f64
  act.yield %0 : f64
}

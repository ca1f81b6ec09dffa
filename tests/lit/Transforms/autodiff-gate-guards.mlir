// RUN: act-opt %s -act-autodiff -canonicalize -cse -act-expand="single-precision=1" -cse | FileCheck %s

// ACON-C's derivative: every inf * 0 guard is the one-compare form (sigmoid, the
// saturated q = z s t, d (d s t)); none needs the two-compare NaN test.
// d (d s t) reuses the test of d s t (g = s t): z g, d g and d (d g) all select
// on g != 0, so the derivative has four nonzero tests (the forward's gate, g and the
// two weights' adjoints), not five.
// CHECK-LABEL: act.activation @acon_c__grad
// CHECK-NOT: arith.cmpf uno
// CHECK: arith.cmpf une
// CHECK: %[[NZ:.*]] = arith.cmpf une, %[[G:.*]], %{{.*}} : f32
// CHECK: arith.select %[[NZ]]
// CHECK: %[[DG:.*]] = arith.mulf %[[D:.*]], %[[G]] : f32
// CHECK: %[[SDG:.*]] = arith.select %[[NZ]], %[[DG]]
// CHECK: %[[DDG:.*]] = arith.mulf %[[D]], %[[SDG]] : f32
// CHECK: arith.select %[[NZ]], %[[DDG]]
// CHECK-COUNT-2: arith.cmpf une
// CHECK-NOT: arith.cmpf
// CHECK: act.yield
act.activation @acon_c attributes {input_names = ["x"], param_names = ["p1", "p2", "beta"],
    param_shapes = ["C", "C", "C"], param_inits = [array<f64: 1.0>, array<f64: 0.0>, array<f64: 1.0>],
    param_const = array<i1: false, false, false>} {
^bb0(%x: f32, %p1: f32, %p2: f32, %beta: f32):
  %a = arith.mulf %p1, %x : f32
  %b = arith.mulf %p2, %x : f32
  %0 = act.smooth_max %a, %b beta %beta : f32
  act.yield %0 : f32
}

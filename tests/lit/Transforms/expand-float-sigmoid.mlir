// RUN: act-opt %s -act-expand="single-precision=1" -cse | FileCheck %s

// Float derivative bodies: sigmoid(z) = c/d and sigmoid(-z) = E/d with
// w = min(-z, 104), c = 2^-64 where w > 0 (else 1), E = e^w c, d = c + E: one exp, no branch on z,
// no Newton step, and both signs of z share the exp and the reciprocal 1/d.
// CHECK-LABEL: act.activation @sigmoid_pair
// CHECK: %[[W:.*]] = arith.negf %arg0
// CHECK: %[[BIG:.*]] = arith.cmpf ogt, %[[W]]
// CHECK: %[[WC:.*]] = arith.select %[[BIG]], %{{.*}}, %[[W]]
// CHECK: %[[POS:.*]] = arith.cmpf ogt, %[[WC]]
// CHECK: %[[C:.*]] = arith.select %[[POS]]
// CHECK: %[[X:.*]] = math.exp %[[WC]]
// CHECK: %[[E:.*]] = arith.mulf %[[X]], %[[C]]
// CHECK: %[[D:.*]] = arith.addf %[[C]], %[[E]]
// CHECK: %[[R:.*]] = arith.divf %{{.*}}, %[[D]]
// CHECK-DAG: arith.mulf %[[C]], %[[R]]
// CHECK-DAG: arith.mulf %[[E]], %[[R]]
// CHECK-NOT: arith.divf
// CHECK-NOT: math.exp
// CHECK-NOT: math.fma
// CHECK-NOT: act.sigmoid
act.activation @sigmoid_pair attributes {act.grad_of = "f", input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f32):
  %n = arith.negf %x : f32
  %0 = act.sigmoid %x : f32
  %1 = act.sigmoid %n : f32
  act.yield %0, %1 : f32, f32
}

// Forward bodies need sigmoid(z) alone: c = 2^-64 throughout, no compare for it.
// CHECK-LABEL: act.activation @sigmoid_forward
// CHECK: arith.cmpf ogt
// CHECK-NOT: arith.cmpf
// CHECK: math.exp
// CHECK: arith.divf
act.activation @sigmoid_forward attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f32):
  %0 = act.sigmoid %x : f32
  act.yield %0 : f32
}

// A gate whose gate argument is NaN wherever its value is (swish): the inf * 0 rule
// needs only sigmoid == 0, one compare.
// CHECK-LABEL: act.activation @swish
// CHECK: %[[P:.*]] = arith.mulf %arg0, %{{.*}}
// CHECK: %[[NZ:.*]] = arith.cmpf une, %[[S:.*]], %{{.*}}
// CHECK: arith.select %[[NZ]], %[[P]], %{{.*}}
// CHECK-NOT: arith.cmpf uno
act.activation @swish attributes {input_names = ["x"], param_names = ["beta"], param_shapes = [""],
    param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f32, %beta: f32):
  %z = arith.mulf %beta, %x : f32
  %0 = act.gate %x, %z : f32
  act.yield %0 : f32
}

// Otherwise (the gate does not depend on the value) both factors are checked.
// CHECK-LABEL: act.activation @gate_other
// CHECK-DAG: arith.cmpf uno
// CHECK-DAG: arith.cmpf ord
act.activation @gate_other attributes {input_names = ["x", "t"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f32, %t: f32):
  %0 = act.gate %x, %t : f32
  act.yield %0 : f32
}

// ACON's derivative gate (1 + z sigmoid(-z)) sigmoid(z): the value is NaN only where z
// is (a finite constant plus a gate of z), so one compare suffices here too.
// CHECK-LABEL: act.activation @acon_partial
// CHECK-NOT: arith.cmpf uno
// CHECK: act.yield
act.activation @acon_partial attributes {act.grad_of = "f", input_names = ["z"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%z: f32):
  %one = arith.constant 1.0 : f32
  %n = arith.negf %z : f32
  %g = act.gate %z, %n : f32
  %v = arith.addf %g, %one : f32
  %0 = act.gate %v, %z : f32
  act.yield %0 : f32
}


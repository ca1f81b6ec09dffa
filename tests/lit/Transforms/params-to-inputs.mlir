// RUN: act-opt %s -act-params-to-inputs="unit-dims=S" | FileCheck %s --check-prefix=S
// RUN: act-opt %s -act-params-to-inputs="unit-dims=CS" | FileCheck %s --check-prefix=CS
// RUN: act-opt %s -act-params-to-inputs="unit-dims=NS" | FileCheck %s --check-prefix=NS
// RUN: act-opt %s -act-params-to-inputs="unit-dims=NC" | FileCheck %s --check-prefix=NONE
// RUN: not act-opt %s -act-params-to-inputs="unit-dims=X" 2>&1 | FileCheck %s --check-prefix=BAD

// On {N, C, 1} only the [N,C] parameter has a value per element; on {N, 1, 1} the
// [N] one too, on {1, C, 1} the [C] ones. Const parameters and tables stay.
// S-LABEL: act.activation @meta
// S-SAME: input_names = ["x", "beta"]
// S-SAME: param_names = ["p1", "t", "k", "tab"]
// S-SAME: param_shapes = ["C", "N", "C", "C,3"]
// S: ^bb0(%[[X:.*]]: f64, %[[BETA:.*]]: f64, %[[P1:.*]]: f64, %[[T:.*]]: f64, %[[K:.*]]: f64, %[[TAB:.*]]: memref<3xf64>):
// S: arith.mulf %[[P1]], %[[X]]
// S: arith.mulf %[[T]], %[[BETA]]

// CS-LABEL: act.activation @meta
// CS-SAME: input_names = ["x", "t", "beta"]
// CS-SAME: param_names = ["p1", "k", "tab"]
// CS: ^bb0(%[[X:.*]]: f64, %[[T:.*]]: f64, %[[BETA:.*]]: f64, %[[P1:.*]]: f64,

// NS-LABEL: act.activation @meta
// NS-SAME: input_names = ["x", "p1", "beta"]
// NS-SAME: param_const = array<i1: false, true, false>
// NS-SAME: param_inits = [array<f64: 2.000000e+00>, array<f64: 3.000000e+00>, array<f64: 0.000000e+00, 1.000000e+00, 2.000000e+00>]
// NS-SAME: param_names = ["t", "k", "tab"]

// NONE-LABEL: act.activation @meta
// NONE-SAME: input_names = ["x"]
// BAD: unit-dims takes letters of NCS, got 'X'
act.activation @meta attributes {input_names = ["x"],
    param_names = ["p1", "t", "beta", "k", "tab"],
    param_shapes = ["C", "N", "N,C", "C", "C,3"],
    param_inits = [array<f64: 1.0>, array<f64: 2.0>, array<f64>, array<f64: 3.0>, array<f64: 0.0, 1.0, 2.0>],
    param_const = array<i1: false, false, false, true, false>} {
^bb0(%x: f64, %p1: f64, %t: f64, %beta: f64, %k: f64, %tab: memref<3xf64>):
  %a = arith.mulf %p1, %x : f64
  %b = arith.mulf %t, %beta : f64
  %c = arith.addf %a, %b : f64
  %d = arith.mulf %c, %k : f64
  act.yield %d : f64
}

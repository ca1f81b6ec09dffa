// gelu and its derivative (act.gelu_deriv, which autodiff writes) in float kernels:
// |x| clamped to 14.8 (one compare) in place of the inf * 0 guards, one exp, one
// division. float64 keeps the guarded forms (exp(-x^2/2) == 0 compares).
// RUN: act-opt %s -act-expand="single-precision=1" | FileCheck %s --check-prefix=F32
// RUN: act-opt %s -act-expand | FileCheck %s --check-prefix=F64
// RUN: act-opt %s -act-autodiff | FileCheck %s --check-prefix=GRAD
// F32-LABEL: act.activation @gelu
// F32: math.absf
// F32-NEXT: %[[C:.*]] = arith.cmpf ogt, %{{.*}}, %cst
// F32-NOT: act.
// F32-NOT: cmpf oeq
// F32-COUNT-1: math.exp
// F32-NOT: math.exp
// F32-COUNT-1: arith.divf
// F32-NOT: arith.divf
// F32: act.yield
// F32-LABEL: act.activation @gelu_deriv
// F32-NOT: act.erfcx
// F32-NOT: cmpf oeq
// F32-COUNT-1: math.exp
// F32-NOT: math.exp
// F32: act.yield
// F64-LABEL: act.activation @gelu
// F64: cmpf oeq
// F64-LABEL: act.activation @gelu_deriv
// F64: cmpf oeq
// GRAD-LABEL: act.activation @gelu__grad
// GRAD: act.gelu_deriv
act.activation @gelu attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.gelu %x : f64
  act.yield %0 : f64
}
act.activation @gelu_deriv attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.gelu_deriv %x : f64
  act.yield %0 : f64
}

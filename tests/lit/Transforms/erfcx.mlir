// act.erfcx (gelu's tail) expands to a Chebyshev series by Clenshaw's recurrence,
// one FMA a term: all 26 terms for float64 bodies, the first 14 when every kernel
// computes in float32 (the dropped terms are below 0.01 ulp of float).
// RUN: act-opt %s -act-expand | FileCheck %s --check-prefix=F64
// RUN: act-opt %s -act-expand="single-precision=1" | FileCheck %s --check-prefix=F32
// F64-COUNT-26: math.fma
// F64-NOT: math.fma
// F64-NOT: act.erfcx
// F32-COUNT-14: math.fma
// F32-NOT: math.fma
act.activation @tail attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.erfcx %x : f64
  act.yield %0 : f64
}

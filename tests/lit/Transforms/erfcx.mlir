// act.erfcx (gelu's tail) expands to a Chebyshev series: all 26 terms by Clenshaw's
// recurrence (one FMA a term) for float64 bodies; when every kernel computes in
// float32, the first 12 as a polynomial in t by Horner's rule (11 FMAs; the dropped
// terms are 0.13 ulp of float). Then erfcx = 2S / (1 + 2z) as S / (0.5 + z).
// RUN: act-opt %s -act-expand | FileCheck %s --check-prefix=F64
// RUN: act-opt %s -act-expand="single-precision=1" | FileCheck %s --check-prefix=F32
// F64-COUNT-26: math.fma
// F64-NOT: math.fma
// F64-NOT: act.erfcx
// F32-COUNT-11: math.fma
// F32-NOT: math.fma
// F32: %[[D:.*]] = arith.addf %arg0, %cst{{.*}} : f64
// F32-NEXT: arith.divf %{{.*}}, %[[D]]
// F32-NEXT: act.yield
act.activation @tail attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.erfcx %x : f64
  act.yield %0 : f64
}

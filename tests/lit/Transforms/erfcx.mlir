// act.erfcx (gelu's tail) expands to all 26 terms of a Chebyshev series by
// Clenshaw's recurrence (one FMA a term) for float64 bodies, then erfcx = 2S / (1 + 2z)
// as S / (0.5 + z). When every kernel computes in float32: t Q(t) with
// t = 1 / (1 + z/2) (one FMA, one division) and Q of degree 8 by Horner's rule.
// RUN: act-opt %s -act-expand | FileCheck %s --check-prefix=F64
// RUN: act-opt %s -act-expand="single-precision=1" | FileCheck %s --check-prefix=F32
// F64-COUNT-26: math.fma
// F64-NOT: math.fma
// F64-NOT: act.erfcx
// F64: %[[D:.*]] = arith.addf %arg0, %cst{{.*}} : f64
// F64-NEXT: arith.divf %{{.*}}, %[[D]]
// F32: %[[D:.*]] = math.fma %arg0, %cst{{.*}}, %cst{{.*}} : f64
// F32-NEXT: %[[T:.*]] = arith.divf %cst{{.*}}, %[[D]]
// F32-COUNT-8: math.fma {{.*}}, %[[T]], %cst
// F32-NOT: math.fma
// F32-NEXT: %[[E:.*]] = arith.mulf %[[T]], %{{.*}}
// F32-NEXT: act.yield %[[E]]
act.activation @tail attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  %0 = act.erfcx %x : f64
  act.yield %0 : f64
}

// RUN: act-opt %s -act-approximate-math | FileCheck %s

// float32 exp, expm1, log1p and tanh (scalar or vector) become arithmetic; float64
// and other functions are left for libm.
// CHECK-LABEL: func.func @f32(
// CHECK-NOT: math.exp
// CHECK-NOT: math.log1p
// CHECK-NOT: math.tanh
// CHECK: math.roundeven {{.*}} : vector<4xf32>
// CHECK: math.sin
// CHECK: return
func.func @f32(%x: vector<4xf32>, %s: f32) -> (vector<4xf32>, vector<4xf32>, f32, f32, f32) {
  %0 = math.exp %x : vector<4xf32>
  %1 = math.expm1 %x : vector<4xf32>
  %2 = math.log1p %s : f32
  %3 = math.tanh %s : f32
  %4 = math.sin %s : f32
  return %0, %1, %2, %3, %4 : vector<4xf32>, vector<4xf32>, f32, f32, f32
}

// CHECK-LABEL: func.func @f64(
// CHECK: math.exp {{.*}} : f64
// CHECK: math.tanh {{.*}} : vector<2xf64>
func.func @f64(%x: f64, %v: vector<2xf64>) -> (f64, vector<2xf64>) {
  %0 = math.exp %x : f64
  %1 = math.tanh %v : vector<2xf64>
  return %0, %1 : f64, vector<2xf64>
}

// exp(x) * 2^m is one exp whose exponent is k + m (here m = -64 where x > 0, else
// 0: the float sigmoid's scale), with no separate multiply.
// CHECK-LABEL: func.func @scaled_exp(
// CHECK-NOT: math.exp
// CHECK: math.roundeven
// CHECK-NOT: arith.mulf {{.*}}, %arg1
// CHECK: return
func.func @scaled_exp(%x: vector<4xf32>, %unused: vector<4xf32>) -> vector<4xf32> {
  %zero = arith.constant dense<0.0> : vector<4xf32>
  %small = arith.constant dense<5.42101086E-20> : vector<4xf32>
  %one = arith.constant dense<1.0> : vector<4xf32>
  %pos = arith.cmpf ogt, %x, %zero : vector<4xf32>
  %c = arith.select %pos, %small, %one : vector<4xi1>, vector<4xf32>
  %e = math.exp %x : vector<4xf32>
  %ec = arith.mulf %e, %c : vector<4xf32>
  return %ec : vector<4xf32>
}

// exp clamps its argument to [-110, 89] only where the argument's definition does not
// bound it already: here -(|c| / 2) |c| with c clamped to [-14.8, 14.8] (gelu's float
// form) lies in [-110, 0], so the only compares left are c's two clamps.
// CHECK-LABEL: func.func @bounded_exp(
// CHECK-COUNT-2: arith.cmpf
// CHECK-NOT: arith.cmpf
// CHECK: return
func.func @bounded_exp(%x: vector<4xf32>) -> vector<4xf32> {
  %lo = arith.constant dense<-14.8> : vector<4xf32>
  %hi = arith.constant dense<14.8> : vector<4xf32>
  %half = arith.constant dense<0.5> : vector<4xf32>
  %below = arith.cmpf olt, %x, %lo : vector<4xf32>
  %c0 = arith.select %below, %lo, %x : vector<4xi1>, vector<4xf32>
  %above = arith.cmpf ogt, %c0, %hi : vector<4xf32>
  %c = arith.select %above, %hi, %c0 : vector<4xi1>, vector<4xf32>
  %a = math.absf %c : vector<4xf32>
  %h = arith.mulf %half, %a : vector<4xf32>
  %sq = arith.mulf %h, %a : vector<4xf32>
  %arg = arith.negf %sq : vector<4xf32>
  %e = math.exp %arg : vector<4xf32>
  return %e : vector<4xf32>
}

// Unbounded: both clamps (x < -110, x > 89).
// CHECK-LABEL: func.func @unbounded_exp(
// CHECK-COUNT-2: arith.cmpf
// CHECK-NOT: arith.cmpf
// CHECK: return
func.func @unbounded_exp(%x: vector<4xf32>) -> vector<4xf32> {
  %e = math.exp %x : vector<4xf32>
  return %e : vector<4xf32>
}

// e (1 - y) written fma(-e, y, e), e = exp(x) used only there (StableMath's exact
// squares), is one exp of x - y: y is subtracted from the reduced argument, and no
// FMA takes e afterwards.
// CHECK-LABEL: func.func @exp_correction(
// CHECK: math.roundeven
// CHECK: arith.subf %{{.*}}, %arg1
// CHECK-NOT: arith.negf
// CHECK: return
func.func @exp_correction(%x: vector<4xf32>, %y: vector<4xf32>) -> vector<4xf32> {
  %e = math.exp %x : vector<4xf32>
  %n = arith.negf %e : vector<4xf32>
  %r = math.fma %n, %y, %e : vector<4xf32>
  return %r : vector<4xf32>
}

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

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

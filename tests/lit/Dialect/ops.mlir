// RUN: act-opt %s | act-opt | FileCheck %s
// Round trip of every act op through the printer and parser.

// CHECK-LABEL: act.activation @all
act.activation @all attributes {input_names = ["x", "t"], param_names = ["beta", "y"],
    param_shapes = ["C", "C,5"], param_inits = [array<f64: 1.0>, array<f64>],
    param_const = array<i1: false, false>} {
^bb0(%x: f64, %t: f64, %beta: f64, %y: memref<5xf64>):
  // CHECK: act.sigmoid %{{.*}} : f64
  %0 = act.sigmoid %x : f64
  // CHECK: act.softplus
  %1 = act.softplus %0 : f64
  // CHECK: act.relu
  %2 = act.relu %1 : f64
  // CHECK: act.relu6
  %3 = act.relu6 %2 : f64
  // CHECK: act.hard_sigmoid
  %4 = act.hard_sigmoid %3 : f64
  // CHECK: act.hard_swish
  %5 = act.hard_swish %4 : f64
  // CHECK: act.gelu
  %6 = act.gelu %5 : f64
  // CHECK: act.gelu_tanh
  %7 = act.gelu_tanh %6 : f64
  // CHECK: act.sinc
  %8 = act.sinc %7 : f64
  // CHECK: act.gauss
  %9 = act.gauss %8 : f64
  // CHECK: act.sign
  %10 = act.sign %9 : f64
  // CHECK: act.gate %{{.*}}, %{{.*}} : f64
  %11 = act.gate %10, %t : f64
  // CHECK: act.hard_gate
  %12 = act.hard_gate %11, %t : f64
  // CHECK: act.clamp %{{.*}}, %{{.*}}, %{{.*}} : f64
  %13 = act.clamp %12, %t, %x : f64
  // CHECK: act.smooth_max %{{.*}}, %{{.*}} beta %{{.*}} : f64
  %14 = act.smooth_max %13, %x beta %beta : f64
  // CHECK: act.smooth_min %{{.*}}, %{{.*}}, %{{.*}} beta
  %15 = act.smooth_min %14, %x, %t beta %beta : f64
  // CHECK: act.logsumexp
  %16 = act.logsumexp %15, %x beta %beta : f64
  // CHECK: act.pwl %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : f64, memref<5xf64>
  %17 = act.pwl %16, %y, %x, %t, %beta, %beta : f64, memref<5xf64>
  // CHECK: act.safe_mul %{{.*}}, %{{.*}} : f64
  %18 = act.safe_mul %17, %x : f64
  // CHECK: act.yield %{{.*}} : f64
  act.yield %18 : f64
}

// f32 bodies are valid too.
// CHECK-LABEL: act.activation @f32_body
act.activation @f32_body attributes {input_names = ["x"], param_names = [],
    param_shapes = [], param_inits = [], param_const = array<i1>} {
^bb0(%x: f32):
  // CHECK: act.sigmoid %{{.*}} : f32
  %0 = act.sigmoid %x : f32
  act.yield %0 : f32
}

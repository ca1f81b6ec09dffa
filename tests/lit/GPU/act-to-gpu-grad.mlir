// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-gpu="chip=sm_80 dtypes=f32" | FileCheck %s

// Backward kernels from the derivative body, into the activation's own gpu.module:
// tiles in a warp-uniform grid-stride loop, dx stored per element, the parameter
// gradient summed in f64 per lane and (ncs, where the warp shares (n, c)) over the
// warp by shuffles, one partial per tile; then the ordered second pass.
// CHECK: gpu.module @scale__kernels
// CHECK-LABEL: gpu.func @scale__bwd_f32_ncs(
// CHECK-SAME: %[[X:[^:]*]]: memref<?xf32>, %[[DY:[^:]*]]: memref<?xf32>, %[[DX:[^:]*]]: memref<?xf32>, %[[B:[^:]*]]: memref<?xf32>, %[[PART:[^:]*]]: memref<?xf64>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %[[TILE:[^:]*]]: index) kernel
// CHECK: scf.for %[[W:.*]] = {{.*}} {
// CHECK: memref.load %[[B]]
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f64)
// CHECK: memref.store {{.*}}, %[[DX]]
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK: gpu.shuffle xor
// CHECK: memref.store {{.*}}, %[[PART]][%[[W]]] : memref<?xf64>
// CHECK-LABEL: gpu.func @scale__fwdbwd_f32_ncs(
// CHECK-SAME: %{{[^:]*}}: memref<?xf32>, %[[Y:[^:]*]]: memref<?xf32>
// CHECK: memref.store {{.*}}, %[[Y]]
// One channel per lane along C: no shuffles, each lane writes its own partial.
// CHECK-LABEL: gpu.func @scale__bwd_f32_nsc(
// CHECK-NOT: gpu.shuffle
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @scale__reduce_f32(
// CHECK-SAME: memref<?xf64>, %{{[^:]*}}: memref<?xf32>
// CHECK: scf.for {{.*}} iter_args
// CHECK: gpu.shuffle xor
// CHECK: arith.truncf {{.*}} : f64 to f32
// CHECK-NOT: act.activation
act.activation @scale attributes {input_names = ["x"], param_names = ["beta"],
    param_shapes = ["C"], param_inits = [array<f64: 2.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %beta: f64):
  %0 = arith.mulf %beta, %x : f64
  act.yield %0 : f64
}

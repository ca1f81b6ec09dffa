// RUN: act-opt %s -act-expand -convert-act-to-gpu="chip=sm_80 dtypes=f32" | FileCheck %s

// One gpu.module per activation with the NVVM target; a grid-stride kernel per layout; the (n, c) of
// each element recovered from its index; the scalar body inline.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @scale__kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
// CHECK-LABEL: gpu.func @scale__fwd_f32_ncs(
// CHECK-SAME: %[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>, %[[B:.*]]: memref<?xf32>, %[[N:.*]]: index, %[[C:.*]]: index, %[[S:.*]]: index) kernel
// CHECK: gpu.block_id x
// CHECK: gpu.grid_dim x
// CHECK: scf.for %[[I:.*]] =
// CHECK: arith.divui %[[I]], %[[S]]
// CHECK: %[[CH:.*]] = arith.remui
// CHECK: %[[BV:.*]] = memref.load %[[B]][%[[CH]]]
// CHECK: %[[XV:.*]] = memref.load %[[X]][%[[I]]]
// CHECK: %[[P:.*]] = arith.mulf %[[BV]], %[[XV]] : f32
// CHECK: memref.store %[[P]], %[[Y]][%[[I]]]
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @scale__fwd_f32_nsc(
// CHECK-NOT: act.activation
act.activation @scale attributes {input_names = ["x"], param_names = ["beta"],
    param_shapes = ["C"], param_inits = [array<f64: 2.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %beta: f64):
  %0 = arith.mulf %beta, %x : f64
  act.yield %0 : f64
}

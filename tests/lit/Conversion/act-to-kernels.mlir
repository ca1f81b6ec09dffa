// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=ncs,nsc vector-bits=1" | FileCheck %s
// RUN: act-opt %s -act-expand -convert-act-to-kernels -act-kernels-to-llvm | FileCheck %s --check-prefix=LLVM

// Per-channel beta: loaded once per row in ncs (hoisted), per element in nsc.
// CHECK-LABEL: func.func @scale__fwd_f32_ncs(
// CHECK-SAME: %[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>, %[[B:.*]]: memref<?xf32>, %[[N:.*]]: index, %[[C:.*]]: index, %[[S:.*]]: index, %[[R0:.*]]: index, %[[R1:.*]]: index)
// CHECK: scf.for %[[R:.*]] = %[[R0]] to %[[R1]]
// CHECK: %[[CH:.*]] = arith.remui %[[R]], %[[C]]
// CHECK: %[[BV:.*]] = memref.load %[[B]][%[[CH]]]
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %[[S]]
// CHECK: %[[XV:.*]] = memref.load %[[X]]
// CHECK: %[[P:.*]] = arith.mulf %[[BV]], %[[XV]] : f32
// CHECK: memref.store %[[P]], %[[Y]]
// CHECK-LABEL: func.func @scale__fwd_f32_nsc(
// CHECK: scf.for
// CHECK: scf.for %[[J:.*]] =
// CHECK: memref.load %{{.*}}[%[[J]]]
// CHECK-NOT: act.activation
act.activation @scale attributes {input_names = ["x"], param_names = ["beta"],
    param_shapes = ["C"], param_inits = [array<f64: 2.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %beta: f64):
  %0 = arith.mulf %beta, %x : f64
  act.yield %0 : f64
}

// LLVM: llvm.func @scale__fwd_f32_ncs
// LLVM: llvm.fmul {{.*}} : vector<{{[0-9]+}}xf32>
// LLVM: llvm.func @scale__fwd_f64_nsc
// LLVM: llvm.fmul {{.*}} : vector<{{[0-9]+}}xf64>

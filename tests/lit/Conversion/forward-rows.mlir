// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=fwd vector-bits=256" -canonicalize -cse | FileCheck %s --check-prefix=BOTH
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=fwd vector-bits=256 forward-rows=0" -canonicalize -cse | FileCheck %s --check-prefix=STAGED
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=fwd vector-bits=256 forward-rows=1" -canonicalize -cse | FileCheck %s --check-prefix=UNSTAGED

// A channels-last forward kernel with a per-channel parameter runs its vector loop
// along rows staged while the row's parameters (a: 4 bytes a channel) fit 32 KiB,
// unstaged past that. Without forward-rows it holds both loops and tests C * 4
// against 32768; for one answer (the runtime's act::rowsUnstaged) the loop alone.

// BOTH-LABEL: func.func @scaled__fwd_f32_nsc(
// BOTH: %[[LIMIT:.*]] = arith.constant 32768 : index
// BOTH: %[[PASSES:.*]] = arith.cmpi ugt, %{{.*}}, %[[LIMIT]] : index
// BOTH: scf.if %[[PASSES]] {
// BOTH: } else {
// BOTH: } {act.stage}
// BOTH: return

// STAGED-LABEL: func.func @scaled__fwd_f32_nsc(
// STAGED-NOT: 32768
// STAGED: } {act.stage}
// STAGED-NOT: scf.for
// STAGED: vector.maskedstore
// STAGED: return

// UNSTAGED-LABEL: func.func @scaled__fwd_f32_nsc(
// UNSTAGED-NOT: 32768
// UNSTAGED-NOT: act.stage
// UNSTAGED: vector.maskedstore
// UNSTAGED-NOT: act.stage
// UNSTAGED: return
act.activation @scaled attributes {input_names = ["x"], param_names = ["a", "b"],
    param_shapes = ["C", ""], param_inits = [array<f64: 1.0>, array<f64: 2.0>],
    param_const = array<i1: false, false>} {
^bb0(%x: f64, %a: f64, %b: f64):
  %0 = arith.mulf %a, %x : f64
  %1 = arith.addf %0, %b : f64
  act.yield %1 : f64
}

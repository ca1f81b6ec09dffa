// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=bwd vector-bits=256 column-class=0" -canonicalize -cse | FileCheck %s --check-prefix=ROWS
// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=bwd vector-bits=256 column-class=1" -canonicalize -cse | FileCheck %s --check-prefix=CACHE
// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=bwd vector-bits=256 column-class=2" -canonicalize -cse | FileCheck %s --check-prefix=STREAM
// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc kinds=bwd vector-bits=256" -canonicalize -cse | FileCheck %s --check-prefix=ALL

// A channels-last gradient kernel with a per-channel parameter holds one path for
// its column class, and all three, chosen at run time, without one.

// Rows only: no test of C, no column blocks, no wide group, and only the staged
// vector loop (C stays below 3 W, so its parameters never pass 32 KiB).
// ROWS-LABEL: func.func @scaled__bwd_f32_nsc(
// ROWS-NOT: arith.cmpi uge
// ROWS-NOT: vector<32xf32>
// ROWS-NOT: memref.prefetch
// ROWS-NOT: {act.tiled = 16 : i64}
// ROWS: } {act.stage, act.tiled = 16 : i64}
// ROWS-NOT: {act.tiled = 16 : i64}
// ROWS: return

// Columns in cache: staged groups of 8 lanes, no wide group, no test of the size.
// CACHE-LABEL: func.func @scaled__bwd_f32_nsc(
// CACHE-NOT: arith.cmpi uge
// CACHE: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16 {
// CACHE-NOT: vector<32xf32>
// CACHE: } {act.stage, act.tiled = 16 : i64}
// CACHE: return

// Columns from memory: the wide group of 32 lanes, then groups, all unstaged.
// STREAM-LABEL: func.func @scaled__bwd_f32_nsc(
// STREAM-NOT: arith.cmpi uge
// STREAM: scf.for %{{.*}} -> (vector<32xf32>, vector<32xf32>) {
// STREAM-NOT: act.stage
// STREAM: return

// Every path: the test of C, then of the size, then the rows path.
// ALL-LABEL: func.func @scaled__bwd_f32_nsc(
// ALL: arith.cmpi uge
// ALL: vector<32xf32>
// ALL: act.stage, act.tiled
// ALL: } else {
// ALL: } {act.stage, act.tiled = 16 : i64}
act.activation @scaled attributes {input_names = ["x"], param_names = ["a", "b"],
    param_shapes = ["C", ""], param_inits = [array<f64: 1.0>, array<f64: 2.0>],
    param_const = array<i1: false, false>} {
^bb0(%x: f64, %a: f64, %b: f64):
  %0 = arith.mulf %a, %x : f64
  %1 = arith.addf %0, %b : f64
  act.yield %1 : f64
}

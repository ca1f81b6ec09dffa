// REQUIRES: avx512
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc vector-bits=512 kinds=fwd" -canonicalize -cse | FileCheck %s
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc vector-bits=512 kinds=fwd column-class=0" -canonicalize -cse | FileCheck %s --check-prefix=ROWS
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f32 layouts=nsc vector-bits=512 kinds=fwd column-class=1" -canonicalize -cse | FileCheck %s --check-prefix=TILES

// A channels-last forward kernel with a per-channel table (pwl's y[C,5], bl[C]),
// 16 float lanes on an AVX-512 host: whole tiles of 16 rows by transposed tiles,
// when C fills the vectors (4 C >= 3 * 16 ceil(C / 16)). Per group of 16 channels
// (one copy of the code for every group, the last one's lanes past C off): 16 row
// loads (masked), a transpose in 64 shuffles into a tile buffer (one vector a
// channel), then channel by channel as a ncs row of one vector (the table in a
// register, looked up by a permute, not a gather), the results transposed back and
// stored (plain stores in a whole group, masked ones in the last); the rows after
// the last whole tile go along rows (gathers).
// CHECK-LABEL: func.func @pwl__fwd_f32_nsc(
// CHECK-DAG: %[[IN:.*]] = memref.alloca() {alignment = 64 : i64} : memref<256xf32>
// CHECK-DAG: %[[OUT:.*]] = memref.alloca() {alignment = 64 : i64} : memref<256xf32>
// CHECK: scf.for %[[R0:.*]] = %{{.*}} to %{{.*}} step %c16 {
// CHECK: scf.for %[[C0:.*]] = %c0 to %{{.*}} step %c16 {
// CHECK: vector.create_mask
// CHECK-COUNT-16: memref.prefetch
// CHECK-COUNT-16: vector.maskedload %arg0
// CHECK-COUNT-64: vector.shuffle
// CHECK-COUNT-16: vector.store %{{.*}}, %[[IN]][%{{.*}}] : memref<256xf32>, vector<16xf32>
// CHECK: scf.for
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK-NOT: gather
// CHECK: vector.store
// CHECK: }
// CHECK-COUNT-16: vector.load %[[OUT]]
// CHECK-COUNT-64: vector.shuffle
// CHECK: scf.if
// CHECK-COUNT-16: vector.store %{{.*}}, %arg1
// CHECK: } else {
// CHECK-COUNT-16: vector.maskedstore %arg1
// CHECK-NOT: vector.shuffle
// After the tiles, along rows: gathers.
// CHECK: llvm.intr.masked.gather

// A kernel for one column class holds one path: the rows class (C fills vectors
// poorly) rows alone, staged; a columns class the tiles, and for the rows after the
// last whole tile the unstaged loop alone.
// ROWS-LABEL: func.func @pwl__fwd_f32_nsc(
// ROWS-NOT: vector.shuffle {{.*}} : vector<16xf32>, vector<16xf32>
// ROWS: llvm.intr.masked.gather
// ROWS: } {act.stage}
// ROWS: llvm.intr.masked.gather
// ROWS-NOT: llvm.intr.masked.gather
// ROWS: return
// TILES-LABEL: func.func @pwl__fwd_f32_nsc(
// TILES-NOT: act.stage
// TILES-COUNT-128: vector.shuffle {{.*}} : vector<16xf32>, vector<16xf32>
// TILES-NOT: act.stage
// TILES: llvm.intr.masked.gather
// TILES-NOT: act.stage
// TILES: llvm.intr.masked.gather
// TILES-NOT: llvm.intr.masked.gather
// TILES-NOT: act.stage
// TILES: return
act.activation @pwl attributes {input_names = ["x"], param_names = ["y", "bl", "br", "kl", "kr"],
    param_shapes = ["C,5", "C", "", "", ""], param_inits = [array<f64>, array<f64>, array<f64>,
    array<f64>, array<f64>], param_const = array<i1: false, false, false, false, false>} {
^bb0(%x: f64, %y: memref<5xf64>, %bl: f64, %br: f64, %kl: f64, %kr: f64):
  %0 = act.pwl %x, %y, %bl, %br, %kl, %kr : f64, memref<5xf64>
  act.yield %0 : f64
}

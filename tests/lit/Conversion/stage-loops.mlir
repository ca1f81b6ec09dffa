// RUN: act-opt %s -act-stage-loops=stage-work=120 | FileCheck %s
// RUN: act-opt %s -act-stage-loops=stage-work=100000 | FileCheck %s --check-prefix=OFF

// A load (5 cycles), a chain of 12 dependent FMAs (48) and a division (11): 64
// cycles of chain and 14 operations, sqrt(64 * 14 / 120) = 2.7, three stages of
// about 21 cycles over tiles of 16 vectors (256 floats): each stage a loop over the
// tile, what a later stage uses passed through a tile buffer, the input load
// repeated where it is needed. A prefetch (the column kernels' next block) stays in
// the first stage.
// CHECK-LABEL: func.func @chain(
// CHECK-COUNT-2: memref.alloca() {alignment = 64 : i64} : memref<256xf32>
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %c256
// CHECK: %[[END:.*]] = arith.minui
// CHECK: scf.for %[[I:.*]] = %[[T]] to %[[END]] step %c16
// CHECK: memref.prefetch %arg0
// CHECK: vector.load %arg0
// CHECK-COUNT-4: math.fma
// CHECK-NOT: math.fma
// CHECK: %[[AT:.*]] = arith.subi %[[I]], %[[T]]
// CHECK: vector.store %{{.*}}, %{{.*}}[%[[AT]]] : memref<256xf32>, vector<16xf32>
// CHECK: scf.for
// CHECK: vector.load %{{.*}} : memref<256xf32>, vector<16xf32>
// CHECK-COUNT-6: math.fma
// CHECK: scf.for
// CHECK-COUNT-2: math.fma
// CHECK-NEXT: arith.divf
// CHECK: vector.store %{{.*}}, %arg1
// OFF-LABEL: func.func @chain(
// OFF-NOT: memref.alloca
// OFF: scf.for
// OFF-NOT: scf.for
// OFF: return
func.func @chain(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  scf.for %i = %c0 to %n step %c16 {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %ahead = arith.addi %i, %c16 : index
    memref.prefetch %x[%ahead], read, locality<3>, data : memref<?xf32>
    %a1 = math.fma %v, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %a9 = math.fma %a8, %v, %k : vector<16xf32>
    %a10 = math.fma %a9, %v, %k : vector<16xf32>
    %a11 = math.fma %a10, %v, %k : vector<16xf32>
    %a12 = math.fma %a11, %v, %k : vector<16xf32>
    %d = arith.divf %a12, %v : vector<16xf32>
    vector.store %d, %y[%i] : memref<?xf32>, vector<16xf32>
  } {act.stage}
  return
}

// A loop already at most one tile long (act.tiled = 8 vectors) gets no tile loop; the accumulator
// carried from one vector to the next is updated in the last stage, and a compare
// of two early values used late crosses as bytes (moving it into the last stage
// would buffer both of them instead).
// CHECK-LABEL: func.func @tiled(
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<128xi8>
// CHECK-NOT: step %c128
// CHECK: arith.cmpf olt
// CHECK: arith.extui %{{.*}} : vector<16xi1> to vector<16xi8>
// CHECK: %[[ACC:.*]] = scf.for {{.*}} iter_args(%[[A:.*]] = %arg3) -> (vector<16xf32>)
// CHECK: arith.trunci %{{.*}} : vector<16xi8> to vector<16xi1>
// CHECK: arith.select
// CHECK: arith.addf %[[A]],
// CHECK: return %[[ACC]]
func.func @tiled(%x: memref<?xf32>, %from: index, %to: index, %init: vector<16xf32>) -> vector<16xf32> {
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  %z = arith.constant dense<0.0> : vector<16xf32>
  %r = scf.for %i = %from to %to step %c16 iter_args(%acc = %init) -> (vector<16xf32>) {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %a1 = math.fma %v, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %neg = arith.cmpf olt, %a1, %a2 : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %a9 = math.fma %a8, %v, %k : vector<16xf32>
    %a10 = math.fma %a9, %v, %k : vector<16xf32>
    %s = arith.select %neg, %z, %a10 : vector<16xi1>, vector<16xf32>
    %sum = arith.addf %acc, %s : vector<16xf32>
    scf.yield %sum : vector<16xf32>
  } {act.stage, act.tiled = 8}
  return %r : vector<16xf32>
}

// A buffer read and written in the loop (a gradient accumulated in memory) is read
// and written only in the last stage, in the original order: the earlier stages
// never touch it.
// CHECK-LABEL: func.func @read_modify_write(
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: %arg1
// CHECK: scf.for
// CHECK: %[[OLD:.*]] = vector.load %arg1
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]]
// CHECK: vector.store %[[NEW]], %arg1
// CHECK: return
func.func @read_modify_write(%x: memref<?xf32>, %g: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  scf.for %i = %c0 to %n step %c16 {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %a1 = math.fma %v, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %old = vector.load %g[%i] : memref<?xf32>, vector<16xf32>
    %new = arith.addf %old, %a8 : vector<16xf32>
    vector.store %new, %g[%i] : memref<?xf32>, vector<16xf32>
  } {act.stage}
  return
}

// Unmarked loops are not touched.
// CHECK-LABEL: func.func @unmarked(
// CHECK-NOT: memref.alloca
// CHECK: return
func.func @unmarked(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  scf.for %i = %c0 to %n step %c16 {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %a1 = math.fma %v, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %a9 = math.fma %a8, %v, %k : vector<16xf32>
    %a10 = math.fma %a9, %v, %k : vector<16xf32>
    %a11 = math.fma %a10, %v, %k : vector<16xf32>
    %a12 = math.fma %a11, %v, %k : vector<16xf32>
    vector.store %a12, %y[%i] : memref<?xf32>, vector<16xf32>
  }
  return
}

// A quick operation on an input load (here x < 0) is computed again where a later
// stage needs it, not handed on through a buffer.
// CHECK-LABEL: func.func @repeated_compare(
// CHECK-NOT: memref<256xi8>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.cmpf olt
// CHECK: scf.for
// CHECK: arith.cmpf olt
// CHECK: arith.select
func.func @repeated_compare(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  %z = arith.constant dense<0.0> : vector<16xf32>
  scf.for %i = %c0 to %n step %c16 {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %neg = arith.cmpf olt, %v, %z : vector<16xf32>
    %m = arith.select %neg, %z, %v : vector<16xi1>, vector<16xf32>
    %a1 = math.fma %m, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %a9 = math.fma %a8, %v, %k : vector<16xf32>
    %a10 = math.fma %a9, %v, %k : vector<16xf32>
    %r = arith.select %neg, %a10, %v : vector<16xi1>, vector<16xf32>
    vector.store %r, %y[%i] : memref<?xf32>, vector<16xf32>
  } {act.stage}
  return
}

// A value of twice the loop's lanes (a pair gather's entries before the shuffles
// split them) crosses in a buffer of twice the tile, at twice the element's place.
// CHECK-LABEL: func.func @wide(
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<512xf32>
// CHECK: %[[W:.*]] = vector.shuffle {{.*}} : vector<16xf32>, vector<16xf32>
// CHECK: %[[AT:.*]] = arith.subi
// CHECK: %[[AT2:.*]] = arith.muli %[[AT]], %c2
// CHECK: vector.store %[[W]], %{{.*}}[%[[AT2]]] : memref<512xf32>, vector<32xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[BT:.*]] = arith.muli %{{.*}}, %c2
// CHECK: vector.load %{{.*}}[%[[BT]]] : memref<512xf32>, vector<32xf32>
func.func @wide(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %k = arith.constant dense<0.5> : vector<16xf32>
  scf.for %i = %c0 to %n step %c16 {
    %v = vector.load %x[%i] : memref<?xf32>, vector<16xf32>
    %a1 = math.fma %v, %v, %k : vector<16xf32>
    %a2 = math.fma %a1, %v, %k : vector<16xf32>
    %a3 = math.fma %a2, %v, %k : vector<16xf32>
    %w = vector.shuffle %a3, %a2 [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31] : vector<16xf32>, vector<16xf32>
    %a4 = math.fma %a3, %v, %k : vector<16xf32>
    %a5 = math.fma %a4, %v, %k : vector<16xf32>
    %a6 = math.fma %a5, %v, %k : vector<16xf32>
    %a7 = math.fma %a6, %v, %k : vector<16xf32>
    %a8 = math.fma %a7, %v, %k : vector<16xf32>
    %a9 = math.fma %a8, %v, %k : vector<16xf32>
    %a10 = math.fma %a9, %v, %k : vector<16xf32>
    %a11 = math.fma %a10, %v, %k : vector<16xf32>
    %a12 = math.fma %a11, %v, %k : vector<16xf32>
    %s = vector.shuffle %w, %a12 [1, 3, 5, 7, 9, 11, 13, 15, 32, 33, 34, 35, 36, 37, 38, 39] : vector<32xf32>, vector<16xf32>
    %d = arith.divf %s, %v : vector<16xf32>
    vector.store %d, %y[%i] : memref<?xf32>, vector<16xf32>
  } {act.stage}
  return
}

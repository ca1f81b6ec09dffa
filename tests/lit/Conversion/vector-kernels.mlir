// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=ncs,nsc vector-bits=256" -canonicalize -cse | FileCheck %s
// RUN: act-opt %s -act-autodiff -act-expand -convert-act-to-kernels="dtypes=f32 layouts=ncs vector-bits=1" | FileCheck %s --check-prefix=SCALAR
// RUN: act-opt %s -act-expand -convert-act-to-kernels="dtypes=f64 layouts=ncs vector-bits=256 kinds=fwd" | FileCheck %s --check-prefix=F64

// Backward kernels, 8 float lanes (256 bits): a vector loop over whole vectors, then
// one masked vector step for the remainder. ncs: the per-channel a and scalar b are
// broadcast once per row; their gradients stay in registers, as f32 partial sums
// (one fma per vector) over blocks of 16 vectors added in two halves to vector<4xf64>
// sums (lanes l and l + 4 into lane l), which are reduced in lane order after the
// loop.
// CHECK-LABEL: func.func @scaled__bwd_f32_ncs(
// CHECK: scf.for
// CHECK: vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK: %[[ACC:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<4xf64>, vector<4xf64>)
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.load {{.*}} vector<8xf32>
// CHECK: math.fma {{.*}} : vector<8xf32>
// CHECK: scf.yield {{.*}} : vector<8xf32>, vector<8xf32>
// CHECK: vector.extract_strided_slice {{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<8xf32> to vector<4xf32>
// CHECK: arith.extf {{.*}} : vector<4xf32> to vector<4xf64>
// CHECK: vector.extract_strided_slice {{.*}} {offsets = [4], sizes = [4], strides = [1]} : vector<8xf32> to vector<4xf32>
// CHECK: scf.yield {{.*}} : vector<4xf64>, vector<4xf64>
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK: vector.maskedload %{{.*}}[%{{.*}}], %[[MASK]], %{{.*}} : memref<?xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
// CHECK: vector.maskedstore %{{.*}}[%{{.*}}], %[[MASK]], %{{.*}} : memref<?xf32>, vector<8xi1>, vector<8xf32>
// CHECK: arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<8xi1>, vector<8xf32>
// The row's two sums reduced together: pairs of lanes shuffled and added, twice.
// CHECK-DAG: vector.shuffle {{.*}} [0, 4, 2, 6] : vector<4xf64>, vector<4xf64>
// CHECK-DAG: vector.shuffle {{.*}} [1, 5, 3, 7] : vector<4xf64>, vector<4xf64>
// CHECK-DAG: vector.shuffle {{.*}} [0, 1, 4, 5] : vector<4xf64>, vector<4xf64>
// CHECK-DAG: vector.shuffle {{.*}} [2, 3, 6, 7] : vector<4xf64>, vector<4xf64>
// CHECK: vector.store {{.*}} : memref<4xf64>, vector<4xf64>
// CHECK-NOT: vector.reduction
// CHECK-NOT: memref.load {{.*}} : memref<?xf32>
// CHECK-LABEL: func.func @scaled__fwdbwd_f32_ncs(
// nsc backward when C fills the vectors (4 C >= 3 * 8 ceil(C / 8)): columns. Blocks
// of 16 rows; in a block each group of 8 channels runs down the rows (step i at row
// i / 8), a's 8 values loaded once and both gradients in registers (float32 sums
// over the block's rows). Each step prefetches x, dy and dx 16 rows ahead. After the group a's sums are added lane for lane to its
// channels' double gradients, b's reduced in lane order. Every group is one copy
// of the code with masked loads and stores, the lanes past C off (C = 20: the
// third group's last 4): a's sums need no select (their lanes past C are never
// stored), b's do (its sum is reduced over every lane). Past 4M elements (streaming from
// memory, no tables) the groups run unstaged in blocks of 256 rows, their float32
// sums restarting every 16 rows (512 lanes of a wide group, 128 of a group) and
// carried on in double; whole runs of 4 groups first go as one wide group of 32
// lanes, each step prefetching both lines it reads of x, dy and dx; in cache (the
// else branch) the groups run staged in blocks of 16 rows.
// CHECK-LABEL: func.func @scaled__bwd_f32_nsc(
// CHECK: %[[FITS:.*]] = arith.cmpi uge
// CHECK: scf.if %[[FITS]] {
// CHECK: scf.if %{{.*}} {
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c256 {
// CHECK: scf.for %[[W0:.*]] = %c0 to %[[WEND:.*]] step %c32 {
// CHECK: vector.load %{{.*}}[%[[W0]]] : memref<?xf32>, vector<32xf32>
// CHECK: scf.for {{.*}} step %c512 iter_args({{.*}}) -> (vector<32xf64>, vector<32xf64>) {
// CHECK: scf.for {{.*}} step %c32 iter_args({{.*}}) -> (vector<32xf32>, vector<32xf32>) {
// CHECK-COUNT-4: memref.prefetch %{{.*}}, read, locality<3>, data : memref<?xf32>
// CHECK-COUNT-2: memref.prefetch %{{.*}}, write, locality<3>, data : memref<?xf32>
// CHECK: } {act.tiled = 16 : i64}
// CHECK: arith.extf %{{.*}} : vector<32xf32> to vector<32xf64>
// CHECK: vector.store %{{.*}}, %{{.*}}[%[[W0]]] : memref<?xf64>, vector<32xf64>
// CHECK: scf.for %{{.*}} = %[[WEND]] to %{{.*}} step %c8 {
// CHECK: scf.for {{.*}} step %c128 iter_args({{.*}}) -> (vector<8xf64>, vector<8xf64>) {
// CHECK-NOT: act.stage
// CHECK: } {act.tiled = 16 : i64}
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16 {
// CHECK: scf.for %[[C0:.*]] = %c0 to %[[DIMC:.*]] step %c8 {
// CHECK: %[[LEFT:.*]] = arith.subi %[[DIMC]], %[[C0]] : index
// CHECK: %[[COUNT:.*]] = arith.minui %[[LEFT]], %c8 : index
// CHECK: %[[MASK:.*]] = vector.create_mask %[[COUNT]] : vector<8xi1>
// CHECK: %[[A:.*]] = vector.maskedload %{{.*}}[%[[C0]]], %[[MASK]]
// CHECK: scf.for {{.*}} iter_args(%[[SA:.*]] = %{{.*}}, %[[SB:.*]] = %{{.*}}) -> (vector<8xf32>, vector<8xf32>) {
// CHECK: arith.divui %{{.*}}, %c8 : index
// CHECK: memref.prefetch %{{.*}}[%{{.*}}], read, locality<3>, data : memref<?xf32>
// CHECK: memref.prefetch %{{.*}}[%{{.*}}], read, locality<3>, data : memref<?xf32>
// CHECK: memref.prefetch %{{.*}}[%{{.*}}], write, locality<3>, data : memref<?xf32>
// CHECK: vector.maskedload %{{.*}}, %[[MASK]]
// CHECK: arith.mulf %{{.*}}, %[[A]] : vector<8xf32>
// CHECK: vector.maskedstore %{{.*}}, %[[MASK]]
// CHECK: %[[NEWA:.*]] = math.fma %{{.*}}, %{{.*}}, %[[SA]] : vector<8xf32>
// CHECK: %[[FMAB:.*]] = math.fma %{{.*}}, %{{.*}}, %[[SB]] : vector<8xf32>
// CHECK: %[[NEWB:.*]] = arith.select %[[MASK]], %[[FMAB]], %[[SB]]
// CHECK: scf.yield %[[NEWA]], %[[NEWB]] : vector<8xf32>, vector<8xf32>
// CHECK: } {act.stage, act.tiled = 16 : i64}
// CHECK: %[[OLDA:.*]] = vector.maskedload %[[DA:.*]][%[[C0]]], %[[MASK]]
// CHECK: vector.maskedstore %[[DA]][%[[C0]]], %[[MASK]]
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<8xf64> into f64
// CHECK-NOT: vector.create_mask
// Else (C = 3 or 17, say) along rows: vectors run along C. Rows run together,
// max(1, 256 / C) of them at a time, with a's C values repeated over the run in a
// buffer, so element i of the run reads entry i (a run of one row, C > 128, reads
// a in place: the select). a's gradient sums in float32 per position of the run (a
// load, an fma and a store a vector) over blocks of 16 runs, each block then added
// to the double gradient by channel in a fixed order.
// CHECK: } else {
// CHECK: %[[NONZERO:.*]] = arith.maxui %{{.*}}, %c1 : index
// CHECK-NEXT: %[[QUOTIENT:.*]] = arith.divui %c256, %[[NONZERO]] : index
// CHECK-NEXT: %[[RUNROWS:.*]] = arith.maxui %[[QUOTIENT]], %c1 : index
// CHECK-NEXT: %[[RUNLEN:.*]] = arith.muli %[[RUNROWS]], %{{.*}} : index
// CHECK-NEXT: %[[REPEATS:.*]] = arith.cmpi ugt, %[[RUNROWS]], %c1 : index
// CHECK: %[[REPEAT:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK: %[[INPLACE:.*]] = memref.cast %{{.*}} : memref<?xf32, strided<[1]>> to memref<?xf32, strided<[1], offset: ?>>
// CHECK: %[[BUFFER:.*]] = memref.cast %[[REPEAT]]
// CHECK: %[[VIEW:.*]] = arith.select %[[REPEATS]], %[[BUFFER]], %[[INPLACE]]
// CHECK: %[[PART:.*]] = memref.alloc(%[[RUNLEN]]) {alignment = 64 : i64} : memref<?xf32>
// CHECK: scf.if %[[REPEATS]] {
// CHECK: memref.store %{{.*}}, %[[REPEAT]]
// CHECK: %[[BLOCK:.*]] = arith.muli %[[RUNROWS]], %c16 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[BLOCK]] {
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[RUNROWS]] {
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<4xf64>)
// CHECK: vector.load %[[VIEW]][%{{.*}}] : memref<?xf32, strided<[1], offset: ?>>, vector<8xf32>
// CHECK: %[[OLD:.*]] = vector.load %[[PART]][%{{.*}}] : memref<?xf32>, vector<8xf32>
// CHECK: %[[NEW:.*]] = math.fma %{{.*}}, %{{.*}}, %[[OLD]] : vector<8xf32>
// CHECK: vector.store %[[NEW]], %[[PART]][%{{.*}}] : memref<?xf32>, vector<8xf32>
// CHECK: memref.load %[[PART]]
// CHECK-NEXT: arith.extf %{{.*}} : f32 to f64
// CHECK: memref.dealloc %[[PART]]
// CHECK: memref.dealloc %[[REPEAT]]
// CHECK-NOT: memref<?xf64>, vector<8xf64>
// CHECK-LABEL: func.func @scaled__fwdbwd_f32_nsc(
// SCALAR-LABEL: func.func @scaled__bwd_f32_ncs(
// SCALAR-NOT: vector
// SCALAR: return
act.activation @scaled attributes {input_names = ["x"], param_names = ["a", "b"],
    param_shapes = ["C", ""], param_inits = [array<f64: 1.0>, array<f64: 2.0>],
    param_const = array<i1: false, false>} {
^bb0(%x: f64, %a: f64, %b: f64):
  %0 = arith.mulf %a, %x : f64
  %1 = arith.addf %0, %b : f64
  act.yield %1 : f64
}

// A table lookup is a gather from the parameter buffer (on AVX-512 hosts, 16 f32
// lanes and a table constant along the row: a permute of the row held in
// registers). pwl reads entries lo and lo + 1: one gather of 64-bit pairs through
// an LLVM pointer, split by two shuffles (f64 tables: two gathers). ncs: the
// table's gradient is one register accumulator per entry, updated where the lane's
// knot index is that entry (pairs lo and lo + 1 share the
// tests, and lo, clamped to [0, 3], is never tested against -1 or 4: 4 tests, not 10,
// for 5 entries). nsc by columns: the same tests and masked fmas, each lane one
// channel's table (looked up by selects); a group's sums go to a [5][C] double buffer (one vector add per
// entry), which reaches the gradient after the rows. nsc along rows (C too narrow
// for columns): each lane's (knot, weight) is added to the table in lane order.
// CHECK-LABEL: func.func @pwl__fwd_f32_ncs(
// CHECK: llvm.getelementptr {{.*}} : (!llvm.ptr, vector<8xi32>) -> !llvm.vec<8 x ptr>, f32
// CHECK-NEXT: llvm.intr.masked.gather {{.*}} -> vector<8xi64>
// CHECK-NEXT: vector.bitcast {{.*}} : vector<8xi64> to vector<16xf32>
// CHECK-NEXT: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14]
// CHECK-NEXT: vector.shuffle {{.*}} [1, 3, 5, 7, 9, 11, 13, 15]
// CHECK-NOT: vector.gather
// F64-LABEL: func.func @pwl__fwd_f64_ncs(
// F64-COUNT-2: vector.gather {{.*}} : memref<?xf64>, vector<4xi32>, vector<4xi1>, vector<4xf64> into vector<4xf64>
// F64-NOT: llvm.intr.masked.gather
// nsc: rows run together, and the table's row offsets c * 5 and the fixed entries
// the body reads (y[0] and y[4], pwl's outer pieces) are repeated over the run: a
// vector loads them, one gather of pairs (y[lo], y[lo + 1]) instead of four gathers.
// CHECK-LABEL: func.func @pwl__fwd_f32_nsc(
// CHECK: %[[ROWOFF:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi32>
// CHECK: %[[FIRST:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK: %[[LAST:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK: vector.load %[[ROWOFF]]
// CHECK: llvm.intr.masked.gather
// CHECK-NOT: llvm.intr.masked.gather
// CHECK: vector.load %[[FIRST]]
// CHECK: vector.load %[[LAST]]
// CHECK: vector.maskedload %[[ROWOFF]]
// CHECK: llvm.intr.masked.gather
// CHECK-NOT: vector.gather
// CHECK-NOT: llvm.intr.masked.gather
// CHECK: memref.dealloc %[[ROWOFF]]
// CHECK-LABEL: func.func @pwl__bwd_f32_ncs(
// CHECK: scf.for {{.*}} -> (vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>, vector<4xf64>)
// CHECK: llvm.intr.masked.gather
// CHECK-COUNT-4: arith.cmpi eq, %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK-NOT: arith.cmpi eq
// CHECK: scf.yield {{.*}} : vector<8xf32>
// CHECK: vector.shuffle
// CHECK-NOT: vector.extract {{.*}} : index from vector<8xindex>
// The columns path transposes the table to [5][C] (a float32 buffer) once a call,
// and a group loads each entry of its channels as one vector; a staged step's
// lookups are then selects on the bits of the index (lo in [0, 3]: two bits), not
// gathers (unstaged steps, for tensors from memory, still gather).
// Streaming from memory: past 4M elements, and with a table only where the row's
// per-channel parameters (y's 5 entries, 20 bytes a channel) pass 64 KiB.
// CHECK-LABEL: func.func @pwl__bwd_f32_nsc(
// CHECK-DAG: %[[BYTES:.*]] = arith.constant 20 : index
// CHECK-DAG: %[[LIMIT:.*]] = arith.constant 65536 : index
// CHECK: %[[LARGE:.*]] = arith.cmpi ugt, %{{.*}}, %c4194304 : index
// CHECK: %[[ROW:.*]] = arith.muli %{{.*}}, %[[BYTES]] : index
// CHECK: %[[WIDE:.*]] = arith.cmpi ugt, %[[ROW]], %[[LIMIT]] : index
// CHECK: arith.andi %[[LARGE]], %[[WIDE]] : i1
// CHECK: scf.if
// CHECK: %[[TABLE:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf64>
// CHECK: %[[TRANSPOSED:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK-COUNT-5: vector.maskedload %[[TRANSPOSED]]
// The column steps twice: unstaged for tensors that stream from memory, then staged.
// CHECK: scf.if %{{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: llvm.intr.masked.gather
// CHECK-COUNT-4: arith.cmpi eq, %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK-NOT: arith.cmpi eq
// CHECK: } {act.tiled = 16 : i64}
// CHECK: } else {
// The backward reads y[lo] and y[lo + 1] only for the rise y[lo + 1] - y[lo]: the
// staged step selects among the group's 4 rises (subtractions hoisted out of the
// loop by LICM in the pipeline), one tree of 3 selects instead of two trees.
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-NOT: gather
// CHECK: %[[BIT0:.*]] = arith.andi
// CHECK-NEXT: %[[ODD0:.*]] = arith.cmpi ne, %[[BIT0]]
// CHECK-NEXT: arith.select %[[ODD0]]
// CHECK-NEXT: arith.select %[[ODD0]]
// CHECK-NEXT: %[[BIT1:.*]] = arith.andi
// CHECK-NEXT: %[[ODD1:.*]] = arith.cmpi ne, %[[BIT1]]
// CHECK-NEXT: arith.select %[[ODD1]]
// CHECK-NOT: arith.select %[[ODD0]]
// CHECK-NOT: gather
// CHECK-COUNT-4: arith.cmpi eq, %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK-NOT: arith.cmpi eq
// CHECK: } {act.stage, act.tiled = 16 : i64}
// CHECK-COUNT-5: vector.maskedstore %[[TABLE]][%{{.*}}], %{{.*}}, %{{.*}} : memref<?xf64>, vector<8xi1>, vector<8xf64>
// CHECK: memref.dealloc %[[TABLE]]
// CHECK: } else {
// CHECK: llvm.intr.masked.gather
// CHECK-COUNT-8: vector.extract {{.*}} : index from vector<8xindex>
act.activation @pwl attributes {input_names = ["x"], param_names = ["y", "bl", "br", "kl", "kr"],
    param_shapes = ["C,5", "", "", "", ""], param_inits = [array<f64>, array<f64>, array<f64>,
    array<f64>, array<f64>], param_const = array<i1: false, false, false, false, false>} {
^bb0(%x: f64, %y: memref<5xf64>, %bl: f64, %br: f64, %kl: f64, %kr: f64):
  %0 = act.pwl %x, %y, %bl, %br, %kl, %kr : f64, memref<5xf64>
  act.yield %0 : f64
}

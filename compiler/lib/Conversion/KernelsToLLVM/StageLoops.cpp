// act-stage-loops: a long vector loop body becomes a few loops (stages) over a tile.
//
// Why: an out-of-order core overlaps consecutive elements only as far as its
// schedulers hold their waiting operations. A body of N vector operations whose
// dependency chain is L cycles long then costs about L * N / W cycles a vector
// (W: about 150-200 operations on this Zen 5), not the N / 2 its ports allow; a
// chain of 64 dependent FMAs measured 80 cycles a vector, 54 as two stages of 32,
// 37 as four. acon_c's backward body (52 operations, a chain of ~130 cycles)
// measured 37 cycles a vector. Cutting the chain into stages that each run over a
// tile of 16 vectors lets the core overlap the tile's vectors in each stage (16
// against 8: swish's forward 3.17 -> 2.78 ns a vector in cache, one loop's
// overhead and refill spread over twice the vectors; 32 was slower again).
//
// A stage's values that later stages use go through a stack buffer of one tile
// (an L1 store and load each). Input loads, broadcasts and index arithmetic are
// repeated in each stage that needs them. The arithmetic is the same operations
// on the same values: results are bitwise unchanged.
#include "act/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdlib>
#include <optional>

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_STAGELOOPS
#include "act/Conversion/Passes.h.inc"

unsigned defaultStageWork() {
  static const unsigned work = [] {
    if (const char *env = std::getenv("ACT_STAGE_WORK"); env && *env)
      return (unsigned)std::max(1, std::atoi(env));
    return 600u;
  }();
  return work;
}

namespace {

/// Vectors a tile spans: each stage runs over this many before the next starts.
constexpr int64_t kTileVectors = 16;
/// Stages at most: past four the buffer traffic outweighs what overlap gains.
constexpr int kMaxStages = 4;
/// Quick operations a repeated value may be from the loads (see classify).
constexpr unsigned kMaxRepeatedDepth = 1;

/// Estimated result latency in cycles on a recent x86 core (Zen 4/5, Ice Lake and
/// later are within a cycle or two): only the ratios matter, to find where the
/// middle of a chain is.
unsigned latency(Operation *op) {
  if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::CmpFOp, arith::CmpIOp,
          math::RoundEvenOp, math::FloorOp, math::CeilOp, math::TruncOp, math::RoundOp,
          arith::MulIOp>(op))
    return 3;
  if (isa<math::FmaOp, arith::SIToFPOp, arith::UIToFPOp, arith::FPToSIOp, arith::FPToUIOp,
          arith::ExtFOp, arith::TruncFOp, LLVM::CallIntrinsicOp>(op))
    return 4;
  if (isa<arith::MinimumFOp, arith::MaximumFOp, arith::MinNumFOp, arith::MaxNumFOp>(op))
    return 2;
  if (isa<arith::SelectOp, arith::NegFOp, math::AbsFOp, arith::AndIOp, arith::OrIOp,
          arith::XOrIOp, arith::BitcastOp, arith::AddIOp, arith::SubIOp, arith::ShLIOp,
          arith::ShRSIOp, arith::ShRUIOp, arith::ExtUIOp, arith::ExtSIOp, arith::TruncIOp,
          math::CopySignOp>(op))
    return 1;
  if (isa<arith::DivFOp>(op))
    return 11;
  if (isa<math::SqrtOp, math::RsqrtOp>(op))
    return 15;
  if (isa<vector::GatherOp, LLVM::masked_gather>(op))
    return 20;
  if (isa<vector::LoadOp, vector::MaskedLoadOp>(op))
    return 5;
  if (op->getDialect() && op->getDialect()->getNamespace() == "math")
    return 40; // a libm call per lane
  return 3;
}

/// One marked loop's body, analysed and, when long enough, rebuilt as stages.
class LoopStager {
public:
  LoopStager(scf::ForOp loop, unsigned stageWork)
      : loop(loop), body(*loop.getBody()), stageWork(stageWork) {}

  /// Rebuilds the loop in stages if that is possible and worth it.
  void run() {
    if (!analyse())
      return;
    build();
  }

private:
  scf::ForOp loop;
  Block &body;
  unsigned stageWork;
  int stages = 1;
  /// Ops repeated in every stage that uses them (index arithmetic, input loads,
  /// broadcasts): they depend on nothing a stage computes.
  DenseSet<Operation *> repeated;
  /// Computing operations on the way from a load to a repeated op.
  DenseMap<Operation *, unsigned> repeatedDepth;
  /// Accesses to a buffer the loop both reads and writes: last stage, in order.
  DenseSet<Operation *> pinned;
  DenseMap<Operation *, int> stageOf;
  /// The loop's step: the lanes of its vectors (set by analyse).
  int64_t lanes = 0;
  /// Values a later stage reads from a tile buffer, with that buffer.
  DenseMap<Value, Value> buffers;

  bool definedInBody(Value v) {
    Operation *d = v.getDefiningOp();
    return d && d->getBlock() == &body;
  }

  /// The buffer a memory operation reads or writes, and whether it writes it.
  static std::pair<Value, bool> accessedBuffer(Operation &op) {
    using Access = std::pair<Value, bool>;
    return llvm::TypeSwitch<Operation *, Access>(&op)
        .Case<vector::StoreOp, vector::MaskedStoreOp>(
            [](auto o) { return Access{o.getBase(), true}; })
        .Case<vector::LoadOp, vector::MaskedLoadOp, vector::GatherOp>(
            [](auto o) { return Access{o.getBase(), false}; })
        .Case<memref::StoreOp>([](auto o) { return Access{o.getMemRef(), true}; })
        .Case<memref::LoadOp>([](auto o) { return Access{o.getMemRef(), false}; })
        .Default([](Operation *) { return Access{Value(), false}; });
  }

  /// Which ops are repeated in each stage and which stay in the last; false when
  /// the body has an op the stages cannot split around (a region, a side effect).
  bool classify() {
    DenseSet<Value> read, written;
    for (Operation &op : body.without_terminator()) {
      if (op.getNumRegions() > 0)
        return false;
      auto [buffer, writes] = accessedBuffer(op);
      if (buffer)
        (writes ? written : read).insert(buffer);
      else if (!isPure(&op) &&
               !isa<LLVM::CallIntrinsicOp, LLVM::masked_gather, memref::PrefetchOp>(op))
        return false; // (a gather of table pairs reads a parameter: never written)
    }
    // A buffer read and written (gradients accumulated in memory: per channel along
    // C, table entries lane by lane): every access to it stays in the last stage, in
    // the original order, so each vector's update sees the previous one's.
    for (Operation &op : body.without_terminator())
      if (Value m = accessedBuffer(op).first; m && written.contains(m) && read.contains(m))
        pinned.insert(&op);
    for (Operation &op : body.without_terminator()) {
      if (pinned.contains(&op))
        continue;
      bool cheap = isa<vector::LoadOp, vector::MaskedLoadOp, vector::BroadcastOp,
                       vector::CreateMaskOp, arith::ConstantOp>(op) ||
                   llvm::none_of(op.getResultTypes(), [](Type t) { return isa<VectorType>(t); });
      // A quick operation on those (x < 0, -x, beta x) is also repeated: once more
      // in a later stage is cheaper than a buffer's store and load (a mask's also two
      // conversions). Measured in cache: gelu and mish backward 6% faster, pwlu's 5%;
      // two such operations deep gained nothing more.
      unsigned depth = 0;
      for (Value v : op.getOperands())
        if (definedInBody(v) && repeated.contains(v.getDefiningOp()))
          depth = std::max(depth, repeatedDepth.lookup(v.getDefiningOp()));
      bool quick = isPure(&op) && op.getNumResults() == 1 && latency(&op) <= 3 &&
                   !isa<vector::GatherOp, memref::LoadOp>(op) && depth < kMaxRepeatedDepth;
      if (!(cheap || quick) || op.getNumResults() == 0 || isa<memref::LoadOp>(op))
        continue;
      if (llvm::all_of(op.getOperands(), [&](Value v) {
            return !definedInBody(v) || repeated.contains(v.getDefiningOp());
          }) &&
          llvm::none_of(op.getOperands(), [&](Value v) {
            return llvm::is_contained(loop.getRegionIterArgs(), v);
          })) {
        repeated.insert(&op);
        repeatedDepth[&op] = cheap ? depth : depth + 1;
      }
    }
    return true;
  }

  /// Start times on the chain, the number of stages, each op's stage and the values
  /// that cross from one stage to a later one.
  bool analyse() {
    if (!classify())
      return false;
    DenseMap<Operation *, unsigned> start, finish;
    // In the last stage: what depends on an iteration argument or on a pinned access.
    DenseSet<Operation *> carried;
    auto ready = [&](Value v) -> unsigned {
      Operation *d = v.getDefiningOp();
      if (!d || d->getBlock() != &body)
        return 0;
      if (repeated.contains(d))
        return latency(d) * (1 + repeatedDepth.lookup(d));
      return finish.lookup(d);
    };
    unsigned chain = 0;
    for (Operation &op : body.without_terminator()) {
      if (repeated.contains(&op))
        continue;
      unsigned s = 0;
      bool fromCarried = false;
      for (Value v : op.getOperands()) {
        s = std::max(s, ready(v));
        if (llvm::is_contained(loop.getRegionIterArgs(), v) ||
            (v.getDefiningOp() && carried.contains(v.getDefiningOp())))
          fromCarried = true;
      }
      if (fromCarried || pinned.contains(&op))
        carried.insert(&op);
      start[&op] = s;
      finish[&op] = s + latency(&op);
      chain = std::max(chain, finish[&op]);
    }
    // Per stage L/P cycles of chain and N/P operations: P = sqrt(L N / work) brings
    // each stage's L N (what the scheduler must hold) down to about `work`.
    unsigned ops = 0;
    for (Operation &op : body.without_terminator())
      ops += !repeated.contains(&op);
    stages = std::min<int>(kMaxStages, (int)std::lround(std::sqrt((double)chain * ops / stageWork)));
    if (stages < 2)
      return false;
    SmallVector<unsigned> cuts = chooseCuts(start, chain);
    for (Operation &op : body.without_terminator()) {
      if (repeated.contains(&op))
        continue;
      // A store goes with the value it stores.
      int s = 0;
      if (op.getNumResults() > 0)
        while (s < stages - 1 && start[&op] >= cuts[s])
          ++s;
      if (carried.contains(&op))
        s = stages - 1;
      // No earlier than what it uses (stores, and ops after a carried one).
      for (Value v : op.getOperands())
        if (definedInBody(v) && !repeated.contains(v.getDefiningOp()))
          s = std::max(s, stageOf.lookup(v.getDefiningOp()));
      stageOf[&op] = s;
    }
    sinkIntoUsers();
    // Every value a later stage uses must fit a tile buffer: a vector of the loop's
    // width or a multiple of it (pairs of table entries) (i1 masks are kept as bytes).
    std::optional<int64_t> width = getConstantIntValue(loop.getStep());
    lanes = width.value_or(0);
    for (Operation &op : body.without_terminator()) {
      if (!stageOf.count(&op))
        continue;
      for (Value r : op.getResults())
        for (OpOperand &use : r.getUses()) {
          if (userStage(use.getOwner()) <= stageOf[&op])
            continue;
          auto vt = dyn_cast<VectorType>(r.getType());
          if (!vt || vt.getRank() != 1 || !vt.getElementType().isIntOrFloat() ||
              !width || vt.getNumElements() % *width != 0)
            return false;
          buffers[r] = Value();
        }
    }
    return true;
  }

  /// The start times where stage k + 1 begins: near k + 1 equal parts of the chain,
  /// where the fewest values cross (a cut inside exp's polynomial would buffer its
  /// partial sum and r; one after it, only the result).
  SmallVector<unsigned> chooseCuts(const DenseMap<Operation *, unsigned> &start, unsigned chain) {
    struct Def {
      unsigned start, lastUse;
    };
    SmallVector<Def> defs;
    SmallVector<unsigned> candidates;
    for (Operation &op : body.without_terminator()) {
      auto it = start.find(&op);
      if (it == start.end())
        continue;
      candidates.push_back(it->second);
      for (Value r : op.getResults()) {
        unsigned last = 0;
        for (Operation *u : r.getUsers())
          last = std::max(last, isa<scf::YieldOp>(u) ? chain : start.lookup(u));
        defs.push_back({it->second, last});
      }
    }
    llvm::sort(candidates);
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    double length = (double)chain / stages;
    SmallVector<unsigned> cuts;
    for (int k = 1; k < stages; ++k) {
      double ideal = k * length;
      unsigned best = (unsigned)ideal;
      size_t bestCount = SIZE_MAX;
      for (unsigned t : candidates) {
        if (t < ideal - 0.3 * length || t > ideal + 0.3 * length)
          continue;
        if (!cuts.empty() && t <= cuts.back())
          continue;
        size_t count = llvm::count_if(defs, [&](const Def &d) { return d.start < t && d.lastUse >= t; });
        if (count < bestCount ||
            (count == bestCount && std::abs(t - ideal) < std::abs(best - ideal))) {
          best = t;
          bestCount = count;
        }
      }
      cuts.push_back(best);
    }
    return cuts;
  }

  int userStage(Operation *user) {
    return isa<scf::YieldOp>(user) ? stages - 1 : stageOf.lookup(user);
  }
  /// Whether `v` (defined in a stage) is used by a later stage than its own other
  /// than through `except`.
  bool crosses(Value v, Operation *except) {
    Operation *d = v.getDefiningOp();
    if (!d || d->getBlock() != &body || repeated.contains(d))
      return false;
    return llvm::any_of(v.getUsers(), [&](Operation *u) {
      return u != except && userStage(u) > stageOf.lookup(d);
    });
  }

  /// Moves an op into the stage of its users when that saves a tile buffer: when
  /// what it reads crosses anyway (pwlu's 17 tests of one segment index belong with
  /// the 17 accumulations, not with the index: one buffer, not 17 masks).
  void sinkIntoUsers() {
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      if (stageOf.count(&op) && op.getNumResults() == 1)
        ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      Value r = op->getResult(0);
      if (r.use_empty())
        continue;
      int target = stages - 1;
      for (Operation *u : r.getUsers())
        target = std::min(target, userStage(u));
      bool allThere = llvm::all_of(r.getUsers(), [&](Operation *u) { return userStage(u) == target; });
      if (target <= stageOf[op] || !allThere)
        continue;
      unsigned cost = 0;
      SmallPtrSet<Value, 4> seen;
      for (Value v : op->getOperands())
        if (definedInBody(v) && !repeated.contains(v.getDefiningOp()) && seen.insert(v).second &&
            !crosses(v, op))
          ++cost;
      // Masks cross as bytes (two more conversions); a scalar (a lane extracted for a
      // gradient stored lane by lane) cannot cross at all.
      bool mask = getElementTypeOrSelf(r.getType()).isInteger(1);
      bool scalar = !isa<VectorType>(r.getType());
      if (scalar || cost < 1 || (cost == 1 && mask))
        stageOf[op] = target;
    }
  }

  /// The tile buffer's element type for a crossing value.
  static Type bufferElement(VectorType t) {
    Type e = t.getElementType();
    return e.isInteger(1) ? IntegerType::get(t.getContext(), 8) : e;
  }

  void build() {
    Location loc = loop.getLoc();
    auto step = getConstantIntValue(loop.getStep());
    if (!step)
      return;
    // `act.tiled = N`: the loop spans at most N vectors already.
    int64_t vectors = kTileVectors;
    if (auto n = loop->getAttrOfType<IntegerAttr>("act.tiled"))
      vectors = n.getInt();
    int64_t tile = *step * vectors;
    // Tile buffers at the function's entry: allocated once per call.
    auto fn = loop->getParentOfType<func::FuncOp>();
    OpBuilder entry(&fn.getBody().front(), fn.getBody().front().begin());
    for (auto &[value, buffer] : buffers) {
      auto vt = cast<VectorType>(value.getType());
      buffer = entry.create<memref::AllocaOp>(
          loc, MemRefType::get({tile * (vt.getNumElements() / lanes)}, bufferElement(vt)),
          ValueRange{}, ValueRange{}, entry.getI64IntegerAttr(64));
    }

    OpBuilder b(loop);
    bool tiled = loop->hasAttr("act.tiled");
    SmallVector<Value> results;
    if (tiled) {
      results = emitStages(b, loop.getLowerBound(), loop.getUpperBound(), loop.getInitArgs());
    } else {
      Value tileSize = b.create<arith::ConstantIndexOp>(loc, tile);
      auto outer = b.create<scf::ForOp>(
          loc, loop.getLowerBound(), loop.getUpperBound(), tileSize, loop.getInitArgs(),
          [&](OpBuilder &ob, Location loc, Value t, ValueRange args) {
            Value end = ob.create<arith::MinUIOp>(
                loc, ob.create<arith::AddIOp>(loc, t, tileSize), loop.getUpperBound());
            SmallVector<Value> next = emitStages(ob, t, end, args);
            ob.create<scf::YieldOp>(loc, next);
          });
      results.assign(outer.getResults().begin(), outer.getResults().end());
    }
    loop.replaceAllUsesWith(results);
    loop.erase();
  }

  /// Stage loops over [from, to), the last carrying the iteration arguments from
  /// `init`; returns the last one's results.
  SmallVector<Value> emitStages(OpBuilder &b, Value from, Value to, ValueRange init) {
    Location loc = loop.getLoc();
    SmallVector<Value> results;
    for (int s = 0; s < stages; ++s) {
      bool last = s == stages - 1;
      auto stage = b.create<scf::ForOp>(
          loc, from, to, loop.getStep(), last ? init : ValueRange{},
          [&](OpBuilder &sb, Location loc, Value iv, ValueRange args) {
            emitStage(sb, s, iv, args, from);
          });
      if (last)
        results.assign(stage.getResults().begin(), stage.getResults().end());
    }
    return results;
  }

  void emitStage(OpBuilder &b, int s, Value iv, ValueRange args, Value tileStart) {
    Location loc = loop.getLoc();
    IRMapping map;
    map.map(loop.getInductionVar(), iv);
    if (s == stages - 1)
      map.map(loop.getRegionIterArgs(), args);
    Value offset; // iv - tileStart: the element's place in the tile buffers
    // A value's place in its buffer: the element's, times its lanes per loop lane.
    auto at = [&](VectorType vt) -> Value {
      if (!offset)
        offset = b.create<arith::SubIOp>(loc, iv, tileStart);
      int64_t scale = vt.getNumElements() / lanes;
      if (scale == 1)
        return offset;
      return b.create<arith::MulIOp>(loc, offset, b.create<arith::ConstantIndexOp>(loc, scale));
    };
    std::function<Value(Value)> get = [&](Value v) -> Value {
      if (Value m = map.lookupOrNull(v))
        return m;
      if (!definedInBody(v))
        return v;
      Operation *d = v.getDefiningOp();
      if (repeated.contains(d)) {
        for (Value o : d->getOperands())
          get(o);
        b.clone(*d, map);
        return map.lookup(v);
      }
      // From an earlier stage, through its tile buffer.
      auto vt = cast<VectorType>(v.getType());
      Value buffer = buffers.lookup(v);
      Value loaded = b.create<vector::LoadOp>(
          loc, VectorType::get(vt.getShape(), bufferElement(vt)), buffer, ValueRange{at(vt)});
      if (vt.getElementType().isInteger(1))
        loaded = b.create<arith::TruncIOp>(loc, vt, loaded);
      map.map(v, loaded);
      return loaded;
    };
    for (Operation &op : body.without_terminator()) {
      auto it = stageOf.find(&op);
      if (it == stageOf.end() || it->second != s)
        continue;
      for (Value o : op.getOperands())
        get(o);
      Operation *clone = b.clone(op, map);
      for (auto [r, cr] : llvm::zip(op.getResults(), clone->getResults())) {
        Value buffer = buffers.lookup(r);
        if (!buffer)
          continue;
        auto vt = cast<VectorType>(r.getType());
        Value stored = cr;
        if (vt.getElementType().isInteger(1))
          stored = b.create<arith::ExtUIOp>(
              loc, VectorType::get(vt.getShape(), bufferElement(vt)), cr);
        b.create<vector::StoreOp>(loc, stored, buffer, ValueRange{at(vt)});
      }
    }
    SmallVector<Value> yields;
    if (s == stages - 1)
      for (Value v : body.getTerminator()->getOperands())
        yields.push_back(get(v));
    b.create<scf::YieldOp>(loc, yields);
  }
};

struct StageLoopsPass : impl::StageLoopsBase<StageLoopsPass> {
  using StageLoopsBase::StageLoopsBase;
  void runOnOperation() override {
    unsigned work = stageWork ? (unsigned)stageWork : defaultStageWork();
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) {
      if (loop->hasAttr("act.stage"))
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops)
      LoopStager(loop, work).run();
  }
};
} // namespace
} // namespace act

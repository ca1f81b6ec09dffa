// act::search: activation search in the manner of the Swish paper (docs/search.md).
//
//   #include <act/search.h>
//   namespace s = act::search;
//   s::Space space = s::Space::swish();
//   std::vector<s::Candidate> cands = s::enumerate(space, 1);   // 6250 formulas
//   s::Screener screener;
//   for (const s::Screened &r : screener.screen(cands))           // canonical form,
//     if (r.verdict == s::Verdict::Ok) ...                        // fingerprint, verdict
//   s::ProxyData data = s::ProxyData::load(s::defaultDataDir());
//   act::Module m = act::Module::compile(s::definition("cand", formula));
//   s::TrainResult t = s::train(m.get("cand"), data, s::TrainOptions{});
//
// Library act_search (CMake target act::search), over the public act API: every
// value and derivative comes from act's compiled kernels. Matrix products of the
// proxy task go through CBLAS (OpenBLAS); libact itself needs neither.
#pragma once

#include "act/act.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace act::search {

//===----------------------------------------------------------------------===//
// Candidates
//===----------------------------------------------------------------------===//

/// A function of the space as .act text: unary ones use `X` for their argument,
/// binary ones `A` and `B`; `beta` is the candidate's learnable scalar.
struct Function {
  std::string name; ///< short name shown in listings ("x^2", "sigmoid(a)*b")
  std::string text; ///< "X^2", "sigmoid(A) * B"
};

/// The building blocks: core units b(u1(a), u2(b)).
struct Space {
  std::vector<Function> unary, binary;

  /// The Swish paper's sets: 25 unary and 10 binary functions (eps = 1e-6).
  static Space swish();
  /// Parses "name=text" lines (or bare texts) for custom sets; throws act::Error.
  static std::vector<Function> parseFunctions(const std::string &lines, bool binary);
};

/// One formula of the space, or any .act definition.
struct Candidate {
  uint64_t index = 0; ///< its position in the enumeration (stable across runs)
  std::string expr;   ///< the body, an expression in x (and beta)
  std::string source; ///< or else a whole definition `act NAME(x; ...) = ...`
};

/// Every definition of a .act source as a candidate (Candidate::source set, expr
/// the definition's name); throws CompileError with file:line:col.
std::vector<Candidate> candidatesFromSource(const std::string &text,
                                            const std::string &filename);

/// Candidates with exactly `units` core units (1 or 2). One unit:
/// b(u1(x), u2(x)); two units: b2(u3(c), u4(x)) with c a one-unit core.
uint64_t spaceSize(const Space &space, int units);
Candidate candidateAt(const Space &space, int units, uint64_t index);
/// Every candidate (or those in [begin, end)) in index order.
std::vector<Candidate> enumerate(const Space &space, int units, uint64_t begin = 0,
                                 uint64_t end = UINT64_MAX);

/// The .act definition `act NAME(x; beta = 1.0) = EXPR` (beta only when used).
std::string definition(const std::string &name, const std::string &expr);
/// The candidate's definition under the name `name`.
std::string definition(const std::string &name, const Candidate &c);

/// The baselines every search evaluates: relu, swish, gelu, mish, acon_c.
std::vector<std::pair<std::string, std::string>> baselines();

//===----------------------------------------------------------------------===//
// Screening: canonical form, fingerprint, verdict
//===----------------------------------------------------------------------===//

enum class Verdict {
  Ok,
  CompileError,        ///< the expression does not compile
  Duplicate,           ///< same canonical form or fingerprint as an earlier candidate
  NonFinite,           ///< f is inf or NaN at a probe point
  NonFiniteDerivative, ///< f' is inf or NaN at a probe point
  ConstantDerivative,  ///< f is affine (f' the same everywhere)
  ZeroDerivative,      ///< f' = 0 at almost every probe point
  Exploding,           ///< |f| > limit somewhere on |x| <= 5
};
/// "ok", "compile-error", "duplicate", "non-finite", "non-finite-derivative",
/// "constant-derivative", "zero-derivative", "exploding".
const char *verdictName(Verdict v);

struct Screened {
  Candidate candidate;
  std::string canonical;   ///< Activation::canonicalForm(); empty on a compile error
  std::string fingerprint; ///< 16 hex digits; empty on a compile error
  Verdict verdict = Verdict::Ok;
  std::string reason;      ///< a sentence for people ("f'(x) is NaN at x = 0")
  uint64_t duplicateOf = 0; ///< Duplicate: the earlier candidate's index
};

struct ScreenOptions {
  size_t batchSize = 512;      ///< candidates per compiled module
  double explodeLimit = 1e3;   ///< |f| above this on |x| <= 5 is Exploding
  double zeroFraction = 0.9;   ///< |f'| < 1e-9 on this share of probes is ZeroDerivative
  act::CompileOptions compile; ///< kernel cache and so on
};

/// Screening timing, accumulated over calls.
struct ScreenStats {
  size_t candidates = 0, compiled = 0;
  double parseSeconds = 0, jitSeconds = 0, probeSeconds = 0;
};

/// Screens candidates in batches. Duplicates are found across every call of one
/// Screener, the earliest candidate (in call order) being the representative.
class Screener {
public:
  explicit Screener(ScreenOptions options = {});
  std::vector<Screened> screen(const std::vector<Candidate> &candidates);
  const ScreenStats &stats() const { return stats_; }

  /// The probe points (|x| <= 5) and the beta values of fingerprints.
  static const std::vector<double> &probes();

private:
  ScreenOptions options;
  ScreenStats stats_;
  std::unordered_map<std::string, uint64_t> canonicalSeen, fingerprintSeen;
  std::unordered_map<uint64_t, std::string> fingerprintOf; ///< index -> fingerprint
  void screenBatch(const std::vector<Candidate> &batch, std::vector<Screened> &out);
};

/// Which of N shards owns a screened candidate: a hash of its fingerprint (of the
/// text when it has none) mod N. Duplicates carry their representative's
/// fingerprint and go with it, so the shards partition the space exactly.
unsigned shardOf(const Screened &s, unsigned shards);
uint64_t stableHash(const std::string &text);

//===----------------------------------------------------------------------===//
// The proxy task: an MLP on Fashion-MNIST
//===----------------------------------------------------------------------===//

struct Images {
  std::vector<float> pixels; ///< rows * 784, scaled to [0, 1] and standardised
  std::vector<uint8_t> labels;
  size_t rows = 0;
};

struct ProxyData {
  Images train, validation, test;
  /// Reads the IDX .gz files in `dir`; the validation split is the last
  /// `validation` training images. `limit` > 0 keeps the first `limit` training (and
  /// at most `limit` test) images. Throws act::Error naming a missing file.
  static ProxyData load(const std::string &dir, size_t validation = 6000,
                        size_t limit = 0);
};
/// $ACT_FASHION_MNIST or /usr/share/datasets/fashion-mnist.
std::string defaultDataDir();
/// Whether the four IDX files are in `dir`.
bool haveData(const std::string &dir);

struct TrainOptions {
  std::vector<int> hidden = {256, 256};
  int epochs = 1;
  int batch = 128;
  double learningRate = 1e-3; ///< Adam, for weights and the activation's parameters
  uint64_t seed = 1;
  bool evaluateTest = true;
  /// OpenBLAS threads (0: leave OpenBLAS's setting). One by default: sgemm's
  /// results then do not depend on the machine's core count (shards on different
  /// machines agree), and no spinning BLAS threads compete with act's kernels or
  /// with other shards; on the 2-core machine it was also 2-3x faster under load.
  int blasThreads = 1;
};

struct TrainResult {
  bool diverged = false;     ///< the loss went NaN or inf: stopped early
  std::string error;         ///< the activation cannot be trained (per-sample params)
  std::vector<double> losses; ///< mean training loss of every 50 batches
  double validationAccuracy = 0, testAccuracy = 0, trainLoss = 0;
  double seconds = 0;
  int steps = 0;
  std::vector<double> params; ///< the first hidden layer's trained parameters
};

/// Trains the MLP with `activation` in every hidden layer (forward and backward by
/// act's float32 kernels, learnable parameters trained); fixed seeds.
TrainResult train(const act::Activation &activation, const ProxyData &data,
                  const TrainOptions &options = {});

} // namespace act::search

// actc search: enumerate, screen, train and record candidates; `actc search report`
// merges databases and ranks them (docs/search.md).
#include "Actc.h"
#include "SearchDb.h"

#include "act/search.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <unistd.h>

namespace actc {

namespace s = act::search;

namespace {
const char *kSearchUsage = R"USAGE(actc search - search for activations (docs/search.md)

Usage:
  actc search [--space swish|FILE.act] [--unary FILE] [--binary FILE] [--units 1|2]
              [--epochs E] [--db FILE] [--shard I/N] [--limit N] [--sample N]
              [--train-limit N]
              [--seed S] [--data DIR] [--screen-only] [--no-progress]
  actc search report DB... [--top K] [--keys]

  --space swish     the Swish paper's core units b(u1(x), u2(x)) (default);
                    FILE.act: every definition in the file is a candidate
  --unary/--binary  replace the unary (X) or binary (A, B) set: one "name=text"
                    line per function, e.g. "cube=X^3" or "gate=A * sigmoid(B)"
  --units 1|2       core units per candidate (1: 6250 candidates)
  --epochs E        proxy-task epochs per candidate (default 1)
  --db FILE         SQLite results (default search.sqlite); a run with the same
                    settings resumes where it stopped
  --shard I/N       train only the I-th of N slices (0 <= I < N); defaults to
                    SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT when set
  --limit N         only the first N candidates of the space
  --sample N        N candidates evenly spaced over the space (index i * size / N)
  --train-limit N   train on the first N training images (a quick look)
  --data DIR        Fashion-MNIST IDX files (default $ACT_FASHION_MNIST or
                    /usr/share/datasets/fashion-mnist)
  --screen-only     screen and record; train nothing
  report DB...      merge databases, rank by validation accuracy, print the top K
                    (default 20) with test accuracy, and the count of each verdict;
                    --keys prints every row as KEY VERDICT instead
)USAGE";

/// A progress line on a terminal: count, rate and ETA, redrawn in place.
class Progress {
public:
  Progress(std::string phase, size_t total, bool enabled)
      : phase(std::move(phase)), total(total), enabled(enabled),
        t0(std::chrono::steady_clock::now()) {}
  void update(size_t done, const std::string &note = "") {
    if (!enabled)
      return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 24, filled = total ? (int)(width * done / total) : width;
    std::string bar = std::string((size_t)filled, '#') + std::string((size_t)(width - filled), '.');
    std::cerr << fmt::format("\r{:<6} [{}] {}/{} {:.1f}/s ETA {}:{:02d} {}\x1b[K", phase, bar,
                             done, total, rate, (int)eta / 60, (int)eta % 60, note)
              << std::flush;
  }
  void finish() {
    if (enabled)
      std::cerr << "\n";
  }

private:
  std::string phase;
  size_t total;
  bool enabled;
  std::chrono::steady_clock::time_point t0;
};

std::string joinParams(const std::vector<double> &ps) {
  std::string out;
  for (size_t i = 0; i < ps.size() && i < 4; ++i)
    out += fmt::format("{}{:.4g}", i ? "," : "", ps[i]);
  return out + (ps.size() > 4 ? ",..." : "");
}

unsigned parseCount(const std::string &v, const std::string &what) {
  char *end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 1000000000)
    throw UsageError{"bad " + what + " '" + v + "'"};
  return (unsigned)n;
}

void parseShard(const std::string &v, unsigned &shard, unsigned &shards) {
  size_t slash = v.find('/');
  if (slash == std::string::npos)
    throw UsageError{"--shard takes I/N, e.g. 0/4"};
  shard = parseCount(v.substr(0, slash), "shard index");
  shards = parseCount(v.substr(slash + 1), "shard count");
  if (shards == 0 || shard >= shards)
    throw UsageError{"--shard " + v + ": need 0 <= I < N"};
}

/// Trains the rows' definitions (`sources`, compiled 64 to a batch) in order and
/// records each row as soon as its candidate is done.
struct Trainer {
  const s::ProxyData &data;
  s::TrainOptions options;
  SearchDb &db;
  std::string shardText;
  double bestAccuracy = -1;

  void run(std::vector<SearchRow> rows, const std::vector<std::string> &sources,
           Progress &progress, size_t &done, std::string &best) {
    const size_t kBatch = 64;
    for (size_t at = 0; at < rows.size(); at += kBatch) {
      size_t end = std::min(rows.size(), at + kBatch);
      std::string text;
      std::vector<std::string> names;
      for (size_t i = at; i < end; ++i) {
        names.push_back("t" + std::to_string(i));
        text += sources[i];
      }
      act::Module m = act::Module::compile(text, "<search>");
      act::Module::KernelSelection dense; // {n, 256, 1} runs the nsc kernels
      dense.fused = false;
      dense.ncs = false;
      m.compileKernels(act::DType::F32, names, dense);
      for (size_t i = at; i < end; ++i) {
        SearchRow &r = rows[i];
        s::TrainResult t = s::train(m.get(names[i - at]), data, options);
        r.epochs = options.epochs;
        r.trainSeconds = t.seconds;
        r.shard = shardText;
        if (!t.error.empty()) {
          r.verdict = "train-error";
          r.reason = t.error;
        } else if (t.diverged) {
          r.verdict = "nan";
          r.reason = fmt::format("the loss went NaN or inf after {} steps; stopped", t.steps);
        } else {
          r.verdict = "ok";
          r.valAcc = t.validationAccuracy;
          r.testAcc = t.testAccuracy;
          r.trainLoss = t.trainLoss;
          r.params = joinParams(t.params);
          if (t.validationAccuracy > bestAccuracy) {
            bestAccuracy = t.validationAccuracy;
            best = fmt::format("{:.4f} {}", t.validationAccuracy,
                               r.kind == "baseline" ? r.key.substr(r.key.find('/') + 1)
                               : r.canonical.empty() ? r.expr
                                                     : r.canonical);
          }
        }
        db.insert(r);
        progress.update(++done, "best " + best.substr(0, 60));
        // Test hook: die like SIGKILL (no cleanup) after this many rows.
        if (const char *kill = std::getenv("ACT_SEARCH_KILL_AFTER"))
          if (done >= (size_t)std::atol(kill))
            std::_Exit(137);
      }
    }
  }
};

int runReport(Args &args) {
  std::vector<std::string> paths;
  unsigned top = 20;
  bool keysOnly = false;
  while (!args.empty()) {
    std::string v;
    if (args.option("--top", v))
      top = parseCount(v, "--top");
    else if (args.flag("--keys"))
      keysOnly = true;
    else if (args.peek().size() > 1 && args.peek()[0] == '-')
      throw UsageError{"unknown option '" + args.peek() + "' for search report"};
    else
      paths.push_back(args.next());
  }
  if (paths.empty())
    throw UsageError{"search report needs one or more DB files"};
  std::map<std::string, SearchRow> byKey; // the same key in two DBs is one row
  for (const std::string &p : paths) {
    SearchDb db(p, false);
    for (SearchRow &r : db.rows())
      byKey.emplace(r.key, std::move(r));
  }
  if (keysOnly) { // every merged row as "KEY VERDICT", for scripts and tests
    for (const auto &[key, r] : byKey)
      fmt::print("{} {}\n", key, r.verdict);
    return 0;
  }
  std::map<std::string, size_t> verdicts;
  std::vector<const SearchRow *> ranked;
  std::map<std::string, const SearchRow *> byFingerprint;
  std::vector<const SearchRow *> inOrder;
  for (const auto &[key, r] : byKey)
    inOrder.push_back(&r);
  std::stable_sort(inOrder.begin(), inOrder.end(), [](const SearchRow *a, const SearchRow *b) {
    return a->index < b->index;
  });
  for (const SearchRow *row : inOrder) {
    const SearchRow &r = *row;
    ++verdicts[r.verdict];
    if (r.verdict != "ok" || !r.valAcc)
      continue;
    // Shards never share a fingerprint; merged unrelated runs might: keep the
    // earliest candidate.
    if (r.kind == "candidate" && !r.fingerprint.empty()) {
      auto [it, fresh] = byFingerprint.emplace(r.fingerprint, &r);
      if (!fresh)
        continue;
    }
    ranked.push_back(&r);
  }
  std::sort(ranked.begin(), ranked.end(), [](const SearchRow *a, const SearchRow *b) {
    if (*a->valAcc != *b->valAcc)
      return *a->valAcc > *b->valAcc;
    return a->key < b->key;
  });
  fmt::print("{} candidates in {} database(s):", byKey.size(), paths.size());
  for (const auto &[v, n] : verdicts)
    fmt::print(" {} {}", v, n);
  fmt::print("\n\n{:>4}  {:>7}  {:>7}  {:>7}  {:<14}  {}\n", "rank", "val", "test", "train_s",
             "params", "formula");
  for (size_t i = 0; i < ranked.size() && i < top; ++i) {
    const SearchRow &r = *ranked[i];
    std::string name = r.kind == "baseline" ? r.key.substr(r.key.find('/') + 1) + " (baseline)"
                       : r.canonical.empty() ? r.expr
                                             : r.canonical;
    fmt::print("{:>4}  {:>7.4f}  {:>7.4f}  {:>7.1f}  {:<14}  {}\n", i + 1, *r.valAcc,
               r.testAcc.value_or(0), r.trainSeconds, r.params, name);
  }
  return 0;
}
} // namespace

int runSearch(Args &args) {
  if (!args.empty() && args.peek() == "report") {
    args.next();
    return runReport(args);
  }
  std::string spaceName = "swish", unaryFile, binaryFile, dbPath = "search.sqlite";
  std::string dataDir = s::defaultDataDir();
  unsigned units = 1, epochs = 1, shard = 0, shards = 1, limit = 0, sample = 0, trainLimit = 0,
           seed = 1;
  bool screenOnly = false, progressWanted = isatty(2), shardGiven = false;
  while (!args.empty()) {
    std::string v;
    if (args.flag("--help") || args.flag("-h")) {
      std::cout << kSearchUsage;
      return 0;
    }
    if (args.option("--space", v))
      spaceName = v;
    else if (args.option("--unary", v))
      unaryFile = v;
    else if (args.option("--binary", v))
      binaryFile = v;
    else if (args.option("--units", v))
      units = parseCount(v, "--units");
    else if (args.option("--epochs", v))
      epochs = parseCount(v, "--epochs");
    else if (args.option("--db", v))
      dbPath = v;
    else if (args.option("--shard", v)) {
      parseShard(v, shard, shards);
      shardGiven = true;
    } else if (args.option("--limit", v))
      limit = parseCount(v, "--limit");
    else if (args.option("--sample", v))
      sample = parseCount(v, "--sample");
    else if (args.option("--train-limit", v))
      trainLimit = parseCount(v, "--train-limit");
    else if (args.option("--seed", v))
      seed = parseCount(v, "--seed");
    else if (args.option("--data", v))
      dataDir = v;
    else if (args.flag("--screen-only"))
      screenOnly = true;
    else if (args.flag("--no-progress"))
      progressWanted = false;
    else
      throw UsageError{"unknown argument '" + args.peek() + "' for search (see actc search --help)"};
  }
  if (units != 1 && units != 2)
    throw UsageError{"--units must be 1 or 2"};
  if (!shardGiven && std::getenv("SLURM_ARRAY_TASK_ID") && std::getenv("SLURM_ARRAY_TASK_COUNT")) {
    const char *min = std::getenv("SLURM_ARRAY_TASK_MIN");
    unsigned id = parseCount(std::getenv("SLURM_ARRAY_TASK_ID"), "SLURM_ARRAY_TASK_ID");
    unsigned base = min ? parseCount(min, "SLURM_ARRAY_TASK_MIN") : 0;
    parseShard(std::to_string(id - std::min(id, base)) + "/" +
                   std::getenv("SLURM_ARRAY_TASK_COUNT"), shard, shards);
  }

  // The candidates.
  std::vector<s::Candidate> candidates;
  std::string spaceKey, sampleText = "all";
  if (spaceName == "swish") {
    s::Space space = s::Space::swish();
    auto functions = [](const std::string &path, bool binary) {
      try {
        return s::Space::parseFunctions(readFile(path), binary);
      } catch (const act::Error &e) {
        throw UsageError{path + ": " + e.what()};
      }
    };
    if (!unaryFile.empty())
      space.unary = functions(unaryFile, false);
    if (!binaryFile.empty())
      space.binary = functions(binaryFile, true);
    uint64_t size = s::spaceSize(space, (int)units);
    if (limit)
      size = std::min<uint64_t>(size, limit);
    const uint64_t kMaxScreened = 2000000; // ~2.5 h of screening per process
    if (size > kMaxScreened && (!sample || sample > kMaxScreened))
      throw UsageError{fmt::format("the {}-unit space has {} candidates; choose at most {} "
                                   "with --limit N or --sample N",
                                   units, size, kMaxScreened)};
    if (sample && sample < size) { // evenly spaced: every binary function appears
      for (uint64_t i = 0; i < sample; ++i)
        candidates.push_back(s::candidateAt(space, (int)units, i * size / sample));
    } else {
      candidates = s::enumerate(space, (int)units, 0, size);
    }
    spaceKey = "swish" + (unaryFile.empty() ? "" : "+" + unaryFile) +
               (binaryFile.empty() ? "" : "+" + binaryFile) + "/" + std::to_string(units);
    if (sample)
      sampleText = std::to_string(sample);
  } else {
    candidates = s::candidatesFromSource(readFile(spaceName), spaceName);
    if (limit && candidates.size() > limit)
      candidates.resize(limit);
    spaceKey = spaceName;
  }

  if (!screenOnly && !s::haveData(dataDir))
    throw UsageError{"no Fashion-MNIST IDX files in '" + dataDir +
                     "' (install dataset-fashion-mnist, or pass --data DIR)"};
  SearchDb db(dbPath, true);
  std::string shardText = std::to_string(shard) + "/" + std::to_string(shards);
  db.checkSettings({{"space", spaceKey}, {"sample", sampleText}, {"epochs", std::to_string(epochs)},
                    {"seed", std::to_string(seed)}, {"train_limit", std::to_string(trainLimit)},
                    {"shard", shardText}});
  std::set<std::string> have = db.keys();
  if (!have.empty())
    std::cerr << fmt::format("resuming: {} rows already in {}\n", have.size(), dbPath);

  // Screening: every shard screens the whole space (deduplication needs it; it is
  // cheap and the kernel cache makes it cheaper), then keeps its own slice.
  s::Screener screener;
  Progress screenBar("screen", candidates.size(), progressWanted);
  std::vector<s::Screened> screened;
  const size_t kChunk = 512;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t at = 0; at < candidates.size(); at += kChunk) {
    std::vector<s::Candidate> part(candidates.begin() + (ptrdiff_t)at,
                                   candidates.begin() + (ptrdiff_t)std::min(candidates.size(), at + kChunk));
    for (s::Screened &r : screener.screen(part))
      screened.push_back(std::move(r));
    screenBar.update(screened.size());
  }
  screenBar.finish();
  double screenSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double perCandidateMs = candidates.empty() ? 0 : 1000 * screenSeconds / (double)candidates.size();
  size_t unique = 0, ok = 0;
  for (const s::Screened &r : screened) {
    unique += r.verdict != s::Verdict::Duplicate;
    ok += r.verdict == s::Verdict::Ok;
  }
  std::cerr << fmt::format("screened {} candidates in {:.1f} s ({:.0f}/s): {} distinct, {} pass\n",
                           candidates.size(), screenSeconds,
                           screenSeconds > 0 ? (double)candidates.size() / screenSeconds : 0.0,
                           unique, ok);

  // This shard's rows: screened-out ones now, passing ones after training.
  std::vector<SearchRow> rejected, todo;
  std::vector<std::string> sources;
  for (const s::Screened &r : screened) {
    if (s::shardOf(r, shards) != shard)
      continue;
    SearchRow row;
    row.key = spaceKey + "/" + std::to_string(r.candidate.index);
    if (have.count(row.key))
      continue;
    row.index = (long long)r.candidate.index;
    row.kind = "candidate";
    row.expr = r.candidate.source.empty() ? r.candidate.expr : r.candidate.source;
    row.canonical = r.canonical;
    row.fingerprint = r.fingerprint;
    row.verdict = s::verdictName(r.verdict);
    row.reason = r.reason;
    row.duplicateOf = r.verdict == s::Verdict::Duplicate ? (long long)r.duplicateOf : -1;
    row.screenMs = perCandidateMs;
    row.shard = shardText;
    if (r.verdict == s::Verdict::Ok && !screenOnly) {
      sources.push_back(s::definition("t" + std::to_string(todo.size()), r.candidate));
      todo.push_back(std::move(row));
    } else {
      rejected.push_back(std::move(row));
    }
  }
  db.insertAll(rejected);
  if (shard == 0 && !screenOnly) // baselines: once per search, with shard 0
    for (const auto &[name, text] : s::baselines()) {
      SearchRow row;
      row.key = "baseline/" + name;
      if (have.count(row.key))
        continue;
      row.kind = "baseline";
      row.expr = text;
      row.shard = shardText;
      std::string src = text;
      src.replace(src.find(name), name.size(), "t" + std::to_string(todo.size()));
      sources.push_back(src + "\n");
      todo.push_back(std::move(row));
    }
  if (screenOnly || todo.empty()) {
    std::cerr << fmt::format("{} rows recorded in {}; nothing to train\n", rejected.size(), dbPath);
    return 0;
  }

  // Training, in order; each row is written when its candidate is done.
  s::ProxyData data = s::ProxyData::load(dataDir, 6000, trainLimit);
  s::TrainOptions options;
  options.epochs = (int)epochs;
  options.seed = seed;
  Trainer trainer{data, options, db, shardText};
  Progress trainBar("train", todo.size(), progressWanted);
  size_t done = 0;
  std::string best;
  if (!progressWanted)
    std::cerr << fmt::format("training {} candidates (shard {})\n", todo.size(), shardText);
  trainer.run(std::move(todo), sources, trainBar, done, best);
  trainBar.finish();
  std::cerr << fmt::format("done: {} trained; `actc search report {}` ranks them\n", done, dbPath);
  return 0;
}

} // namespace actc

// actc search: the results database (SQLite), one row per candidate.
#pragma once

#include <sqlite3.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace actc {

/// One candidate's row. Rows are written once, when the candidate is final
/// (screened out, or trained), each in its own transaction: a killed run loses at
/// most the candidate it was training, and a resumed run skips every key present.
struct SearchRow {
  std::string key;         ///< "swish/1/123", "file.act/NAME", "baseline/relu"
  long long index = -1;    ///< enumeration index (-1 for baselines)
  std::string kind;        ///< "candidate" or "baseline"
  std::string expr, canonical, fingerprint, verdict, reason;
  long long duplicateOf = -1;
  std::optional<double> valAcc, testAcc, trainLoss;
  std::string params;      ///< trained parameters of the first hidden layer
  double screenMs = 0, trainSeconds = 0;
  int epochs = 0;
  std::string shard;       ///< "i/N"
};

class SearchDb {
public:
  /// Opens (creating when `create`) the database; throws UsageError with SQLite's
  /// message when the file is not a search database.
  SearchDb(const std::string &path, bool create);
  ~SearchDb();
  SearchDb(const SearchDb &) = delete;
  SearchDb &operator=(const SearchDb &) = delete;

  /// The run's settings: stored on first use, compared on resume (a mismatch is a
  /// UsageError naming the setting).
  void checkSettings(const std::map<std::string, std::string> &settings);
  std::set<std::string> keys();
  void insert(const SearchRow &row);
  void insertAll(const std::vector<SearchRow> &rows);
  std::vector<SearchRow> rows();

private:
  sqlite3 *db = nullptr;
  std::string path;
  void exec(const std::string &sql);
  void insertOne(const SearchRow &row);
  [[noreturn]] void fail(const std::string &what);
};

} // namespace actc

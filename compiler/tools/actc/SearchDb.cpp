// actc search: the SQLite results database.
#include "SearchDb.h"

#include "Actc.h"

#include <sys/stat.h>

namespace actc {

namespace {
const char *kSchema = R"(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates(
  key TEXT PRIMARY KEY,
  idx INTEGER NOT NULL,
  kind TEXT NOT NULL,
  expr TEXT NOT NULL,
  canonical TEXT,
  fingerprint TEXT,
  verdict TEXT NOT NULL,
  reason TEXT,
  duplicate_of INTEGER,
  val_acc REAL,
  test_acc REAL,
  train_loss REAL,
  params TEXT,
  screen_ms REAL,
  train_s REAL,
  epochs INTEGER,
  shard TEXT,
  finished_at TEXT DEFAULT CURRENT_TIMESTAMP);
)";
} // namespace

SearchDb::SearchDb(const std::string &path, bool create) : path(path) {
  struct stat st;
  if (!create && ::stat(path.c_str(), &st) != 0)
    throw UsageError{"no database '" + path + "'"};
  int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK)
    fail("cannot open");
  sqlite3_busy_timeout(db, 10000);
  if (create) {
    exec("PRAGMA journal_mode=WAL");
    exec(kSchema);
  } else {
    exec("SELECT count(*) FROM candidates"); // fails on a file that is not ours
  }
}

SearchDb::~SearchDb() { sqlite3_close(db); }

void SearchDb::fail(const std::string &what) {
  std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
  if (msg.find("no such table") != std::string::npos)
    msg = "not an actc search database";
  throw UsageError{what + " '" + path + "': " + msg};
}

void SearchDb::exec(const std::string &sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    fail("database");
}

void SearchDb::checkSettings(const std::map<std::string, std::string> &settings) {
  exec("BEGIN IMMEDIATE");
  for (const auto &[key, value] : settings) {
    sqlite3_stmt *st = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    std::optional<std::string> stored;
    if (sqlite3_step(st) == SQLITE_ROW)
      stored = (const char *)sqlite3_column_text(st, 0);
    sqlite3_finalize(st);
    if (stored && *stored != value) {
      exec("ROLLBACK");
      throw UsageError{"'" + path + "' holds a search with " + key + " = " + *stored +
                       ", not " + value + "; resume with the same settings or use another --db"};
    }
    if (!stored) {
      sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?, ?)", -1, &st, nullptr);
      sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_finalize(st);
        fail("writing");
      }
      sqlite3_finalize(st);
    }
  }
  exec("COMMIT");
}

std::set<std::string> SearchDb::keys() {
  std::set<std::string> out;
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT key FROM candidates", -1, &st, nullptr) != SQLITE_OK)
    fail("reading");
  while (sqlite3_step(st) == SQLITE_ROW)
    out.insert((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

void SearchDb::insertOne(const SearchRow &r) {
  sqlite3_stmt *st = nullptr;
  const char *sql =
      "INSERT OR IGNORE INTO candidates(key, idx, kind, expr, canonical, fingerprint, "
      "verdict, reason, duplicate_of, val_acc, test_acc, train_loss, params, screen_ms, "
      "train_s, epochs, shard) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    fail("writing");
  int i = 0;
  auto text = [&](const std::string &s) {
    sqlite3_bind_text(st, ++i, s.c_str(), -1, SQLITE_TRANSIENT);
  };
  auto real = [&](const std::optional<double> &v) {
    if (v)
      sqlite3_bind_double(st, ++i, *v);
    else
      sqlite3_bind_null(st, ++i);
  };
  text(r.key);
  sqlite3_bind_int64(st, ++i, r.index);
  text(r.kind);
  text(r.expr);
  text(r.canonical);
  text(r.fingerprint);
  text(r.verdict);
  text(r.reason);
  if (r.duplicateOf >= 0)
    sqlite3_bind_int64(st, ++i, r.duplicateOf);
  else
    sqlite3_bind_null(st, ++i);
  real(r.valAcc);
  real(r.testAcc);
  real(r.trainLoss);
  text(r.params);
  sqlite3_bind_double(st, ++i, r.screenMs);
  sqlite3_bind_double(st, ++i, r.trainSeconds);
  sqlite3_bind_int(st, ++i, r.epochs);
  text(r.shard);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    fail("writing");
}

void SearchDb::insert(const SearchRow &row) { insertAll({row}); }

void SearchDb::insertAll(const std::vector<SearchRow> &rows) {
  exec("BEGIN IMMEDIATE");
  try {
    for (const SearchRow &r : rows)
      insertOne(r);
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  exec("COMMIT");
}

std::vector<SearchRow> SearchDb::rows() {
  std::vector<SearchRow> out;
  sqlite3_stmt *st = nullptr;
  const char *sql =
      "SELECT key, idx, kind, expr, canonical, fingerprint, verdict, reason, duplicate_of, "
      "val_acc, test_acc, train_loss, params, screen_ms, train_s, epochs, shard "
      "FROM candidates ORDER BY idx";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    fail("reading");
  auto text = [&](int c) {
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? std::string((const char *)t) : std::string();
  };
  auto real = [&](int c) -> std::optional<double> {
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
      return std::nullopt;
    return sqlite3_column_double(st, c);
  };
  while (sqlite3_step(st) == SQLITE_ROW) {
    SearchRow r;
    r.key = text(0);
    r.index = sqlite3_column_int64(st, 1);
    r.kind = text(2);
    r.expr = text(3);
    r.canonical = text(4);
    r.fingerprint = text(5);
    r.verdict = text(6);
    r.reason = text(7);
    r.duplicateOf = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    r.valAcc = real(9);
    r.testAcc = real(10);
    r.trainLoss = real(11);
    r.params = text(12);
    r.screenMs = sqlite3_column_double(st, 13);
    r.trainSeconds = sqlite3_column_double(st, 14);
    r.epochs = sqlite3_column_int(st, 15);
    r.shard = text(16);
    out.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  return out;
}

} // namespace actc

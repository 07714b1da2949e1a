#include "server/store/sqlite_db.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ptune::store::sqlite {
namespace {

// One execution of a prepared statement; resets and clears its bindings
// when destroyed (returning a cached statement to its Db), or finalizes it
// when it was prepared just for this use.
class SqliteStatement : public sql::StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, bool* in_use,
                  std::function<void()> count)
      : db_(db), stmt_(stmt), in_use_(in_use), count_(std::move(count)) {}
  ~SqliteStatement() override {
    if (in_use_ == nullptr) {
      sqlite3_finalize(stmt_);
      return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  }

  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }
  void BindInt(int index, int64_t value) override {
    sqlite3_bind_int64(stmt_, index, value);
  }
  void BindDouble(int index, double value) override {
    sqlite3_bind_double(stmt_, index, value);
  }
  void BindText(int index, absl::string_view text) override {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                        SQLITE_UTF8);
  }
  void BindBlob(int index, absl::string_view bytes) override {
    // A zero-length blob must still be a BLOB, not NULL: pass a non-null
    // pointer.
    static const char kEmpty = 0;
    const char* data = bytes.empty() ? &kEmpty : bytes.data();
    sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT);
  }

  absl::StatusOr<bool> Step() override {
    if (!started_) {
      started_ = true;
      count_();
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, "sqlite step");
  }
  int64_t changes() const override { return sqlite3_changes64(db_); }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const override {
    // Blob first, then the size: the documented safe order.
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr || size <= 0) return std::string();
    return std::string(static_cast<const char*>(data), size);
  }
  bool IsNull(int col) const override {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
  std::function<void()> count_;
  bool started_ = false;
};

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const std::string message = absl::StrCat(
      what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::AlreadyExistsError(message);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return absl::NotFoundError(message);
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

const sql::Dialect& SqliteDialect() {
  static const sql::Dialect kDialect{
      .name = "sqlite",
      .blob_type = "BLOB",
      .for_update = "",
      .for_update_skip_locked = "",
      // julianday has millisecond resolution; leases are seconds long.
      .now_micros = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
      .notify_jobs = nullptr,
  };
  return kDialect;
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                             absl::Duration busy_timeout) {
  sqlite3* handle = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "cannot open SQLite database '", path, "': ",
        handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc)));
    sqlite3_close(handle);
    return status;
  }
  sqlite3_extended_result_codes(handle, 1);
  std::unique_ptr<Db> db(new Db(handle));
  sqlite3_busy_timeout(handle,
                       static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
  {
    absl::StatusOr<sql::Statement> wal = db->Prepare("PRAGMA journal_mode=WAL");
    if (!wal.ok()) return wal.status();
    absl::StatusOr<bool> row = wal->Step();
    if (!row.ok()) return row.status();
    const std::string mode = *row ? wal->Text(0) : "";
    if (path != ":memory:" && mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot put '", path, "' in WAL mode (got '", mode, "')"));
    }
  }
  if (absl::Status s = db->Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;
  if (absl::Status s = db->Exec("PRAGMA foreign_keys=ON"); !s.ok()) return s;
  return db;
}

Db::~Db() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

absl::StatusOr<sql::Statement> Db::Prepare(const char* sql) {
  auto count = [this] { CountRoundTrip(); };
  auto it = cache_.find(sql);
  if (it != cache_.end() && it->second.in_use) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, absl::StrCat("prepare '", sql, "'"));
    }
    return sql::Statement(
        std::make_unique<SqliteStatement>(db_, stmt, /*in_use=*/nullptr, count));
  }
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                      &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, absl::StrCat("prepare '", sql, "'"));
    }
    it = cache_.emplace(sql, Cached{stmt, false}).first;
  }
  it->second.in_use = true;
  return sql::Statement(std::make_unique<SqliteStatement>(
      db_, it->second.stmt, &it->second.in_use, count));
}

absl::Status Db::Exec(const char* sql) {
  CountRoundTrip();
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(db_, rc, "exec");
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

}  // namespace ptune::store::sqlite

// A thin RAII layer over the SQLite C API for the SQLite store: one
// connection, cached prepared statements with bound parameters, and
// transactions. Internal to server/store.
#ifndef PTUNE_SERVER_STORE_SQLITE_DB_H_
#define PTUNE_SERVER_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ptune::store::sqlite {

// Bytes to bind as a BLOB (a plain string binds as TEXT).
struct Blob {
  absl::string_view bytes;
};

// Maps a SQLite result code to a status: constraint UNIQUE/PRIMARY KEY ->
// ALREADY_EXISTS, FOREIGN KEY -> NOT_FOUND, BUSY/LOCKED -> UNAVAILABLE,
// anything else -> INTERNAL. `what` names the operation.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

// One execution of a prepared statement; resets and clears its bindings
// when destroyed (returning a cached statement to its Db), or finalizes it
// when it was prepared just for this use. Parameters are 1-based as in
// SQLite; columns 0-based.
//
// Thread-safety: none; used under the store's mutex. Ownership: borrows a
// cached statement (`in_use` is its Db's busy flag) or owns an uncached one
// (`in_use` null).
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* in_use)
      : db_(db), stmt_(stmt), in_use_(in_use) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept
      : db_(other.db_), stmt_(other.stmt_), in_use_(other.in_use_) {
    other.stmt_ = nullptr;
  }

  // Binds the values to parameters 1..n in order.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 1;
    (Bind(index++, args), ...);
    return *this;
  }
  void Bind(int index, int64_t value);
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, bool value) { Bind(index, int64_t{value ? 1 : 0}); }
  void Bind(int index, double value);
  void Bind(int index, absl::string_view text);
  void Bind(int index, const std::string& text) {
    Bind(index, absl::string_view(text));
  }
  void Bind(int index, const char* text) {
    Bind(index, absl::string_view(text));
  }
  void Bind(int index, Blob blob);
  void Bind(int index, absl::Time time) { Bind(index, ToMicros(time)); }
  void Bind(int index, const std::optional<absl::Time>& time);
  void Bind(int index, std::nullopt_t);

  // Advances: true when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion (for statements without rows).
  absl::Status Run();
  // Rows changed by the last Run().
  int64_t changes() const;

  int64_t Int(int col) const;
  double Double(int col) const;
  bool Bool(int col) const { return Int(col) != 0; }
  std::string Text(int col) const;  // TEXT or BLOB bytes
  bool IsNull(int col) const;
  absl::Time Time(int col) const { return FromMicros(Int(col)); }
  std::optional<absl::Time> OptionalTime(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
};

// One SQLite connection with a cache of prepared statements.
//
// Thread-safety: none; the store serializes all use with its mutex.
class Db {
 public:
  // Opens (creating) the file; ":memory:" opens a private database.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();

  // A statement for `sql`, prepared once and reused; while one is alive, the
  // same SQL gets a fresh, uncached statement (nested use stays correct).
  absl::StatusOr<Statement> Prepare(const char* sql);
  // Runs one or more statements without parameters (schema, pragmas).
  absl::Status Exec(const char* sql);
  sqlite3* handle() { return db_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, Cached> cache_;
};

// BEGIN IMMEDIATE on construction (the write lock at once, so two writers
// never deadlock upgrading); ROLLBACK on destruction unless committed.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(Db* db);
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;
  bool done_ = false;
};

}  // namespace ptune::store::sqlite

#endif  // PTUNE_SERVER_STORE_SQLITE_DB_H_

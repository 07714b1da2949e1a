// The SQLite engine of the SQL layer (server/store/sql.h): one connection
// to one file, with a cache of prepared statements. Internal to
// server/store.
#ifndef PTUNE_SERVER_STORE_SQLITE_DB_H_
#define PTUNE_SERVER_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/sql.h"

namespace ptune::store::sqlite {

// Maps a SQLite result code to a status as sql::Connection documents.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

const sql::Dialect& SqliteDialect();

class Db : public sql::Connection {
 public:
  // Opens (creating) the file; ":memory:" opens a private database. Sets the
  // busy timeout, WAL mode (files), synchronous=FULL and foreign keys.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path,
                                                  absl::Duration busy_timeout);
  ~Db() override;

  const sql::Dialect& dialect() const override { return SqliteDialect(); }
  // Prepared once and reused; while one is in use, the same SQL gets a
  // fresh, uncached statement (nested use stays correct).
  absl::StatusOr<sql::Statement> Prepare(const char* sql) override;
  absl::Status Exec(const char* sql) override;
  // BEGIN IMMEDIATE: the write lock at once, so two writers never deadlock
  // upgrading a read lock.
  absl::Status Begin() override { return Exec("BEGIN IMMEDIATE"); }
  absl::Status LockMigrations() override { return absl::OkStatus(); }
  absl::Status UnlockMigrations() override { return absl::OkStatus(); }
  bool healthy() const override { return true; }

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

}  // namespace ptune::store::sqlite

#endif  // PTUNE_SERVER_STORE_SQLITE_DB_H_

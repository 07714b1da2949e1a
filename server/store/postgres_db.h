// The PostgreSQL engine of the SQL layer (server/store/sql.h), on libpq:
// Debian's libpq-dev is the client every PostgreSQL tool uses, its C API is
// small and stable, and the store needs nothing a C++ wrapper (libpqxx)
// would add beyond what sql.h already is. Internal to server/store.
#ifndef PTUNE_SERVER_STORE_POSTGRES_DB_H_
#define PTUNE_SERVER_STORE_POSTGRES_DB_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sql.h"

struct pg_conn;

namespace ptune::store::postgres {

const sql::Dialect& PostgresDialect();

// One libpq connection. Statements are prepared on the server once per
// connection (named, reused); parameters travel as text, byte strings in
// binary; results come in binary.
class Db : public sql::Connection {
 public:
  // `uri` as libpq reads it (postgres://user@host:port/db?sslmode=...); the
  // password comes from PGPASSFILE / ~/.pgpass, never from a log line:
  // errors name the host and database only.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& uri);
  ~Db() override;

  const sql::Dialect& dialect() const override { return PostgresDialect(); }
  absl::StatusOr<sql::Statement> Prepare(const char* sql) override;
  absl::Status Exec(const char* sql) override;
  absl::Status Begin() override { return Exec("BEGIN"); }
  absl::Status LockMigrations() override;
  absl::Status UnlockMigrations() override;
  bool healthy() const override;
  // LISTEN ptune_jobs on the first call; then poll(2) on the socket.
  absl::StatusOr<std::vector<std::string>> WaitForJobNotifications(
      absl::Duration timeout) override;

  // Maps a failed result (or a connection failure when `result` is null) to
  // a status as sql::Connection documents; marks the connection broken when
  // the server is gone.
  absl::Status Error(const void* result, const char* what);

 private:
  explicit Db(pg_conn* conn) : conn_(conn) {}
  pg_conn* conn_;
  std::map<std::string, std::string> prepared_;  // SQL -> statement name
  bool broken_ = false;
  bool listening_ = false;
};

// "?" placeholders -> "$1", "$2", ... (outside quoted literals).
std::string NumberPlaceholders(const char* sql);

}  // namespace ptune::store::postgres

#endif  // PTUNE_SERVER_STORE_POSTGRES_DB_H_

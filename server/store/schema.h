// The store's schema as an ordered list of migrations, one list for both
// engines (column types differ only where sql::Dialect says), applied at
// open in transactions and recorded in `schema_migrations`. Internal to
// server/store.
#ifndef PTUNE_SERVER_STORE_SCHEMA_H_
#define PTUNE_SERVER_STORE_SCHEMA_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sql.h"

namespace ptune::store::schema {

struct Migration {
  int version;  // 1, 2, 3, ... in order
  // One or more statements; "{blob}" stands for Dialect::blob_type.
  const char* sql;
  // Runs after `sql` in the same transaction (data that SQL cannot compute,
  // e.g. digests of existing rows); may be null.
  std::function<absl::Status(sql::Connection&)> backfill;
};

// Every migration this binary knows, ascending.
const std::vector<Migration>& Migrations();
int LatestSchemaVersion();

// The highest version recorded in schema_migrations (0 for a new database).
absl::StatusOr<int> CurrentSchemaVersion(sql::Connection& c);

// Applies the missing migrations up to `target_version`, each in its own
// transaction, under Connection::LockMigrations, so replicas starting at
// once migrate exactly once. FAILED_PRECONDITION when the database is newer
// than `target_version` (written by a newer binary).
absl::Status Migrate(sql::Connection& c, int target_version);

}  // namespace ptune::store::schema

#endif  // PTUNE_SERVER_STORE_SCHEMA_H_

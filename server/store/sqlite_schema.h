// The SQLite store's schema as an ordered list of migrations, applied at
// open in transactions and recorded in `schema_migrations`.
#ifndef PTUNE_SERVER_STORE_SQLITE_SCHEMA_H_
#define PTUNE_SERVER_STORE_SQLITE_SCHEMA_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sqlite_db.h"

namespace ptune::store::sqlite {

struct Migration {
  int version;      // 1, 2, 3, ... in order
  const char* sql;  // one or more statements, portable SQL where possible
};

// Every migration this binary knows, ascending.
const std::vector<Migration>& Migrations();
int LatestSchemaVersion();

// The highest version recorded in schema_migrations (0 for a new file).
absl::StatusOr<int> CurrentSchemaVersion(Db* db);

// Applies the missing migrations up to `target_version`, each in its own
// transaction. FAILED_PRECONDITION when the file's version is newer than
// `target_version` (written by a newer binary).
absl::Status Migrate(Db* db, int target_version);

}  // namespace ptune::store::sqlite

#endif  // PTUNE_SERVER_STORE_SQLITE_SCHEMA_H_

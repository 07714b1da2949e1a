#include "server/store/sqlite_schema.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"

namespace ptune::store::sqlite {
namespace {

// Types are TEXT / BIGINT / DOUBLE PRECISION / BLOB so that the same DDL
// reads right for PostgreSQL (BLOB -> BYTEA aside). Times are unix micros.
constexpr char kV1Tables[] = R"sql(
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  disabled BIGINT NOT NULL,
  max_prompts BIGINT NOT NULL,
  max_concurrent_jobs BIGINT NOT NULL,
  max_stored_bytes BIGINT NOT NULL,
  requests_per_second DOUBLE PRECISION NOT NULL,
  burst BIGINT NOT NULL
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key_hash TEXT NOT NULL UNIQUE,
  display_prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  task TEXT NOT NULL,
  format TEXT NOT NULL,
  content BLOB NOT NULL,
  size_bytes BIGINT NOT NULL,
  example_count BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE prompt_versions (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  state TEXT NOT NULL,
  task TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  labels_json TEXT NOT NULL,
  metrics_json TEXT NOT NULL,
  artifact_safetensors BLOB NOT NULL,
  artifact_json TEXT NOT NULL,
  job_id TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name, version)
);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  seq BIGINT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  prompt_name TEXT NOT NULL,
  prompt_version BIGINT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  request_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  progress_json TEXT NOT NULL,
  checkpoint BLOB NOT NULL,
  attempts BIGINT NOT NULL,
  cancel_requested BIGINT NOT NULL
);
)sql";

// Lookups by tenant and the queue's "oldest queued job per tenant" query.
constexpr char kV2Indexes[] = R"sql(
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
CREATE INDEX datasets_by_tenant ON datasets (tenant_id);
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, seq);
CREATE INDEX jobs_by_state ON jobs (state, tenant_id, seq);
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, kV1Tables},
      {2, kV2Indexes},
  };
  return *kMigrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> CurrentSchemaVersion(Db* db) {
  RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
               "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"));
  ASSIGN_OR_RETURN(Statement stmt,
                   db->Prepare("SELECT COALESCE(MAX(version), 0) "
                               "FROM schema_migrations"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return 0;
  return static_cast<int>(stmt.Int(0));
}

absl::Status Migrate(Db* db, int target_version) {
  ASSIGN_OR_RETURN(int current, CurrentSchemaVersion(db));
  if (current > target_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database schema is version ", current,
        " but this binary knows versions up to ", target_version,
        "; it was written by a newer ptune: upgrade the binary"));
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= current || migration.version > target_version) {
      continue;
    }
    ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db));
    absl::Status applied = db->Exec(migration.sql);
    if (!applied.ok()) {
      return absl::InternalError(absl::StrCat("schema migration ",
                                              migration.version,
                                              " failed: ", applied.message()));
    }
    {
      ASSIGN_OR_RETURN(Statement record,
                       db->Prepare("INSERT INTO schema_migrations "
                                   "(version, applied_at) VALUES (?, ?)"));
      record.BindAll(migration.version, absl::Now());
      RETURN_IF_ERROR(record.Run());
    }
    RETURN_IF_ERROR(txn->Commit());
  }
  return absl::OkStatus();
}

}  // namespace ptune::store::sqlite

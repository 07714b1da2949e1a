#include "server/store/schema.h"

#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/digest.h"

namespace ptune::store::schema {
namespace {

// Types are TEXT / BIGINT / DOUBLE PRECISION / {blob} so that the same DDL
// reads right for both engines. Times are unix micros.
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
  content {blob} NOT NULL,
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
  artifact_safetensors {blob} NOT NULL,
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
  checkpoint {blob} NOT NULL,
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

// Many writers: versions and job sequence numbers from counters that never
// go back (no MAX() + 1, which reuses numbers after a delete), content
// digests, job leases with fencing epochs, and the claim fairness cursor.
// Jobs left running by an older binary have no lease: the first reclaim
// takes them (as the old start-up recovery did).
constexpr char kV3ManyWriters[] = R"sql(
CREATE TABLE prompt_names (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  last_version BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
INSERT INTO prompt_names (tenant_id, name, last_version)
  SELECT tenant_id, name, MAX(version) FROM prompt_versions GROUP BY tenant_id, name;
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters (name, value)
  SELECT 'job_seq', COALESCE(MAX(seq), 0) FROM jobs;
CREATE TABLE claim_cursor (
  id BIGINT PRIMARY KEY,
  last_tenant TEXT NOT NULL
);
INSERT INTO claim_cursor (id, last_tenant) VALUES (1, '');
ALTER TABLE prompt_versions ADD COLUMN artifact_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE datasets ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN checkpoint_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_expires_at BIGINT;
CREATE INDEX jobs_by_lease ON jobs (state, lease_expires_at);
CREATE INDEX prompt_versions_by_job ON prompt_versions (job_id);
)sql";

// Dataset contents in parts of at most kDatasetPartBytes (sql_store.cc),
// so that a dataset of hundreds of MiB goes in and out of the database one
// part at a time instead of as one value that the engine and the store
// both hold whole. Rows written before v4 keep their content column.
constexpr char kV4DatasetParts[] = R"sql(
CREATE TABLE dataset_parts (
  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  part BIGINT NOT NULL,
  bytes {blob} NOT NULL,
  PRIMARY KEY (dataset_id, part)
);
)sql";

// Digests of the rows written before v3.
absl::Status BackfillDigests(sql::Connection& c) {
  struct Row {
    std::string a, b, c;
    int64_t version = 0;
    std::string digest;
  };
  std::vector<Row> rows;
  {
    ASSIGN_OR_RETURN(sql::Statement s,
                     c.Prepare("SELECT tenant_id, name, version, artifact_safetensors, "
                               "artifact_json FROM prompt_versions"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back({s.Text(0), s.Text(1), "", s.Int(2),
                      ArtifactDigest(s.Text(3), s.Text(4))});
    }
  }
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(sql::Statement s,
                     c.Prepare("UPDATE prompt_versions SET artifact_digest = ? "
                               "WHERE tenant_id = ? AND name = ? AND version = ?"));
    s.BindAll(r.digest, r.a, r.b, r.version);
    RETURN_IF_ERROR(s.Run());
  }
  for (const auto& [table, column, content] :
       {std::tuple{"datasets", "content_digest", "content"},
        std::tuple{"jobs", "checkpoint_digest", "checkpoint"}}) {
    rows.clear();
    {
      const std::string select = absl::StrCat("SELECT id, ", content, " FROM ", table);
      ASSIGN_OR_RETURN(sql::Statement s, c.Prepare(select.c_str()));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        rows.push_back({s.Text(0), "", "", 0, Sha256Hex(s.Text(1))});
      }
    }
    const std::string update =
        absl::StrCat("UPDATE ", table, " SET ", column, " = ? WHERE id = ?");
    for (const Row& r : rows) {
      ASSIGN_OR_RETURN(sql::Statement s, c.Prepare(update.c_str()));
      s.BindAll(r.digest, r.a);
      RETURN_IF_ERROR(s.Run());
    }
  }
  return absl::OkStatus();
}

absl::Status MigrateLocked(sql::Connection& c, int target_version) {
  ASSIGN_OR_RETURN(int current, CurrentSchemaVersion(c));
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
    ASSIGN_OR_RETURN(auto txn, sql::Transaction::Start(&c));
    const std::string ddl =
        absl::StrReplaceAll(migration.sql, {{"{blob}", c.dialect().blob_type}});
    absl::Status applied = c.Exec(ddl.c_str());
    if (applied.ok() && migration.backfill) applied = migration.backfill(c);
    if (!applied.ok()) {
      return absl::InternalError(absl::StrCat("schema migration ", migration.version,
                                              " failed: ", applied.message()));
    }
    {
      ASSIGN_OR_RETURN(sql::Statement record,
                       c.Prepare("INSERT INTO schema_migrations "
                                 "(version, applied_at) VALUES (?, ?)"));
      record.BindAll(migration.version, absl::Now());
      RETURN_IF_ERROR(record.Run());
    }
    RETURN_IF_ERROR(txn->Commit());
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, kV1Tables, nullptr},
      {2, kV2Indexes, nullptr},
      {3, kV3ManyWriters, BackfillDigests},
      {4, kV4DatasetParts, nullptr},
  };
  return *kMigrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> CurrentSchemaVersion(sql::Connection& c) {
  RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"));
  ASSIGN_OR_RETURN(sql::Statement stmt,
                   c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return 0;
  return static_cast<int>(stmt.Int(0));
}

absl::Status Migrate(sql::Connection& c, int target_version) {
  RETURN_IF_ERROR(c.LockMigrations());
  absl::Status status = MigrateLocked(c, target_version);
  absl::Status unlocked = c.UnlockMigrations();
  return status.ok() ? unlocked : status;
}

}  // namespace ptune::store::schema

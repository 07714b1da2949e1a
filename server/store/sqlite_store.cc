// SqliteStore: open/migrate, tenants, API keys, datasets, prompts, quotas.
// Jobs are in sqlite_store_jobs.cc.
#include "server/store/sqlite_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/store/sqlite_schema.h"
#include "server/store/sqlite_store_internal.h"

namespace ptune::store {

using sqlite::Blob;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

constexpr char kTenantColumns[] =
    "id, name, created_at, disabled, max_prompts, max_concurrent_jobs, "
    "max_stored_bytes, requests_per_second, burst";
constexpr int kTenantColumnCount = 9;

Tenant ReadTenant(const Statement& s, int c) {
  Tenant t;
  t.id = s.Text(c + 0);
  t.name = s.Text(c + 1);
  t.created_at = s.Time(c + 2);
  t.disabled = s.Bool(c + 3);
  t.quotas.max_prompts = s.Int(c + 4);
  t.quotas.max_concurrent_jobs = s.Int(c + 5);
  t.quotas.max_stored_bytes = s.Int(c + 6);
  t.quotas.requests_per_second = s.Double(c + 7);
  t.quotas.burst = s.Int(c + 8);
  return t;
}

absl::Status ValidateQuotas(const Quotas& q) {
  if (q.max_prompts < 0 || q.max_concurrent_jobs < 0 ||
      q.max_stored_bytes < 0 || q.requests_per_second < 0 || q.burst < 0) {
    return absl::InvalidArgumentError("quotas must not be negative");
  }
  return absl::OkStatus();
}

constexpr char kKeyColumns[] =
    "id, tenant_id, key_hash, display_prefix, created_at, revoked_at";

ApiKey ReadKey(const Statement& s, int c) {
  ApiKey k;
  k.id = s.Text(c + 0);
  k.tenant_id = s.Text(c + 1);
  k.key_hash = s.Text(c + 2);
  k.display_prefix = s.Text(c + 3);
  k.created_at = s.Time(c + 4);
  k.revoked_at = s.OptionalTime(c + 5);
  return k;
}

Dataset ReadDataset(const Statement& s) {
  Dataset d;
  d.id = s.Text(0);
  d.tenant_id = s.Text(1);
  d.name = s.Text(2);
  d.task = s.Text(3);
  d.format = s.Text(4);
  d.content = s.Text(5);
  d.size_bytes = s.Int(6);
  d.example_count = s.Int(7);
  d.created_at = s.Time(8);
  return d;
}

absl::StatusOr<PromptVersion> ReadPrompt(const Statement& s) {
  PromptVersion p;
  p.tenant_id = s.Text(0);
  p.name = s.Text(1);
  p.version = static_cast<int>(s.Int(2));
  ASSIGN_OR_RETURN(p.state, ParsePromptState(s.Text(3)));
  p.task = s.Text(4);
  p.spec_json = s.Text(5);
  nlohmann::json labels =
      nlohmann::json::parse(s.Text(6), nullptr, /*allow_exceptions=*/false);
  if (!labels.is_array()) {
    return absl::DataLossError(absl::StrCat("prompt '", p.name, "' v",
                                            p.version, " has corrupt labels"));
  }
  for (const auto& label : labels) {
    if (!label.is_string()) {
      return absl::DataLossError("prompt labels must be strings");
    }
    p.labels.push_back(label.get<std::string>());
  }
  p.metrics_json = s.Text(7);
  p.artifact_safetensors = s.Text(8);
  p.artifact_json = s.Text(9);
  p.job_id = s.Text(10);
  p.size_bytes = s.Int(11);
  p.created_at = s.Time(12);
  return p;
}

std::string LabelsJson(const std::vector<std::string>& labels) {
  // Invalid UTF-8 is replaced rather than thrown: no exception leaves here.
  return nlohmann::json(labels).dump(-1, ' ', false,
                                     nlohmann::json::error_handler_t::replace);
}

absl::Status ValidateName(absl::string_view what, const std::string& value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  }
  if (value.size() > internal::kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is longer than ", internal::kMaxNameBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

absl::Status ValidateTask(const std::string& task) {
  if (task == "classify" || task == "tag") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("task must be \"classify\" or \"tag\", got \"", task, "\""));
}

absl::Status ValidateTenantAndName(const std::string& tenant_id,
                                   absl::string_view what,
                                   const std::string& value) {
  RETURN_IF_ERROR(ValidateName("tenant_id", tenant_id));
  return ValidateName(what, value);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(
    const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("SqliteStore needs a path");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db,
                   sqlite::Db::Open(options.path));
  sqlite3_busy_timeout(db->handle(),
                       static_cast<int>(absl::ToInt64Milliseconds(
                           options.busy_timeout)));
  {
    ASSIGN_OR_RETURN(Statement wal, db->Prepare("PRAGMA journal_mode=WAL"));
    ASSIGN_OR_RETURN(bool row, wal.Step());
    const std::string mode = row ? wal.Text(0) : "";
    if (options.path != ":memory:" && mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot put '", options.path, "' in WAL mode (got '", mode, "')"));
    }
  }
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  const int target = options.schema_version < 0
                         ? sqlite::LatestSchemaVersion()
                         : options.schema_version;
  RETURN_IF_ERROR(sqlite::Migrate(db.get(), target));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db)));
}

absl::StatusOr<int> SqliteStore::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  return sqlite::CurrentSchemaVersion(db_.get());
}

// --- Tenants -------------------------------------------------------------

absl::StatusOr<Tenant> SqliteStore::CreateTenant(const Tenant& tenant) {
  RETURN_IF_ERROR(ValidateName("tenant name", tenant.name));
  RETURN_IF_ERROR(ValidateQuotas(tenant.quotas));
  Tenant row = tenant;
  if (row.id.empty()) row.id = NewId("ten_");
  row.created_at = absl::Now();
  absl::MutexLock lock(&mu_);
  static const std::string kSql = absl::StrCat(
      "INSERT INTO tenants (", kTenantColumns,
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(row.id, row.name, row.created_at, row.disabled,
            row.quotas.max_prompts, row.quotas.max_concurrent_jobs,
            row.quotas.max_stored_bytes, row.quotas.requests_per_second,
            row.quotas.burst);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::StatusOr<Tenant> SqliteStore::GetTenantLocked(const std::string& id) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE id = ?");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  return ReadTenant(s, 0);
}

absl::StatusOr<Tenant> SqliteStore::GetTenant(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return GetTenantLocked(id);
}

absl::StatusOr<Tenant> SqliteStore::GetTenantByName(const std::string& name) {
  absl::MutexLock lock(&mu_);
  static const std::string kSql =
      absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE name = ?");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(name);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("tenant '", name, "' not found"));
  }
  return ReadTenant(s, 0);
}

absl::StatusOr<std::vector<Tenant>> SqliteStore::ListTenants() {
  absl::MutexLock lock(&mu_);
  static const std::string kSql = absl::StrCat(
      "SELECT ", kTenantColumns, " FROM tenants ORDER BY created_at, id");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  std::vector<Tenant> tenants;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    tenants.push_back(ReadTenant(s, 0));
  }
  return tenants;
}

absl::Status SqliteStore::UpdateTenant(const Tenant& tenant) {
  RETURN_IF_ERROR(ValidateName("tenant name", tenant.name));
  RETURN_IF_ERROR(ValidateQuotas(tenant.quotas));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE tenants SET name = ?, disabled = ?, "
                   "max_prompts = ?, max_concurrent_jobs = ?, "
                   "max_stored_bytes = ?, requests_per_second = ?, burst = ? "
                   "WHERE id = ?"));
  s.BindAll(tenant.name, tenant.disabled, tenant.quotas.max_prompts,
            tenant.quotas.max_concurrent_jobs, tenant.quotas.max_stored_bytes,
            tenant.quotas.requests_per_second, tenant.quotas.burst, tenant.id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("tenant ", tenant.id, " not found"));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::DeleteTenant(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("DELETE FROM tenants WHERE id = ?"));
  s.BindAll(id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  }
  return absl::OkStatus();
}

// --- API keys ------------------------------------------------------------

absl::StatusOr<ApiKey> SqliteStore::CreateApiKey(const ApiKey& key) {
  RETURN_IF_ERROR(ValidateName("tenant_id", key.tenant_id));
  RETURN_IF_ERROR(ValidateName("key_hash", key.key_hash));
  ApiKey row = key;
  if (row.id.empty()) row.id = NewId("key_");
  row.created_at = absl::Now();
  absl::MutexLock lock(&mu_);
  static const std::string kSql = absl::StrCat(
      "INSERT INTO api_keys (", kKeyColumns, ") VALUES (?, ?, ?, ?, ?, ?)");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(row.id, row.tenant_id, row.key_hash, row.display_prefix,
            row.created_at, row.revoked_at);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::StatusOr<ApiKeyLookup> SqliteStore::LookupApiKey(
    const std::string& key_hash) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT k.id, k.tenant_id, k.key_hash, k.display_prefix, "
                   "k.created_at, k.revoked_at, t.id, t.name, t.created_at, "
                   "t.disabled, t.max_prompts, t.max_concurrent_jobs, "
                   "t.max_stored_bytes, t.requests_per_second, t.burst "
                   "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
                   "WHERE k.key_hash = ? AND k.revoked_at IS NULL"));
  s.BindAll(key_hash);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError("API key not found");
  ApiKeyLookup lookup;
  lookup.key = ReadKey(s, 0);
  lookup.tenant = ReadTenant(s, 6);
  static_assert(kTenantColumnCount == 9);
  return lookup;
}

absl::StatusOr<std::vector<ApiKey>> SqliteStore::ListApiKeys(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  static const std::string kSql =
      absl::StrCat("SELECT ", kKeyColumns,
                   " FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(tenant_id);
  std::vector<ApiKey> keys;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    keys.push_back(ReadKey(s, 0));
  }
  return keys;
}

absl::Status SqliteStore::RevokeApiKey(const std::string& tenant_id,
                                       const std::string& key_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE api_keys SET revoked_at = "
                   "COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?"));
  s.BindAll(absl::Now(), tenant_id, key_id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("API key ", key_id, " not found"));
  }
  return absl::OkStatus();
}

// --- Datasets ------------------------------------------------------------

absl::StatusOr<Dataset> SqliteStore::CreateDataset(const Dataset& dataset) {
  RETURN_IF_ERROR(internal::ValidateTenantAndName(dataset.tenant_id,
                                                  "dataset name", dataset.name));
  RETURN_IF_ERROR(internal::ValidateTask(dataset.task));
  if (dataset.example_count < 0) {
    return absl::InvalidArgumentError("example_count must not be negative");
  }
  Dataset row = dataset;
  if (row.id.empty()) row.id = NewId("ds_");
  row.size_bytes = static_cast<int64_t>(row.content.size());
  row.created_at = absl::Now();
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("INSERT INTO datasets (id, tenant_id, name, task, format, "
                   "content, size_bytes, example_count, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  s.BindAll(row.id, row.tenant_id, row.name, row.task, row.format,
            Blob{row.content}, row.size_bytes, row.example_count,
            row.created_at);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::StatusOr<Dataset> SqliteStore::GetDataset(const std::string& tenant_id,
                                                const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT id, tenant_id, name, task, format, content, "
                   "size_bytes, example_count, created_at FROM datasets "
                   "WHERE tenant_id = ? AND id = ?"));
  s.BindAll(tenant_id, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("dataset ", id, " not found"));
  return ReadDataset(s);
}

absl::StatusOr<std::vector<Dataset>> SqliteStore::ListDatasets(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT id, tenant_id, name, task, format, '', size_bytes, "
                   "example_count, created_at FROM datasets "
                   "WHERE tenant_id = ? ORDER BY created_at, id"));
  s.BindAll(tenant_id);
  std::vector<Dataset> datasets;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    datasets.push_back(ReadDataset(s));
  }
  return datasets;
}

absl::Status SqliteStore::DeleteDataset(const std::string& tenant_id,
                                        const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("DELETE FROM datasets WHERE tenant_id = ? AND id = ?"));
  s.BindAll(tenant_id, id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("dataset ", id, " not found"));
  }
  return absl::OkStatus();
}

// --- Prompts -------------------------------------------------------------

namespace {
constexpr char kPromptColumns[] =
    "tenant_id, name, version, state, task, spec_json, labels_json, "
    "metrics_json, artifact_safetensors, artifact_json, job_id, size_bytes, "
    "created_at";
// The same columns with the artifacts left out (listings).
constexpr char kPromptMetaColumns[] =
    "tenant_id, name, version, state, task, spec_json, labels_json, "
    "metrics_json, '', '', job_id, size_bytes, created_at";
}  // namespace

absl::StatusOr<PromptVersion> SqliteStore::CreatePromptVersion(
    const PromptVersion& prompt) {
  RETURN_IF_ERROR(internal::ValidateTenantAndName(prompt.tenant_id,
                                                  "prompt name", prompt.name));
  RETURN_IF_ERROR(internal::ValidateTask(prompt.task));
  PromptVersion row = prompt;
  row.size_bytes = static_cast<int64_t>(row.artifact_safetensors.size() +
                                        row.artifact_json.size());
  row.created_at = absl::Now();
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  {
    ASSIGN_OR_RETURN(
        Statement next,
        db_->Prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM "
                     "prompt_versions WHERE tenant_id = ? AND name = ?"));
    next.BindAll(row.tenant_id, row.name);
    ASSIGN_OR_RETURN(bool has_row, next.Step());
    row.version = has_row ? static_cast<int>(next.Int(0)) : 1;
  }
  {
    static const std::string kSql =
        absl::StrCat("INSERT INTO prompt_versions (", kPromptColumns,
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
    s.BindAll(row.tenant_id, row.name, row.version, PromptStateName(row.state),
              row.task, row.spec_json, LabelsJson(row.labels),
              row.metrics_json, Blob{row.artifact_safetensors},
              row.artifact_json, row.job_id, row.size_bytes, row.created_at);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn->Commit());
  return row;
}

absl::Status SqliteStore::WritePromptLocked(const PromptVersion& prompt) {
  RETURN_IF_ERROR(internal::ValidateTask(prompt.task));
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE prompt_versions SET state = ?, task = ?, "
                   "spec_json = ?, labels_json = ?, metrics_json = ?, "
                   "artifact_safetensors = ?, artifact_json = ?, job_id = ?, "
                   "size_bytes = ? "
                   "WHERE tenant_id = ? AND name = ? AND version = ?"));
  const int64_t size = static_cast<int64_t>(
      prompt.artifact_safetensors.size() + prompt.artifact_json.size());
  s.BindAll(PromptStateName(prompt.state), prompt.task, prompt.spec_json,
            LabelsJson(prompt.labels), prompt.metrics_json,
            Blob{prompt.artifact_safetensors}, prompt.artifact_json,
            prompt.job_id, size, prompt.tenant_id, prompt.name,
            prompt.version);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("prompt '", prompt.name, "' v",
                                            prompt.version, " not found"));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::UpdatePromptVersion(const PromptVersion& prompt) {
  absl::MutexLock lock(&mu_);
  return WritePromptLocked(prompt);
}

absl::Status SqliteStore::SetPromptStateLocked(const std::string& tenant_id,
                                               const std::string& name,
                                               int version, PromptState from,
                                               PromptState to) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE prompt_versions SET state = ? WHERE tenant_id = ? "
                   "AND name = ? AND version = ? AND state = ?"));
  s.BindAll(PromptStateName(to), tenant_id, name, version,
            PromptStateName(from));
  return s.Run();
}

absl::StatusOr<PromptVersion> SqliteStore::GetPrompt(
    const std::string& tenant_id, const std::string& name,
    std::optional<int> version) {
  return GetPromptWithColumns(tenant_id, name, version, /*artifacts=*/true);
}

absl::StatusOr<PromptVersion> SqliteStore::GetPromptMetadata(
    const std::string& tenant_id, const std::string& name,
    std::optional<int> version) {
  return GetPromptWithColumns(tenant_id, name, version, /*artifacts=*/false);
}

absl::StatusOr<PromptVersion> SqliteStore::GetPromptWithColumns(
    const std::string& tenant_id, const std::string& name,
    std::optional<int> version, bool artifacts) {
  absl::MutexLock lock(&mu_);
  const auto query = [](const char* columns, const char* where) {
    return absl::StrCat("SELECT ", columns,
                        " FROM prompt_versions WHERE tenant_id = ? AND name = ? ", where);
  };
  constexpr char kByVersion[] = "AND version = ?";
  constexpr char kLatestReady[] = "AND state = 'ready' ORDER BY version DESC LIMIT 1";
  static const std::string kQueries[2][2] = {
      {query(kPromptMetaColumns, kByVersion), query(kPromptMetaColumns, kLatestReady)},
      {query(kPromptColumns, kByVersion), query(kPromptColumns, kLatestReady)}};
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare(kQueries[artifacts][version.has_value() ? 0 : 1].c_str()));
  if (version.has_value()) {
    s.BindAll(tenant_id, name, *version);
  } else {
    s.BindAll(tenant_id, name);
  }
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return absl::NotFoundError(
        version.has_value()
            ? absl::StrCat("prompt '", name, "' v", *version, " not found")
            : absl::StrCat("prompt '", name, "' has no ready version"));
  }
  return ReadPrompt(s);
}

namespace {

// Rows ordered by name, version -> one summary per name.
absl::StatusOr<std::vector<PromptSummary>> ReadSummaries(Statement& s) {
  std::vector<PromptSummary> summaries;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(PromptVersion version, ReadPrompt(s));
    if (summaries.empty() || summaries.back().name != version.name) {
      summaries.emplace_back();
      summaries.back().name = version.name;
    }
    PromptSummary& summary = summaries.back();
    summary.latest_version = version.version;
    if (version.state == PromptState::kReady) {
      summary.latest_ready_version = version.version;
    }
    summary.versions.push_back(std::move(version));
  }
  return summaries;
}

}  // namespace

absl::StatusOr<std::vector<PromptSummary>> SqliteStore::ListPrompts(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  static const std::string kSql =
      absl::StrCat("SELECT ", kPromptMetaColumns,
                   " FROM prompt_versions WHERE tenant_id = ? "
                   "ORDER BY name, version");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(tenant_id);
  return ReadSummaries(s);
}

absl::StatusOr<PromptSummary> SqliteStore::GetPromptSummary(
    const std::string& tenant_id, const std::string& name) {
  absl::MutexLock lock(&mu_);
  static const std::string kSql =
      absl::StrCat("SELECT ", kPromptMetaColumns,
                   " FROM prompt_versions WHERE tenant_id = ? AND name = ? "
                   "ORDER BY name, version");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(tenant_id, name);
  ASSIGN_OR_RETURN(std::vector<PromptSummary> summaries, ReadSummaries(s));
  if (summaries.empty()) {
    return absl::NotFoundError(absl::StrCat("prompt '", name, "' not found"));
  }
  return std::move(summaries.front());
}

absl::Status SqliteStore::DeletePrompt(const std::string& tenant_id,
                                       const std::string& name) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare(
          "DELETE FROM prompt_versions WHERE tenant_id = ? AND name = ?"));
  s.BindAll(tenant_id, name);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("prompt '", name, "' not found"));
  }
  return absl::OkStatus();
}

// --- Quota accounting ----------------------------------------------------

absl::StatusOr<int64_t> SqliteStore::CountLocked(const char* sql,
                                                 const std::string& tenant_id) {
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(sql));
  s.BindAll(tenant_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<int64_t> SqliteStore::CountPrompts(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  return CountLocked(
      "SELECT COUNT(DISTINCT name) FROM prompt_versions WHERE tenant_id = ?",
      tenant_id);
}

absl::StatusOr<int64_t> SqliteStore::CountActiveJobs(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  return CountLocked(
      "SELECT COUNT(*) FROM jobs WHERE tenant_id = ? "
      "AND state IN ('queued', 'running')",
      tenant_id);
}

absl::StatusOr<int64_t> SqliteStore::StoredBytes(
    const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(int64_t datasets,
                   CountLocked("SELECT COALESCE(SUM(size_bytes), 0) FROM "
                               "datasets WHERE tenant_id = ?",
                               tenant_id));
  ASSIGN_OR_RETURN(int64_t prompts,
                   CountLocked("SELECT COALESCE(SUM(size_bytes), 0) FROM "
                               "prompt_versions WHERE tenant_id = ?",
                               tenant_id));
  return datasets + prompts;
}

}  // namespace ptune::store

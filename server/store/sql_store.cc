// SqlStore: open/migrate, tenants, API keys, datasets, quotas. Prompts are
// in sql_store_prompts.cc, jobs in sql_store_jobs.cc.
#include "server/store/sql_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/auth/quotas.h"
#include "server/common/status_macros.h"
#include "server/store/digest.h"
#include "server/store/schema.h"

namespace ptune::store {

using sql::Blob;
using sql::Statement;
using sql::Transaction;

namespace {

constexpr char kTenantColumns[] =
    "id, name, created_at, disabled, max_prompts, max_concurrent_jobs, "
    "max_stored_bytes, requests_per_second, burst";

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
  if (q.max_prompts < 0 || q.max_concurrent_jobs < 0 || q.max_stored_bytes < 0 ||
      q.requests_per_second < 0 || q.burst < 0) {
    return absl::InvalidArgumentError("quotas must not be negative");
  }
  return absl::OkStatus();
}

constexpr char kKeyColumns[] = "id, tenant_id, key_hash, display_prefix, created_at, revoked_at";

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

constexpr char kDatasetColumns[] =
    "id, tenant_id, name, task, format, content, size_bytes, example_count, created_at, "
    "content_digest";
constexpr char kDatasetMetaColumns[] =
    "id, tenant_id, name, task, format, '', size_bytes, example_count, created_at, "
    "content_digest";

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
  d.digest = s.Text(9);
  return d;
}

}  // namespace

namespace internal {

absl::Status ValidateTask(const std::string& task) {
  if (task == "classify" || task == "tag") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("task must be \"classify\" or \"tag\", got \"", task, "\""));
}

absl::Status ValidateName(absl::string_view what, const std::string& value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  }
  if (value.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxNameBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTenantAndName(const std::string& tenant_id, absl::string_view what,
                                   const std::string& value) {
  RETURN_IF_ERROR(ValidateName("tenant_id", tenant_id));
  return ValidateName(what, value);
}

absl::StatusOr<Tenant> GetTenantRow(sql::Connection& c, const std::string& id,
                                    bool for_update) {
  const std::string sql = absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE id = ?",
                                       for_update ? c.dialect().for_update : "");
  ASSIGN_OR_RETURN(Statement s, c.Prepare(sql.c_str()));
  s.BindAll(id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  return ReadTenant(s, 0);
}

absl::StatusOr<int64_t> Count(sql::Connection& c, const char* sql,
                              const std::string& tenant_id) {
  ASSIGN_OR_RETURN(Statement s, c.Prepare(sql));
  s.BindAll(tenant_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<int64_t> StoredBytesOf(sql::Connection& c, const std::string& tenant_id) {
  ASSIGN_OR_RETURN(int64_t datasets,
                   Count(c, "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM datasets "
                            "WHERE tenant_id = ?", tenant_id));
  ASSIGN_OR_RETURN(int64_t prompts,
                   Count(c, "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM prompt_versions "
                            "WHERE tenant_id = ?", tenant_id));
  return datasets + prompts;
}

absl::Status CheckStoredBytes(sql::Connection& c, const Tenant& tenant, int64_t additional) {
  if (tenant.quotas.max_stored_bytes <= 0 || additional <= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t stored, StoredBytesOf(c, tenant.id));
  return auth::CheckStorageQuota(stored, additional, tenant.quotas.max_stored_bytes);
}

// Parts of dataset content (schema v4): one statement moves at most this
// much, so neither side holds a second whole copy of a large dataset.
constexpr size_t kDatasetPartBytes = size_t{4} << 20;

absl::StatusOr<Dataset> InsertDataset(sql::Connection& c, const Dataset& dataset) {
  RETURN_IF_ERROR(ValidateTenantAndName(dataset.tenant_id, "dataset name", dataset.name));
  RETURN_IF_ERROR(ValidateTask(dataset.task));
  if (dataset.example_count < 0) {
    return absl::InvalidArgumentError("example_count must not be negative");
  }
  Dataset row = dataset;
  if (row.id.empty()) row.id = NewId("ds_");
  row.size_bytes = static_cast<int64_t>(row.content.size());
  row.digest = Sha256Hex(row.content);
  row.created_at = absl::Now();
  const std::string sql = absl::StrCat("INSERT INTO datasets (", kDatasetColumns,
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  {
    ASSIGN_OR_RETURN(Statement s, c.Prepare(sql.c_str()));
    s.BindAll(row.id, row.tenant_id, row.name, row.task, row.format, Blob{""},
              row.size_bytes, row.example_count, row.created_at, row.digest);
    RETURN_IF_ERROR(s.Run());
  }
  const absl::string_view content = row.content;
  for (size_t offset = 0, part = 0; offset < content.size(); offset += kDatasetPartBytes, ++part) {
    ASSIGN_OR_RETURN(Statement s, c.Prepare("INSERT INTO dataset_parts (dataset_id, part, bytes) "
                                            "VALUES (?, ?, ?)"));
    s.BindAll(row.id, static_cast<int64_t>(part),
              Blob{content.substr(offset, kDatasetPartBytes)});
    RETURN_IF_ERROR(s.Run());
  }
  return row;
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<SqlStore>> SqlStore::Create(
    std::unique_ptr<sql::ConnectionPool> pool, int schema_version) {
  if (pool == nullptr) return absl::InvalidArgumentError("SqlStore needs a pool");
  bool notifications = false;
  {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool->Acquire());
    RETURN_IF_ERROR(schema::Migrate(
        *c, schema_version < 0 ? schema::LatestSchemaVersion() : schema_version));
    notifications = c->dialect().notify_jobs != nullptr;
  }
  return std::unique_ptr<SqlStore>(new SqlStore(std::move(pool), notifications));
}

absl::StatusOr<int> SqlStore::SchemaVersion() {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  return schema::CurrentSchemaVersion(*c);
}

// --- Tenants -------------------------------------------------------------

absl::StatusOr<Tenant> SqlStore::CreateTenant(const Tenant& tenant) {
  RETURN_IF_ERROR(internal::ValidateName("tenant name", tenant.name));
  RETURN_IF_ERROR(ValidateQuotas(tenant.quotas));
  Tenant row = tenant;
  if (row.id.empty()) row.id = NewId("ten_");
  row.created_at = absl::Now();
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql =
      absl::StrCat("INSERT INTO tenants (", kTenantColumns, ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(row.id, row.name, row.created_at, row.disabled, row.quotas.max_prompts,
            row.quotas.max_concurrent_jobs, row.quotas.max_stored_bytes,
            row.quotas.requests_per_second, row.quotas.burst);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::StatusOr<Tenant> SqlStore::GetTenant(const std::string& id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  return internal::GetTenantRow(*c, id, /*for_update=*/false);
}

absl::StatusOr<Tenant> SqlStore::GetTenantByName(const std::string& name) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE name = ?");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(name);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("tenant '", name, "' not found"));
  return ReadTenant(s, 0);
}

absl::StatusOr<std::vector<Tenant>> SqlStore::ListTenants() {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql =
      absl::StrCat("SELECT ", kTenantColumns, " FROM tenants ORDER BY created_at, id");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  std::vector<Tenant> tenants;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    tenants.push_back(ReadTenant(s, 0));
  }
  return tenants;
}

absl::Status SqlStore::UpdateTenant(const Tenant& tenant) {
  RETURN_IF_ERROR(internal::ValidateName("tenant name", tenant.name));
  RETURN_IF_ERROR(ValidateQuotas(tenant.quotas));
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s,
                   c->Prepare("UPDATE tenants SET name = ?, disabled = ?, max_prompts = ?, "
                              "max_concurrent_jobs = ?, max_stored_bytes = ?, "
                              "requests_per_second = ?, burst = ? WHERE id = ?"));
  s.BindAll(tenant.name, tenant.disabled, tenant.quotas.max_prompts,
            tenant.quotas.max_concurrent_jobs, tenant.quotas.max_stored_bytes,
            tenant.quotas.requests_per_second, tenant.quotas.burst, tenant.id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("tenant ", tenant.id, " not found"));
  }
  return absl::OkStatus();
}

absl::Status SqlStore::DeleteTenant(const std::string& id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s, c->Prepare("DELETE FROM tenants WHERE id = ?"));
  s.BindAll(id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  return absl::OkStatus();
}

// --- API keys ------------------------------------------------------------

absl::StatusOr<ApiKey> SqlStore::CreateApiKey(const ApiKey& key) {
  RETURN_IF_ERROR(internal::ValidateName("tenant_id", key.tenant_id));
  RETURN_IF_ERROR(internal::ValidateName("key_hash", key.key_hash));
  ApiKey row = key;
  if (row.id.empty()) row.id = NewId("key_");
  row.created_at = absl::Now();
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql =
      absl::StrCat("INSERT INTO api_keys (", kKeyColumns, ") VALUES (?, ?, ?, ?, ?, ?)");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(row.id, row.tenant_id, row.key_hash, row.display_prefix, row.created_at,
            row.revoked_at);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::StatusOr<ApiKeyLookup> SqlStore::LookupApiKey(const std::string& key_hash) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(
      Statement s,
      c->Prepare("SELECT k.id, k.tenant_id, k.key_hash, k.display_prefix, "
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
  return lookup;
}

absl::StatusOr<std::vector<ApiKey>> SqlStore::ListApiKeys(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat("SELECT ", kKeyColumns,
                                       " FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(tenant_id);
  std::vector<ApiKey> keys;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    keys.push_back(ReadKey(s, 0));
  }
  return keys;
}

absl::Status SqlStore::RevokeApiKey(const std::string& tenant_id, const std::string& key_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s,
                   c->Prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) "
                              "WHERE tenant_id = ? AND id = ?"));
  s.BindAll(absl::Now(), tenant_id, key_id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("API key ", key_id, " not found"));
  return absl::OkStatus();
}

// --- Datasets ------------------------------------------------------------

absl::StatusOr<Dataset> SqlStore::CreateDataset(const Dataset& dataset) {
  RETURN_IF_ERROR(internal::ValidateName("tenant_id", dataset.tenant_id));
  return internal::RetryAborted([&]() -> absl::StatusOr<Dataset> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(const Tenant tenant,
                     internal::GetTenantRow(*c, dataset.tenant_id, /*for_update=*/true));
    RETURN_IF_ERROR(internal::CheckStoredBytes(
        *c, tenant, static_cast<int64_t>(dataset.content.size())));
    ASSIGN_OR_RETURN(Dataset row, internal::InsertDataset(*c, dataset));
    RETURN_IF_ERROR(txn->Commit());
    return row;
  });
}

absl::StatusOr<Dataset> SqlStore::GetDataset(const std::string& tenant_id,
                                             const std::string& id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql =
      absl::StrCat("SELECT ", kDatasetColumns, " FROM datasets WHERE tenant_id = ? AND id = ?");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(tenant_id, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("dataset ", id, " not found"));
  Dataset dataset = ReadDataset(s);
  if (!dataset.content.empty()) return dataset;  // written before schema v4
  dataset.content.reserve(static_cast<size_t>(dataset.size_bytes));
  // One part per statement: the engine holds at most one part besides the
  // content being assembled.
  for (int64_t part = 0; static_cast<int64_t>(dataset.content.size()) < dataset.size_bytes;
       ++part) {
    ASSIGN_OR_RETURN(Statement p, c->Prepare("SELECT bytes FROM dataset_parts "
                                             "WHERE dataset_id = ? AND part = ?"));
    p.BindAll(id, part);
    ASSIGN_OR_RETURN(bool found, p.Step());
    if (!found) {
      return absl::DataLossError(absl::StrCat("dataset ", id, " is missing part ", part));
    }
    dataset.content += p.Text(0);
  }
  if (static_cast<int64_t>(dataset.content.size()) != dataset.size_bytes) {
    return absl::DataLossError(absl::StrCat("dataset ", id, " has the wrong size"));
  }
  return dataset;
}

absl::StatusOr<std::vector<Dataset>> SqlStore::ListDatasets(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat("SELECT ", kDatasetMetaColumns,
                                       " FROM datasets WHERE tenant_id = ? ORDER BY created_at, id");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(tenant_id);
  std::vector<Dataset> datasets;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    datasets.push_back(ReadDataset(s));
  }
  return datasets;
}

absl::Status SqlStore::DeleteDataset(const std::string& tenant_id, const std::string& id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s, c->Prepare("DELETE FROM datasets WHERE tenant_id = ? AND id = ?"));
  s.BindAll(tenant_id, id);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("dataset ", id, " not found"));
  return absl::OkStatus();
}

// --- Quota accounting ----------------------------------------------------

absl::StatusOr<int64_t> SqlStore::CountPrompts(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  return internal::Count(
      *c, "SELECT COUNT(DISTINCT name) FROM prompt_versions WHERE tenant_id = ?", tenant_id);
}

absl::StatusOr<int64_t> SqlStore::StoredBytes(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  return internal::StoredBytesOf(*c, tenant_id);
}

}  // namespace ptune::store

// The Store over SQL, written once for both engines (SQLite and
// PostgreSQL) on the layer in server/store/sql.h.
#ifndef PTUNE_SERVER_STORE_SQL_STORE_H_
#define PTUNE_SERVER_STORE_SQL_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/sql.h"
#include "server/store/store.h"

namespace ptune::store {

// Transactions: every write that checks something (a quota, a state, a
// lease) does so in the transaction that writes. On SQLite a write
// transaction excludes every other writer (BEGIN IMMEDIATE); on PostgreSQL
// (READ COMMITTED) it locks the rows it decides on: the tenant row for quota
// checks, the claim cursor for claims, the job row for job transitions.
// Deadlocks (ABORTED) are retried a few times.
//
// Thread-safety: thread-safe; each call takes a connection from the pool.
// Ownership: owns the pool.
class SqlStore : public Store {
 public:
  // Migrates the database to `schema_version` (-1: the latest) first.
  static absl::StatusOr<std::unique_ptr<SqlStore>> Create(
      std::unique_ptr<sql::ConnectionPool> pool, int schema_version = -1);

  absl::StatusOr<Tenant> CreateTenant(const Tenant& tenant) override;
  absl::StatusOr<Tenant> GetTenant(const std::string& id) override;
  absl::StatusOr<Tenant> GetTenantByName(const std::string& name) override;
  absl::StatusOr<std::vector<Tenant>> ListTenants() override;
  absl::Status UpdateTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& id) override;

  absl::StatusOr<ApiKey> CreateApiKey(const ApiKey& key) override;
  absl::StatusOr<ApiKeyLookup> LookupApiKey(const std::string& key_hash) override;
  absl::StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& tenant_id) override;
  absl::Status RevokeApiKey(const std::string& tenant_id,
                            const std::string& key_id) override;

  absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) override;
  absl::StatusOr<Dataset> GetDataset(const std::string& tenant_id,
                                     const std::string& id) override;
  absl::StatusOr<std::vector<Dataset>> ListDatasets(const std::string& tenant_id) override;
  absl::Status DeleteDataset(const std::string& tenant_id, const std::string& id) override;

  absl::StatusOr<PromptVersion> CreatePromptVersion(const PromptVersion& prompt) override;
  absl::StatusOr<PromptVersion> GetPrompt(const std::string& tenant_id,
                                          const std::string& name,
                                          std::optional<int> version) override;
  absl::StatusOr<PromptVersion> GetPromptMetadata(const std::string& tenant_id,
                                                  const std::string& name,
                                                  std::optional<int> version) override;
  absl::StatusOr<std::vector<PromptSummary>> ListPrompts(const std::string& tenant_id) override;
  absl::StatusOr<PromptSummary> GetPromptSummary(const std::string& tenant_id,
                                                 const std::string& name) override;
  absl::Status DeletePrompt(const std::string& tenant_id, const std::string& name) override;

  absl::StatusOr<Job> SubmitTraining(const TrainingSubmission& submission) override;

  absl::StatusOr<Job> CreateJob(const Job& job) override;
  absl::StatusOr<Job> GetJob(const std::string& tenant_id, const std::string& id) override;
  absl::StatusOr<JobPage> ListJobs(const std::string& tenant_id, std::optional<JobState> state,
                                   int page_size, const std::string& page_token) override;
  absl::StatusOr<int64_t> CountJobsInState(JobState state) override;
  absl::StatusOr<std::optional<Job>> ClaimJob(const std::string& owner,
                                              absl::Duration lease) override;
  absl::StatusOr<bool> RenewJobLease(const std::string& tenant_id, const std::string& id,
                                     const JobLease& held, absl::Duration lease) override;
  absl::Status SaveJobProgress(const std::string& tenant_id, const std::string& id,
                               const JobLease& held, const std::string& progress_json,
                               const std::optional<std::string>& checkpoint) override;
  absl::StatusOr<Job> FinishJob(const std::string& tenant_id, const std::string& id,
                                const JobLease& held, JobState final_state,
                                const std::string& reason, absl::Time now,
                                const PromptVersion* result) override;
  absl::StatusOr<Job> ReleaseJob(const std::string& tenant_id, const std::string& id,
                                 const JobLease& held) override;
  absl::StatusOr<Job> CancelJob(const std::string& tenant_id, const std::string& id,
                                const std::string& reason, absl::Time now) override;
  absl::StatusOr<int64_t> ReclaimExpiredJobs(int max_attempts) override;
  absl::StatusOr<int64_t> ReclaimPredecessorJobs(const std::string& replica,
                                                 const std::string& owner,
                                                 int max_attempts) override;
  absl::StatusOr<std::vector<std::string>> WaitForJobChanges(absl::Duration timeout) override;

  absl::StatusOr<int64_t> CountPrompts(const std::string& tenant_id) override;
  absl::StatusOr<int64_t> StoredBytes(const std::string& tenant_id) override;
  int64_t DatabaseRoundTrips() const override { return pool_->round_trips(); }

  // The schema version of the database (tests).
  absl::StatusOr<int> SchemaVersion();

 private:
  SqlStore(std::unique_ptr<sql::ConnectionPool> pool, bool notifications)
      : pool_(std::move(pool)), notifications_(notifications) {}
  // ReclaimExpiredJobs (replica empty) and ReclaimPredecessorJobs.
  absl::StatusOr<int64_t> Reclaim(int max_attempts, const std::string& replica,
                                  const std::string& owner);
  // GetPrompt (artifacts = true) and GetPromptMetadata (false).
  absl::StatusOr<PromptVersion> GetPromptRow(const std::string& tenant_id,
                                             const std::string& name,
                                             std::optional<int> version, bool artifacts);

  std::unique_ptr<sql::ConnectionPool> pool_;
  const bool notifications_;  // the engine has LISTEN/NOTIFY
  // The connection that LISTENs (PostgreSQL), opened by the first
  // WaitForJobChanges; one waiter at a time.
  absl::Mutex listener_mu_;
  std::unique_ptr<sql::Connection> listener_ ABSL_GUARDED_BY(listener_mu_);
};

namespace internal {

// Longest id or name accepted, in bytes.
inline constexpr size_t kMaxNameBytes = 256;

// OK for "classify" and "tag"; INVALID_ARGUMENT otherwise.
absl::Status ValidateTask(const std::string& task);
// Non-empty and at most kMaxNameBytes; the message names `what`.
absl::Status ValidateName(absl::string_view what, const std::string& value);
absl::Status ValidateTenantAndName(const std::string& tenant_id, absl::string_view what,
                                   const std::string& value);

// Runs `attempt` (one whole transaction) again when it fails with ABORTED
// (a deadlock or serialization failure rolled it back), up to 3 times.
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
template <typename F>
auto RetryAborted(F attempt) -> decltype(attempt()) {
  for (int i = 0;; ++i) {
    auto result = attempt();
    if (!absl::IsAborted(StatusOf(result)) || i == 2) return result;
  }
}

// Row readers and helpers shared by the sql_store*.cc files; `c` is a
// connection inside the caller's transaction where one is needed.
absl::StatusOr<Tenant> GetTenantRow(sql::Connection& c, const std::string& id,
                                    bool for_update);
absl::StatusOr<int64_t> StoredBytesOf(sql::Connection& c, const std::string& tenant_id);
// RESOURCE_EXHAUSTED when `additional` more bytes pass the tenant's quota.
absl::Status CheckStoredBytes(sql::Connection& c, const Tenant& tenant, int64_t additional);
// A new version of `name` with `task`: the name's existing task must match,
// and a new name must fit max_prompts.
absl::Status CheckPromptName(sql::Connection& c, const Tenant& tenant,
                             const std::string& name, const std::string& task);
absl::StatusOr<Dataset> InsertDataset(sql::Connection& c, const Dataset& dataset);
absl::StatusOr<PromptVersion> InsertPromptVersion(sql::Connection& c,
                                                  const PromptVersion& prompt);
absl::StatusOr<Job> InsertJob(sql::Connection& c, const Job& job);
// The job's prompt version, if still training, becomes failed.
absl::Status FailTrainingVersion(sql::Connection& c, const Job& job);
absl::Status WritePromptResult(sql::Connection& c, const PromptVersion& prompt);
// Tells listeners (other replicas) that the job changed; delivered when the
// caller's transaction commits. Nothing on engines without notifications.
absl::Status NotifyJob(sql::Connection& c, const std::string& job_id);
absl::StatusOr<int64_t> Count(sql::Connection& c, const char* sql, const std::string& tenant_id);

}  // namespace internal
}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_SQL_STORE_H_

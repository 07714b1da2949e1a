// The embedded Store engine: one SQLite file.
#ifndef PTUNE_SERVER_STORE_SQLITE_STORE_H_
#define PTUNE_SERVER_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/sqlite_db.h"
#include "server/store/store.h"

namespace ptune::store {

// Store on one SQLite file in WAL mode with synchronous=FULL (a committed
// write survives power loss), foreign keys on and a busy timeout. The
// schema is migrated at open (server/store/sqlite_schema.h).
//
// Thread-safety: thread-safe. One connection serialized by an absl::Mutex:
// simple and enough for one process (SQLite writes one transaction at a
// time anyway). Several processes may open the same file; SQLite's locks
// and the busy timeout keep them consistent.
// Ownership: owns the connection.
class SqliteStore : public Store {
 public:
  struct Options {
    // The file, or ":memory:" for a private in-memory database.
    std::string path;
    // How long a write waits for another process's lock before UNAVAILABLE.
    absl::Duration busy_timeout = absl::Seconds(10);
    // Migrate up to this version (tests open old-version files); -1: latest.
    int schema_version = -1;
  };

  static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(
      const Options& options);

  absl::StatusOr<Tenant> CreateTenant(const Tenant& tenant) override;
  absl::StatusOr<Tenant> GetTenant(const std::string& id) override;
  absl::StatusOr<Tenant> GetTenantByName(const std::string& name) override;
  absl::StatusOr<std::vector<Tenant>> ListTenants() override;
  absl::Status UpdateTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& id) override;

  absl::StatusOr<ApiKey> CreateApiKey(const ApiKey& key) override;
  absl::StatusOr<ApiKeyLookup> LookupApiKey(
      const std::string& key_hash) override;
  absl::StatusOr<std::vector<ApiKey>> ListApiKeys(
      const std::string& tenant_id) override;
  absl::Status RevokeApiKey(const std::string& tenant_id,
                            const std::string& key_id) override;

  absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) override;
  absl::StatusOr<Dataset> GetDataset(const std::string& tenant_id,
                                     const std::string& id) override;
  absl::StatusOr<std::vector<Dataset>> ListDatasets(
      const std::string& tenant_id) override;
  absl::Status DeleteDataset(const std::string& tenant_id,
                             const std::string& id) override;

  absl::StatusOr<PromptVersion> CreatePromptVersion(
      const PromptVersion& prompt) override;
  absl::Status UpdatePromptVersion(const PromptVersion& prompt) override;
  absl::StatusOr<PromptVersion> GetPrompt(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) override;
  absl::StatusOr<PromptVersion> GetPromptMetadata(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) override;
  absl::StatusOr<std::vector<PromptSummary>> ListPrompts(
      const std::string& tenant_id) override;
  absl::StatusOr<PromptSummary> GetPromptSummary(const std::string& tenant_id,
                                                 const std::string& name) override;
  absl::Status DeletePrompt(const std::string& tenant_id,
                            const std::string& name) override;

  absl::StatusOr<Job> CreateJob(const Job& job) override;
  absl::StatusOr<Job> GetJob(const std::string& tenant_id,
                             const std::string& id) override;
  absl::StatusOr<JobPage> ListJobs(const std::string& tenant_id,
                                   std::optional<JobState> state,
                                   int page_size,
                                   const std::string& page_token) override;
  absl::StatusOr<std::vector<Job>> ListQueueHeads() override;
  absl::StatusOr<int64_t> CountJobsInState(JobState state) override;
  absl::StatusOr<int64_t> CountTenantJobsInState(const std::string& tenant_id,
                                                 JobState state) override;
  absl::StatusOr<Job> StartJob(const std::string& tenant_id,
                               const std::string& id, absl::Time now) override;
  absl::Status SaveJobProgress(
      const std::string& tenant_id, const std::string& id,
      const std::string& progress_json,
      const std::optional<std::string>& checkpoint) override;
  absl::StatusOr<Job> FinishJob(const std::string& tenant_id,
                                const std::string& id, JobState final_state,
                                const std::string& reason, absl::Time now,
                                const PromptVersion* result) override;
  absl::StatusOr<Job> CancelJob(const std::string& tenant_id,
                                const std::string& id,
                                const std::string& reason,
                                absl::Time now) override;
  absl::StatusOr<Job> RequeueJob(const std::string& tenant_id,
                                 const std::string& id,
                                 bool count_attempt) override;
  absl::StatusOr<int64_t> RecoverRunningJobs(absl::Time now,
                                             int max_attempts) override;

  absl::StatusOr<int64_t> CountPrompts(const std::string& tenant_id) override;
  absl::StatusOr<int64_t> CountActiveJobs(
      const std::string& tenant_id) override;
  absl::StatusOr<int64_t> StoredBytes(const std::string& tenant_id) override;

  // The schema version of the open file (tests).
  absl::StatusOr<int> SchemaVersion();

 private:
  explicit SqliteStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

  // Unlocked helpers; the caller holds mu_.
  absl::StatusOr<Tenant> GetTenantLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Job> GetJobLocked(const std::string& tenant_id,
                                   const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // GetPrompt (artifacts = true) and GetPromptMetadata (false).
  absl::StatusOr<PromptVersion> GetPromptWithColumns(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version, bool artifacts);
  // The job's prompt version, if still training, becomes failed.
  absl::Status FailTrainingVersionLocked(const Job& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetPromptStateLocked(const std::string& tenant_id,
                                    const std::string& name, int version,
                                    PromptState from, PromptState to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WritePromptLocked(const PromptVersion& prompt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> CountLocked(const char* sql,
                                      const std::string& tenant_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<sqlite::Db> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_SQLITE_STORE_H_

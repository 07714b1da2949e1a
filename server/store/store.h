// The durable state of the service behind one interface, so that the
// embedded SQLite engine and a PostgreSQL engine are interchangeable.
#ifndef PTUNE_SERVER_STORE_STORE_H_
#define PTUNE_SERVER_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/records.h"

namespace ptune::store {

// Tenants, API keys, datasets, prompt versions and jobs.
//
// Errors: NOT_FOUND when a row is absent, and equally when it belongs to
// another tenant (every tenant-owned lookup takes the tenant id and never
// returns, changes or reveals another tenant's row); ALREADY_EXISTS on a
// unique violation; INVALID_ARGUMENT on bad input (empty ids/names, unknown
// task); FAILED_PRECONDITION when a job is not in a state the call needs;
// INTERNAL/UNAVAILABLE when the database fails.
//
// Ids: a record passed with an empty id gets a random one ("ten_", "key_",
// "ds_", "job_" + 16 hex characters); created_at is set by the store.
//
// Listings leave out the big columns (dataset content, prompt artifacts, job
// checkpoints); the single-row getters return them.
//
// Thread-safety: every implementation is safe to call from many threads.
class Store {
 public:
  virtual ~Store() = default;

  // --- Tenants ---------------------------------------------------------
  virtual absl::StatusOr<Tenant> CreateTenant(const Tenant& tenant) = 0;
  virtual absl::StatusOr<Tenant> GetTenant(const std::string& id) = 0;
  virtual absl::StatusOr<Tenant> GetTenantByName(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<Tenant>> ListTenants() = 0;
  // Writes name, disabled and quotas of the tenant with `tenant.id`.
  virtual absl::Status UpdateTenant(const Tenant& tenant) = 0;
  // Deletes the tenant and everything it owns.
  virtual absl::Status DeleteTenant(const std::string& id) = 0;

  // --- API keys --------------------------------------------------------
  // ALREADY_EXISTS when the hash is already registered.
  virtual absl::StatusOr<ApiKey> CreateApiKey(const ApiKey& key) = 0;
  // The live key with this hash and its tenant. NOT_FOUND when unknown OR
  // revoked (callers map both to UNAUTHENTICATED).
  virtual absl::StatusOr<ApiKeyLookup> LookupApiKey(
      const std::string& key_hash) = 0;
  // All keys of the tenant, revoked ones included, oldest first.
  virtual absl::StatusOr<std::vector<ApiKey>> ListApiKeys(
      const std::string& tenant_id) = 0;
  virtual absl::Status RevokeApiKey(const std::string& tenant_id,
                                    const std::string& key_id) = 0;

  // --- Datasets --------------------------------------------------------
  virtual absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) = 0;
  virtual absl::StatusOr<Dataset> GetDataset(const std::string& tenant_id,
                                             const std::string& id) = 0;
  // Oldest first, without content.
  virtual absl::StatusOr<std::vector<Dataset>> ListDatasets(
      const std::string& tenant_id) = 0;
  virtual absl::Status DeleteDataset(const std::string& tenant_id,
                                     const std::string& id) = 0;

  // --- Prompts ---------------------------------------------------------
  // Inserts `prompt` as the next version of (tenant_id, name): max + 1,
  // atomically (prompt.version is ignored). Returns the stored row.
  virtual absl::StatusOr<PromptVersion> CreatePromptVersion(
      const PromptVersion& prompt) = 0;
  // Rewrites state, task, spec_json, labels, metrics_json, both artifacts
  // and job_id of the existing (tenant_id, name, version).
  virtual absl::Status UpdatePromptVersion(const PromptVersion& prompt) = 0;
  // The given version (any state), or, without one, the latest READY
  // version (NOT_FOUND when the name has no ready version).
  virtual absl::StatusOr<PromptVersion> GetPrompt(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) = 0;
  // The same version without its artifacts (empty): for per-request checks
  // (serving's version resolution, job views), which must not read a
  // prompt's tensors each time.
  virtual absl::StatusOr<PromptVersion> GetPromptMetadata(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) = 0;
  // One summary per name, names ascending.
  virtual absl::StatusOr<std::vector<PromptSummary>> ListPrompts(
      const std::string& tenant_id) = 0;
  // The summary of one name (NOT_FOUND when it has no version).
  virtual absl::StatusOr<PromptSummary> GetPromptSummary(
      const std::string& tenant_id, const std::string& name) = 0;
  // Deletes every version of the name. NOT_FOUND when it has none.
  virtual absl::Status DeletePrompt(const std::string& tenant_id,
                                    const std::string& name) = 0;

  // --- Jobs ------------------------------------------------------------
  // Inserts a queued job (job.state is ignored) behind every queued job.
  virtual absl::StatusOr<Job> CreateJob(const Job& job) = 0;
  virtual absl::StatusOr<Job> GetJob(const std::string& tenant_id,
                                     const std::string& id) = 0;
  // Newest first; `state` filters; `page_size` <= 0 means 100 (max 1000).
  // Paging is stable under inserts: the token is the last row's position.
  virtual absl::StatusOr<JobPage> ListJobs(const std::string& tenant_id,
                                           std::optional<JobState> state,
                                           int page_size,
                                           const std::string& page_token) = 0;
  // The oldest queued job of every tenant that has one (FIFO heads), tenant
  // ids ascending, without checkpoints. The job queue picks among them.
  virtual absl::StatusOr<std::vector<Job>> ListQueueHeads() = 0;
  // Number of jobs in `state`, over all tenants.
  virtual absl::StatusOr<int64_t> CountJobsInState(JobState state) = 0;
  // Number of the tenant's jobs in `state`.
  virtual absl::StatusOr<int64_t> CountTenantJobsInState(
      const std::string& tenant_id, JobState state) = 0;

  // queued -> running (started_at = now). Returns the job with its
  // checkpoint. FAILED_PRECONDITION when it is no longer queued (another
  // claimer won or it was cancelled).
  virtual absl::StatusOr<Job> StartJob(const std::string& tenant_id,
                                       const std::string& id,
                                       absl::Time now) = 0;
  // Writes progress_json and, when `checkpoint` is given, the checkpoint, in
  // one transaction. FAILED_PRECONDITION unless the job is running.
  virtual absl::Status SaveJobProgress(
      const std::string& tenant_id, const std::string& id,
      const std::string& progress_json,
      const std::optional<std::string>& checkpoint) = 0;
  // Ends a running job (final_state must be terminal). In the same
  // transaction: on success, when `result` is given, its state, labels,
  // metrics, spec (when non-empty) and artifacts are written to the job's
  // prompt version; on failure or cancellation the job's prompt version, if
  // still training, becomes failed. FAILED_PRECONDITION unless running.
  virtual absl::StatusOr<Job> FinishJob(
      const std::string& tenant_id, const std::string& id,
      JobState final_state, const std::string& reason, absl::Time now,
      const PromptVersion* result = nullptr) = 0;
  // A queued job becomes cancelled (its prompt version failed); a running
  // job gets cancel_requested. Returns the job after the change.
  // FAILED_PRECONDITION when it already ended.
  virtual absl::StatusOr<Job> CancelJob(const std::string& tenant_id,
                                        const std::string& id,
                                        const std::string& reason,
                                        absl::Time now) = 0;
  // running -> queued, keeping checkpoint and queue position; attempts + 1
  // when `count_attempt`. FAILED_PRECONDITION unless running.
  virtual absl::StatusOr<Job> RequeueJob(const std::string& tenant_id,
                                         const std::string& id,
                                         bool count_attempt) = 0;
  // Crash recovery at start-up (single-writer deployments): every running
  // job goes back to queued with attempts + 1, except those whose cancel was
  // requested, which become cancelled, and those that have now been cut short
  // `max_attempts` times (attempts + 1 >= max_attempts), which fail with that
  // reason (their prompt version too). Returns how many were touched.
  virtual absl::StatusOr<int64_t> RecoverRunningJobs(absl::Time now,
                                                     int max_attempts) = 0;

  // --- Quota accounting ------------------------------------------------
  // Distinct prompt names of the tenant.
  virtual absl::StatusOr<int64_t> CountPrompts(
      const std::string& tenant_id) = 0;
  // Queued + running jobs of the tenant.
  virtual absl::StatusOr<int64_t> CountActiveJobs(
      const std::string& tenant_id) = 0;
  // Dataset contents + prompt artifacts of the tenant, in bytes.
  virtual absl::StatusOr<int64_t> StoredBytes(
      const std::string& tenant_id) = 0;
};

// Opens (creating and migrating when needed) the store named by `url`:
//   sqlite:///abs/path.db   absolute path
//   sqlite://relative.db    path relative to the working directory
//   /any/path.db, x.db      a plain path is a SQLite file
//   sqlite::memory:         private in-memory database (tests)
//   postgres://..., postgresql://...   UNIMPLEMENTED for now
// A SQLite file that exists but is empty (0 bytes: a botched restore, a
// truncated volume) is refused with FAILED_PRECONDITION unless
// `init_empty_store`: silently starting a fresh database there would lose
// every tenant. A missing file is created as before.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 bool init_empty_store = false);

// A random id: `prefix` + 16 lowercase hex characters from the OS CSPRNG.
std::string NewId(absl::string_view prefix);

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_STORE_H_

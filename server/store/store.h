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
  // Stores the dataset. RESOURCE_EXHAUSTED when the tenant's stored bytes
  // would pass max_stored_bytes (checked in the same transaction, so
  // concurrent writers on several replicas cannot overrun it together).
  virtual absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) = 0;
  virtual absl::StatusOr<Dataset> GetDataset(const std::string& tenant_id,
                                             const std::string& id) = 0;
  // Oldest first, without content.
  virtual absl::StatusOr<std::vector<Dataset>> ListDatasets(
      const std::string& tenant_id) = 0;
  virtual absl::Status DeleteDataset(const std::string& tenant_id,
                                     const std::string& id) = 0;

  // --- Prompts ---------------------------------------------------------
  // Inserts `prompt` as the next version of (tenant_id, name) and returns
  // the stored row. Versions come from a per-name counter that survives
  // DeletePrompt, so a number is never given twice (prompt.version is
  // ignored). In the same transaction: INVALID_ARGUMENT when the name's
  // existing versions have another task; RESOURCE_EXHAUSTED when a new name
  // passes max_prompts or the artifacts pass max_stored_bytes.
  virtual absl::StatusOr<PromptVersion> CreatePromptVersion(
      const PromptVersion& prompt) = 0;
  // The given version (any state), or, without one, the latest READY
  // version (NOT_FOUND when the name has no ready version).
  virtual absl::StatusOr<PromptVersion> GetPrompt(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) = 0;
  // The same version without its artifacts (empty; the digest is there):
  // for per-request checks (serving's version resolution, job views), which
  // must not read a prompt's tensors each time.
  virtual absl::StatusOr<PromptVersion> GetPromptMetadata(
      const std::string& tenant_id, const std::string& name,
      std::optional<int> version = std::nullopt) = 0;
  // One summary per name, names ascending.
  virtual absl::StatusOr<std::vector<PromptSummary>> ListPrompts(
      const std::string& tenant_id) = 0;
  // The summary of one name (NOT_FOUND when it has no version).
  virtual absl::StatusOr<PromptSummary> GetPromptSummary(
      const std::string& tenant_id, const std::string& name) = 0;
  // Deletes every version of the name (their numbers stay used). NOT_FOUND
  // when it has none.
  virtual absl::Status DeletePrompt(const std::string& tenant_id,
                                    const std::string& name) = 0;

  // --- Training submission ---------------------------------------------
  // TrainPrompt in one transaction: the quota checks of CreateDataset and
  // CreatePromptVersion over everything submitted (plus one byte, so a
  // tenant at its limit cannot queue a job whose result it cannot store),
  // the datasets, the prompt version (job_id = the job's id) and the queued
  // job. Either all of it is stored or none. Returns the job.
  virtual absl::StatusOr<Job> SubmitTraining(
      const TrainingSubmission& submission) = 0;

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
  // Number of jobs in `state`, over all tenants.
  virtual absl::StatusOr<int64_t> CountJobsInState(JobState state) = 0;

  // Picks the next job and marks it running under a lease held by `owner`
  // for `lease` (database time), with a new fencing epoch, atomically: two
  // replicas never claim one job. The pick: tenants with a queued job whose
  // tenant is enabled and runs fewer than max_concurrent_jobs, in
  // round-robin order of tenant id starting after the tenant served by the
  // previous claim (a cursor kept in the database, shared by every
  // replica); the tenant's oldest queued job. std::nullopt when none may
  // start. The job comes with its checkpoint.
  virtual absl::StatusOr<std::optional<Job>> ClaimJob(const std::string& owner,
                                                      absl::Duration lease) = 0;
  // The heartbeat: extends the lease to now + `lease`. Returns whether a
  // cancel was requested (CancelJob on any replica), so the runner stops the
  // job. ABORTED when `held` no longer holds the job.
  virtual absl::StatusOr<bool> RenewJobLease(const std::string& tenant_id,
                                             const std::string& id,
                                             const JobLease& held,
                                             absl::Duration lease) = 0;
  // Writes progress_json and, when `checkpoint` is given, the checkpoint, in
  // one transaction. ABORTED unless `held` holds the running job.
  virtual absl::Status SaveJobProgress(
      const std::string& tenant_id, const std::string& id, const JobLease& held,
      const std::string& progress_json,
      const std::optional<std::string>& checkpoint) = 0;
  // Ends a running job (final_state must be terminal). In the same
  // transaction: on success, when `result` is given, its state, labels,
  // metrics, spec (when non-empty) and artifacts are written to the job's
  // prompt version (RESOURCE_EXHAUSTED, and nothing written, when they pass
  // the tenant's max_stored_bytes); on failure or cancellation the job's
  // prompt version, if still training, becomes failed. ABORTED unless `held`
  // holds the running job.
  virtual absl::StatusOr<Job> FinishJob(
      const std::string& tenant_id, const std::string& id, const JobLease& held,
      JobState final_state, const std::string& reason, absl::Time now,
      const PromptVersion* result = nullptr) = 0;
  // running -> queued, keeping checkpoint, attempts and queue position, and
  // clearing the lease: a draining replica hands its jobs back at once
  // instead of letting another one wait for the lease to expire. ABORTED
  // unless `held` holds the running job.
  virtual absl::StatusOr<Job> ReleaseJob(const std::string& tenant_id,
                                         const std::string& id,
                                         const JobLease& held) = 0;
  // A queued job becomes cancelled (its prompt version failed); a running
  // job gets cancel_requested, which its runner learns at its next
  // heartbeat. Returns the job after the change. FAILED_PRECONDITION when it
  // already ended.
  virtual absl::StatusOr<Job> CancelJob(const std::string& tenant_id,
                                        const std::string& id,
                                        const std::string& reason,
                                        absl::Time now) = 0;
  // Takes back the running jobs whose lease expired (their replica died or
  // hung): back to queued with attempts + 1 (checkpoint kept), or cancelled
  // when their cancel was requested, or failed, with their prompt version,
  // when they have now been cut short `max_attempts` times. Safe to call
  // from every replica at any time. Returns how many it took.
  virtual absl::StatusOr<int64_t> ReclaimExpiredJobs(int max_attempts) = 0;
  // The same, at once and whatever their expiry, for the running jobs whose
  // lease owner is "<replica>/..." but not `owner`: leases of an earlier
  // process of this same replica (a restarted container of one pod, a
  // restarted single server), which cannot still be running them.
  virtual absl::StatusOr<int64_t> ReclaimPredecessorJobs(const std::string& replica,
                                                         const std::string& owner,
                                                         int max_attempts) = 0;

  // Waits up to `timeout` until another writer (any replica) changes a job
  // (queued, claimed, progress, cancel, end) and returns the changed job
  // ids, possibly none: a wake-up hint, so that cancels, watches and idle
  // workers react at once instead of at their next poll. UNIMPLEMENTED on
  // engines without notifications (SQLite); callers then just poll.
  virtual absl::StatusOr<std::vector<std::string>> WaitForJobChanges(
      absl::Duration timeout) = 0;

  // --- Quota accounting ------------------------------------------------
  // Distinct prompt names of the tenant.
  virtual absl::StatusOr<int64_t> CountPrompts(
      const std::string& tenant_id) = 0;
  // Dataset contents + prompt artifacts of the tenant, in bytes.
  virtual absl::StatusOr<int64_t> StoredBytes(
      const std::string& tenant_id) = 0;

  // Statements and transaction commands sent to the database so far (a
  // warm Classify must add none).
  virtual int64_t DatabaseRoundTrips() const = 0;
};

// Opens (creating and migrating when needed) the store named by `url`:
//   sqlite:///abs/path.db   absolute path
//   sqlite://relative.db    path relative to the working directory
//   /any/path.db, x.db      a plain path is a SQLite file
//   sqlite::memory:         private in-memory database (tests)
//   postgres://..., postgresql://...   a PostgreSQL database, as libpq
//                           reads the URI (password from PGPASSFILE or
//                           ~/.pgpass; never put it in the URI)
// A SQLite file that exists but is empty (0 bytes: a botched restore, a
// truncated volume) is refused with FAILED_PRECONDITION unless
// `init_empty_store`: silently starting a fresh database there would lose
// every tenant. A missing file is created as before.
struct StoreOptions {
  // See above: a 0-byte SQLite file is only initialized when this is set.
  bool init_empty_store = false;
  // PostgreSQL connections (SQLite always uses one, serialized).
  int pool_size = 8;
};
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 const StoreOptions& options = {});

// `url` with any password replaced by "***" (postgresql://u:***@h/db), for
// logs and errors.
std::string RedactedUrl(const std::string& url);

// A random id: `prefix` + 16 lowercase hex characters from the OS CSPRNG.
std::string NewId(absl::string_view prefix);

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_STORE_H_

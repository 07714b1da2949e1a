// Plain records kept by the Store: tenants, API keys, datasets, prompt
// versions and training jobs. Values only; no behaviour beyond naming the
// states. Times are absl::Time (stored as int64 unix microseconds).
#ifndef PTUNE_SERVER_STORE_RECORDS_H_
#define PTUNE_SERVER_STORE_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ptune::store {

// Per-tenant limits. The defaults suit a small shared deployment; operators
// raise them per tenant.
struct Quotas {
  int64_t max_prompts = 100;          // distinct prompt names
  int64_t max_concurrent_jobs = 2;    // jobs running at once
  int64_t max_stored_bytes = int64_t{1} << 30;  // datasets + prompt artifacts
  double requests_per_second = 50.0;  // token-bucket refill rate
  int64_t burst = 100;                // token-bucket size
};

struct Tenant {
  std::string id;    // "ten_" + 16 hex; assigned by CreateTenant when empty
  std::string name;  // unique across tenants
  absl::Time created_at = absl::UnixEpoch();
  bool disabled = false;
  Quotas quotas;
};

struct ApiKey {
  std::string id;         // "key_" + 16 hex; assigned when empty
  std::string tenant_id;
  std::string key_hash;   // lowercase hex SHA-256 of the secret (never the secret)
  std::string display_prefix;  // first 8 characters of the key, for listings
  absl::Time created_at = absl::UnixEpoch();
  std::optional<absl::Time> revoked_at;  // set once revoked
  bool revoked() const { return revoked_at.has_value(); }
};

// A key found by its hash, with the tenant that owns it.
struct ApiKeyLookup {
  ApiKey key;
  Tenant tenant;
};

struct Dataset {
  std::string id;  // "ds_" + 16 hex; assigned when empty
  std::string tenant_id;
  std::string name;    // free text; not unique
  std::string task;    // "classify" | "tag"
  std::string format;  // e.g. "jsonl", "tsv", "conll"
  std::string content; // raw bytes; empty in listings
  int64_t size_bytes = 0;     // computed by the store: content.size()
  std::string digest;         // computed by the store: Sha256Hex(content)
  int64_t example_count = 0;
  absl::Time created_at = absl::UnixEpoch();
};

enum class PromptState { kTraining, kReady, kFailed };
absl::string_view PromptStateName(PromptState state);  // "training", ...
absl::StatusOr<PromptState> ParsePromptState(absl::string_view name);

struct PromptVersion {
  std::string tenant_id;
  std::string name;
  // 1, 2, 3, ... per (tenant, name); assigned by the store and never
  // reused, also after DeletePrompt: a (tenant, name, version) always names
  // the same weights.
  int version = 0;
  PromptState state = PromptState::kTraining;
  std::string task;       // "classify" | "tag"
  std::string spec_json;  // the PromptSpec as JSON, opaque to the store
  std::vector<std::string> labels;  // stored as a JSON array
  std::string metrics_json;
  std::string artifact_safetensors;  // bytes; empty in listings
  std::string artifact_json;         // empty in listings
  std::string job_id;  // the job that produces (produced) this version
  int64_t size_bytes = 0;  // computed by the store: both artifacts' sizes
  // Computed by the store: ArtifactDigest of both artifacts. The prompt
  // cache keys on it.
  std::string digest;
  absl::Time created_at = absl::UnixEpoch();
};

// One prompt name in a listing: its versions (metadata only, ascending).
struct PromptSummary {
  std::string name;
  int latest_version = 0;        // the highest version, whatever its state
  int latest_ready_version = 0;  // 0 when no version is ready
  std::vector<PromptVersion> versions;  // without artifacts
};

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
absl::string_view JobStateName(JobState state);  // "queued", "running", ...
absl::StatusOr<JobState> ParseJobState(absl::string_view name);
bool IsTerminal(JobState state);  // succeeded, failed or cancelled

struct Job {
  std::string id;  // "job_" + 16 hex; assigned when empty
  std::string tenant_id;
  std::string prompt_name;
  int prompt_version = 0;  // the version this job produces (0: none)
  JobState state = JobState::kQueued;
  std::string reason;        // why it failed or was cancelled
  std::string request_json;  // the whole training request, opaque
  absl::Time created_at = absl::UnixEpoch();
  std::optional<absl::Time> started_at;   // latest start
  std::optional<absl::Time> finished_at;
  std::string progress_json;  // latest progress (jobs::JobProgress JSON)
  std::string checkpoint;     // latest checkpoint bytes; empty in listings
  int attempts = 0;  // runs cut short (lease expired, i.e. a replica died)
  bool cancel_requested = false;
  // The lease of a running job: who runs it, until when (database time),
  // and the fencing epoch, bumped by every claim. Writes about a running
  // job must name the (owner, epoch) that claimed it.
  std::string lease_owner;
  int64_t lease_epoch = 0;
  std::optional<absl::Time> lease_expires_at;
};

// What a running job's writes are conditioned on: the replica that claimed
// it and the claim's epoch. A write under a lease that is no longer held
// (it expired and another replica took the job, or the job ended) is
// refused with ABORTED, and the writer must stop the run.
struct JobLease {
  std::string owner;
  int64_t epoch = 0;
  static JobLease Of(const Job& job) { return {job.lease_owner, job.lease_epoch}; }
};

// TrainPrompt's write: the new datasets (ids assigned by the caller or the
// store), the prompt version the job makes (state training; its version is
// assigned) and the queued job (its prompt_version is filled in).
struct TrainingSubmission {
  std::vector<Dataset> datasets;
  PromptVersion version;
  Job job;
};

// One page of ListJobs: newest first. `next_page_token` is empty on the
// last page.
struct JobPage {
  std::vector<Job> jobs;  // without checkpoints
  std::string next_page_token;
};

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_RECORDS_H_

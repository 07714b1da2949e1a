// CachingStore: the serving hot path off the database. Wraps a Store and
// answers the three reads every Classify/TagEntities makes (API key ->
// tenant, tenant -> quotas, name -> ready version + digest) from memory for
// a short TTL, so a warm request makes no database round trip.
//
// Consistency: a write through this CachingStore drops the entries it
// affects at once (revoking a key, changing or deleting a tenant, anything
// that changes a tenant's prompt versions). A write through another replica
// is seen here within `ttl`: that is the documented bound for key
// revocation and prompt deletion to reach every replica. Serving stale
// metadata for up to `ttl` can never serve stale tensors: versions are
// never reused and the prompt cache keys on the digest.
//
// Thread-safety: thread-safe. Ownership: owns the wrapped store.
#ifndef PTUNE_SERVER_STORE_CACHING_STORE_H_
#define PTUNE_SERVER_STORE_CACHING_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace ptune::store {

class CachingStore : public Store {
 public:
  // `clock` is for tests; the default is absl::Now.
  CachingStore(std::unique_ptr<Store> inner, absl::Duration ttl,
               std::function<absl::Time()> clock = nullptr);

  // Cached reads.
  absl::StatusOr<Tenant> GetTenant(const std::string& id) override;
  absl::StatusOr<ApiKeyLookup> LookupApiKey(const std::string& key_hash) override;
  // Only the metadata of READY versions is cached (a version that is still
  // training changes when it finishes).
  absl::StatusOr<PromptVersion> GetPromptMetadata(const std::string& tenant_id,
                                                  const std::string& name,
                                                  std::optional<int> version) override;

  // Writes that drop cached entries.
  absl::Status UpdateTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(const std::string& id) override;
  absl::Status RevokeApiKey(const std::string& tenant_id, const std::string& key_id) override;
  absl::StatusOr<PromptVersion> CreatePromptVersion(const PromptVersion& prompt) override;
  absl::Status DeletePrompt(const std::string& tenant_id, const std::string& name) override;
  absl::StatusOr<Job> SubmitTraining(const TrainingSubmission& submission) override;
  absl::StatusOr<Job> FinishJob(const std::string& tenant_id, const std::string& id,
                                const JobLease& held, JobState final_state,
                                const std::string& reason, absl::Time now,
                                const PromptVersion* result) override;
  absl::StatusOr<Job> CancelJob(const std::string& tenant_id, const std::string& id,
                                const std::string& reason, absl::Time now) override;
  absl::StatusOr<int64_t> ReclaimExpiredJobs(int max_attempts) override;

  // Everything else goes straight to the wrapped store.
  absl::StatusOr<Tenant> CreateTenant(const Tenant& t) override { return inner_->CreateTenant(t); }
  absl::StatusOr<Tenant> GetTenantByName(const std::string& name) override {
    return inner_->GetTenantByName(name);
  }
  absl::StatusOr<std::vector<Tenant>> ListTenants() override { return inner_->ListTenants(); }
  absl::StatusOr<ApiKey> CreateApiKey(const ApiKey& key) override {
    return inner_->CreateApiKey(key);
  }
  absl::StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& tenant_id) override {
    return inner_->ListApiKeys(tenant_id);
  }
  absl::StatusOr<Dataset> CreateDataset(const Dataset& d) override {
    return inner_->CreateDataset(d);
  }
  absl::StatusOr<Dataset> GetDataset(const std::string& tenant_id, const std::string& id) override {
    return inner_->GetDataset(tenant_id, id);
  }
  absl::StatusOr<std::vector<Dataset>> ListDatasets(const std::string& tenant_id) override {
    return inner_->ListDatasets(tenant_id);
  }
  absl::Status DeleteDataset(const std::string& tenant_id, const std::string& id) override {
    return inner_->DeleteDataset(tenant_id, id);
  }
  absl::StatusOr<PromptVersion> GetPrompt(const std::string& tenant_id, const std::string& name,
                                          std::optional<int> version) override {
    return inner_->GetPrompt(tenant_id, name, version);
  }
  absl::StatusOr<std::vector<PromptSummary>> ListPrompts(const std::string& tenant_id) override {
    return inner_->ListPrompts(tenant_id);
  }
  absl::StatusOr<PromptSummary> GetPromptSummary(const std::string& tenant_id,
                                                 const std::string& name) override {
    return inner_->GetPromptSummary(tenant_id, name);
  }
  absl::StatusOr<Job> CreateJob(const Job& job) override { return inner_->CreateJob(job); }
  absl::StatusOr<Job> GetJob(const std::string& tenant_id, const std::string& id) override {
    return inner_->GetJob(tenant_id, id);
  }
  absl::StatusOr<JobPage> ListJobs(const std::string& tenant_id, std::optional<JobState> state,
                                   int page_size, const std::string& page_token) override {
    return inner_->ListJobs(tenant_id, state, page_size, page_token);
  }
  absl::StatusOr<int64_t> CountJobsInState(JobState state) override {
    return inner_->CountJobsInState(state);
  }
  absl::StatusOr<std::optional<Job>> ClaimJob(const std::string& owner,
                                              absl::Duration lease) override {
    return inner_->ClaimJob(owner, lease);
  }
  absl::StatusOr<bool> RenewJobLease(const std::string& tenant_id, const std::string& id,
                                     const JobLease& held, absl::Duration lease) override {
    return inner_->RenewJobLease(tenant_id, id, held, lease);
  }
  absl::Status SaveJobProgress(const std::string& tenant_id, const std::string& id,
                               const JobLease& held, const std::string& progress_json,
                               const std::optional<std::string>& checkpoint) override {
    return inner_->SaveJobProgress(tenant_id, id, held, progress_json, checkpoint);
  }
  absl::StatusOr<Job> ReleaseJob(const std::string& tenant_id, const std::string& id,
                                 const JobLease& held) override {
    return inner_->ReleaseJob(tenant_id, id, held);
  }
  absl::StatusOr<int64_t> CountPrompts(const std::string& tenant_id) override {
    return inner_->CountPrompts(tenant_id);
  }
  absl::StatusOr<int64_t> StoredBytes(const std::string& tenant_id) override {
    return inner_->StoredBytes(tenant_id);
  }
  absl::StatusOr<int64_t> ReclaimPredecessorJobs(const std::string& replica,
                                                 const std::string& owner,
                                                 int max_attempts) override {
    return inner_->ReclaimPredecessorJobs(replica, owner, max_attempts);
  }
  absl::StatusOr<std::vector<std::string>> WaitForJobChanges(absl::Duration timeout) override {
    return inner_->WaitForJobChanges(timeout);
  }
  int64_t DatabaseRoundTrips() const override { return inner_->DatabaseRoundTrips(); }

  absl::Duration ttl() const { return ttl_; }

 private:
  template <typename V>
  struct Entry {
    V value;
    absl::Time expires;
  };
  using PromptKey = std::tuple<std::string, std::string, int>;  // tenant, name, version (0: latest)

  void DropTenant(const std::string& tenant_id);
  void DropPrompts(const std::string& tenant_id);

  const std::unique_ptr<Store> inner_;
  const absl::Duration ttl_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry<Tenant>> tenants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Entry<ApiKeyLookup>> keys_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<PromptKey, Entry<PromptVersion>> prompts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_CACHING_STORE_H_

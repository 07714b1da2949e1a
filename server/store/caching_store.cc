#include "server/store/caching_store.h"

#include <utility>

#include "absl/time/clock.h"

namespace ptune::store {

CachingStore::CachingStore(std::unique_ptr<Store> inner, absl::Duration ttl,
                           std::function<absl::Time()> clock)
    : inner_(std::move(inner)),
      ttl_(ttl),
      clock_(clock ? std::move(clock) : std::function<absl::Time()>([] { return absl::Now(); })) {}

absl::StatusOr<Tenant> CachingStore::GetTenant(const std::string& id) {
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    auto it = tenants_.find(id);
    if (it != tenants_.end() && it->second.expires > now) return it->second.value;
  }
  absl::StatusOr<Tenant> tenant = inner_->GetTenant(id);
  if (tenant.ok() && ttl_ > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    tenants_[id] = {*tenant, now + ttl_};
  }
  return tenant;
}

absl::StatusOr<ApiKeyLookup> CachingStore::LookupApiKey(const std::string& key_hash) {
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(key_hash);
    if (it != keys_.end() && it->second.expires > now) return it->second.value;
  }
  // Unknown keys are not cached: a key created on another replica works
  // here at once.
  absl::StatusOr<ApiKeyLookup> lookup = inner_->LookupApiKey(key_hash);
  if (lookup.ok() && ttl_ > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    keys_[key_hash] = {*lookup, now + ttl_};
    tenants_[lookup->tenant.id] = {lookup->tenant, now + ttl_};
  }
  return lookup;
}

absl::StatusOr<PromptVersion> CachingStore::GetPromptMetadata(const std::string& tenant_id,
                                                              const std::string& name,
                                                              std::optional<int> version) {
  const PromptKey key{tenant_id, name, version.value_or(0)};
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    auto it = prompts_.find(key);
    if (it != prompts_.end() && it->second.expires > now) return it->second.value;
  }
  absl::StatusOr<PromptVersion> prompt = inner_->GetPromptMetadata(tenant_id, name, version);
  if (prompt.ok() && prompt->state == PromptState::kReady && ttl_ > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    prompts_[key] = {*prompt, now + ttl_};
  }
  return prompt;
}

void CachingStore::DropTenant(const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  tenants_.erase(tenant_id);
  absl::erase_if(keys_, [&](const auto& kv) { return kv.second.value.tenant.id == tenant_id; });
  absl::erase_if(prompts_, [&](const auto& kv) { return std::get<0>(kv.first) == tenant_id; });
}

void CachingStore::DropPrompts(const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(prompts_, [&](const auto& kv) { return std::get<0>(kv.first) == tenant_id; });
}

absl::Status CachingStore::UpdateTenant(const Tenant& tenant) {
  absl::Status status = inner_->UpdateTenant(tenant);
  DropTenant(tenant.id);
  return status;
}

absl::Status CachingStore::DeleteTenant(const std::string& id) {
  absl::Status status = inner_->DeleteTenant(id);
  DropTenant(id);
  return status;
}

absl::Status CachingStore::RevokeApiKey(const std::string& tenant_id, const std::string& key_id) {
  absl::Status status = inner_->RevokeApiKey(tenant_id, key_id);
  absl::MutexLock lock(&mu_);
  absl::erase_if(keys_, [&](const auto& kv) { return kv.second.value.key.id == key_id; });
  return status;
}

absl::StatusOr<PromptVersion> CachingStore::CreatePromptVersion(const PromptVersion& prompt) {
  absl::StatusOr<PromptVersion> created = inner_->CreatePromptVersion(prompt);
  DropPrompts(prompt.tenant_id);
  return created;
}

absl::Status CachingStore::DeletePrompt(const std::string& tenant_id, const std::string& name) {
  absl::Status status = inner_->DeletePrompt(tenant_id, name);
  DropPrompts(tenant_id);
  return status;
}

absl::StatusOr<Job> CachingStore::SubmitTraining(const TrainingSubmission& submission) {
  absl::StatusOr<Job> job = inner_->SubmitTraining(submission);
  DropPrompts(submission.version.tenant_id);
  return job;
}

absl::StatusOr<Job> CachingStore::FinishJob(const std::string& tenant_id, const std::string& id,
                                            const JobLease& held, JobState final_state,
                                            const std::string& reason, absl::Time now,
                                            const PromptVersion* result) {
  absl::StatusOr<Job> job = inner_->FinishJob(tenant_id, id, held, final_state, reason, now, result);
  DropPrompts(tenant_id);  // a new ready version is now the latest
  return job;
}

absl::StatusOr<Job> CachingStore::CancelJob(const std::string& tenant_id, const std::string& id,
                                            const std::string& reason, absl::Time now) {
  absl::StatusOr<Job> job = inner_->CancelJob(tenant_id, id, reason, now);
  DropPrompts(tenant_id);
  return job;
}

absl::StatusOr<int64_t> CachingStore::ReclaimExpiredJobs(int max_attempts) {
  return inner_->ReclaimExpiredJobs(max_attempts);  // only training versions change
}

}  // namespace ptune::store

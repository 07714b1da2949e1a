// SqlStore: prompt versions and TrainPrompt's one-transaction submission.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/auth/quotas.h"
#include "server/common/status_macros.h"
#include "server/store/digest.h"
#include "server/store/sql_store.h"

namespace ptune::store {

using sql::Blob;
using sql::Statement;
using sql::Transaction;

namespace {

constexpr char kPromptColumns[] =
    "tenant_id, name, version, state, task, spec_json, labels_json, metrics_json, "
    "artifact_safetensors, artifact_json, job_id, size_bytes, created_at, artifact_digest";
// The same columns with the artifacts left out (listings, serving checks).
constexpr char kPromptMetaColumns[] =
    "tenant_id, name, version, state, task, spec_json, labels_json, metrics_json, "
    "'', '', job_id, size_bytes, created_at, artifact_digest";

absl::StatusOr<PromptVersion> ReadPrompt(const Statement& s) {
  PromptVersion p;
  p.tenant_id = s.Text(0);
  p.name = s.Text(1);
  p.version = static_cast<int>(s.Int(2));
  ASSIGN_OR_RETURN(p.state, ParsePromptState(s.Text(3)));
  p.task = s.Text(4);
  p.spec_json = s.Text(5);
  nlohmann::json labels = nlohmann::json::parse(s.Text(6), nullptr, /*allow_exceptions=*/false);
  if (!labels.is_array()) {
    return absl::DataLossError(
        absl::StrCat("prompt '", p.name, "' v", p.version, " has corrupt labels"));
  }
  for (const auto& label : labels) {
    if (!label.is_string()) return absl::DataLossError("prompt labels must be strings");
    p.labels.push_back(label.get<std::string>());
  }
  p.metrics_json = s.Text(7);
  p.artifact_safetensors = s.Text(8);
  p.artifact_json = s.Text(9);
  p.job_id = s.Text(10);
  p.size_bytes = s.Int(11);
  p.created_at = s.Time(12);
  p.digest = s.Text(13);
  return p;
}

std::string LabelsJson(const std::vector<std::string>& labels) {
  // Invalid UTF-8 is replaced rather than thrown: no exception leaves here.
  return nlohmann::json(labels).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

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
    if (version.state == PromptState::kReady) summary.latest_ready_version = version.version;
    summary.versions.push_back(std::move(version));
  }
  return summaries;
}

// The next version of the name from its counter, which DeletePrompt leaves
// in place: numbers are never handed out twice.
absl::StatusOr<int> NextVersion(sql::Connection& c, const std::string& tenant_id,
                                const std::string& name) {
  ASSIGN_OR_RETURN(Statement s,
                   c.Prepare("INSERT INTO prompt_names (tenant_id, name, last_version) "
                             "VALUES (?, ?, 1) ON CONFLICT (tenant_id, name) DO UPDATE "
                             "SET last_version = prompt_names.last_version + 1 "
                             "RETURNING last_version"));
  s.BindAll(tenant_id, name);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::InternalError("the version counter returned no row");
  const int64_t version = s.Int(0);
  RETURN_IF_ERROR(s.Run());
  if (version > (int64_t{1} << 31) - 1) {
    return absl::ResourceExhaustedError(
        absl::StrCat("prompt '", name, "' has used every version number"));
  }
  return static_cast<int>(version);
}

}  // namespace

namespace internal {

absl::Status CheckPromptName(sql::Connection& c, const Tenant& tenant, const std::string& name,
                             const std::string& task) {
  ASSIGN_OR_RETURN(Statement s, c.Prepare("SELECT task FROM prompt_versions WHERE "
                                          "tenant_id = ? AND name = ? LIMIT 1"));
  s.BindAll(tenant.id, name);
  ASSIGN_OR_RETURN(bool exists, s.Step());
  if (exists) {
    // Versions of one name share a task: callers resolve a name without a
    // version, and a classify client must never get a tagger.
    const std::string existing = s.Text(0);
    if (existing != task) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt ", name, " is a ", existing, " prompt; a new version must have the "
          "same task (delete the prompt or choose another name)"));
    }
    return absl::OkStatus();
  }
  if (tenant.quotas.max_prompts <= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t count,
                   Count(c, "SELECT COUNT(DISTINCT name) FROM prompt_versions WHERE tenant_id = ?",
                         tenant.id));
  return auth::CheckPromptQuota(count, tenant.quotas.max_prompts);
}

absl::StatusOr<PromptVersion> InsertPromptVersion(sql::Connection& c,
                                                  const PromptVersion& prompt) {
  RETURN_IF_ERROR(ValidateTenantAndName(prompt.tenant_id, "prompt name", prompt.name));
  RETURN_IF_ERROR(ValidateTask(prompt.task));
  PromptVersion row = prompt;
  row.size_bytes =
      static_cast<int64_t>(row.artifact_safetensors.size() + row.artifact_json.size());
  row.digest = ArtifactDigest(row.artifact_safetensors, row.artifact_json);
  row.created_at = absl::Now();
  ASSIGN_OR_RETURN(row.version, NextVersion(c, row.tenant_id, row.name));
  const std::string sql = absl::StrCat("INSERT INTO prompt_versions (", kPromptColumns,
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ASSIGN_OR_RETURN(Statement s, c.Prepare(sql.c_str()));
  s.BindAll(row.tenant_id, row.name, row.version, PromptStateName(row.state), row.task,
            row.spec_json, LabelsJson(row.labels), row.metrics_json,
            Blob{row.artifact_safetensors}, row.artifact_json, row.job_id, row.size_bytes,
            row.created_at, row.digest);
  RETURN_IF_ERROR(s.Run());
  return row;
}

absl::Status WritePromptResult(sql::Connection& c, const PromptVersion& prompt) {
  RETURN_IF_ERROR(ValidateTask(prompt.task));
  ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare("UPDATE prompt_versions SET state = ?, task = ?, spec_json = ?, "
                "labels_json = ?, metrics_json = ?, artifact_safetensors = ?, "
                "artifact_json = ?, job_id = ?, size_bytes = ?, artifact_digest = ? "
                "WHERE tenant_id = ? AND name = ? AND version = ?"));
  const int64_t size =
      static_cast<int64_t>(prompt.artifact_safetensors.size() + prompt.artifact_json.size());
  s.BindAll(PromptStateName(prompt.state), prompt.task, prompt.spec_json,
            LabelsJson(prompt.labels), prompt.metrics_json, Blob{prompt.artifact_safetensors},
            prompt.artifact_json, prompt.job_id, size,
            ArtifactDigest(prompt.artifact_safetensors, prompt.artifact_json), prompt.tenant_id,
            prompt.name, prompt.version);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    return absl::NotFoundError(
        absl::StrCat("prompt '", prompt.name, "' v", prompt.version, " not found"));
  }
  return absl::OkStatus();
}

absl::Status FailTrainingVersion(sql::Connection& c, const Job& job) {
  if (job.prompt_version <= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement s,
                   c.Prepare("UPDATE prompt_versions SET state = 'failed' WHERE tenant_id = ? "
                             "AND name = ? AND version = ? AND state = 'training'"));
  s.BindAll(job.tenant_id, job.prompt_name, job.prompt_version);
  return s.Run();
}

}  // namespace internal

absl::StatusOr<PromptVersion> SqlStore::CreatePromptVersion(const PromptVersion& prompt) {
  RETURN_IF_ERROR(internal::ValidateTenantAndName(prompt.tenant_id, "prompt name", prompt.name));
  RETURN_IF_ERROR(internal::ValidateTask(prompt.task));
  return internal::RetryAborted([&]() -> absl::StatusOr<PromptVersion> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(const Tenant tenant,
                     internal::GetTenantRow(*c, prompt.tenant_id, /*for_update=*/true));
    RETURN_IF_ERROR(internal::CheckPromptName(*c, tenant, prompt.name, prompt.task));
    RETURN_IF_ERROR(internal::CheckStoredBytes(
        *c, tenant,
        static_cast<int64_t>(prompt.artifact_safetensors.size() + prompt.artifact_json.size())));
    ASSIGN_OR_RETURN(PromptVersion row, internal::InsertPromptVersion(*c, prompt));
    RETURN_IF_ERROR(txn->Commit());
    return row;
  });
}

absl::StatusOr<Job> SqlStore::SubmitTraining(const TrainingSubmission& submission) {
  const PromptVersion& prompt = submission.version;
  RETURN_IF_ERROR(internal::ValidateTenantAndName(prompt.tenant_id, "prompt name", prompt.name));
  RETURN_IF_ERROR(internal::ValidateTask(prompt.task));
  for (const Dataset& d : submission.datasets) {
    if (d.tenant_id != prompt.tenant_id || submission.job.tenant_id != prompt.tenant_id) {
      return absl::InvalidArgumentError("a training submission belongs to one tenant");
    }
  }
  return internal::RetryAborted([&]() -> absl::StatusOr<Job> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(const Tenant tenant,
                     internal::GetTenantRow(*c, prompt.tenant_id, /*for_update=*/true));
    RETURN_IF_ERROR(internal::CheckPromptName(*c, tenant, prompt.name, prompt.task));
    int64_t new_bytes = 1;  // room for the version the job will write
    for (const Dataset& d : submission.datasets) {
      new_bytes += static_cast<int64_t>(d.content.size());
    }
    RETURN_IF_ERROR(internal::CheckStoredBytes(*c, tenant, new_bytes));
    for (const Dataset& d : submission.datasets) {
      RETURN_IF_ERROR(internal::InsertDataset(*c, d).status());
    }
    Job job = submission.job;
    if (job.id.empty()) job.id = NewId("job_");
    PromptVersion version = prompt;
    version.job_id = job.id;
    ASSIGN_OR_RETURN(const PromptVersion stored, internal::InsertPromptVersion(*c, version));
    job.prompt_name = stored.name;
    job.prompt_version = stored.version;
    ASSIGN_OR_RETURN(Job queued, internal::InsertJob(*c, job));
    RETURN_IF_ERROR(txn->Commit());
    return queued;
  });
}

absl::StatusOr<PromptVersion> SqlStore::GetPrompt(const std::string& tenant_id,
                                                  const std::string& name,
                                                  std::optional<int> version) {
  return GetPromptRow(tenant_id, name, version, /*artifacts=*/true);
}

absl::StatusOr<PromptVersion> SqlStore::GetPromptMetadata(const std::string& tenant_id,
                                                          const std::string& name,
                                                          std::optional<int> version) {
  return GetPromptRow(tenant_id, name, version, /*artifacts=*/false);
}

absl::StatusOr<PromptVersion> SqlStore::GetPromptRow(const std::string& tenant_id,
                                                     const std::string& name,
                                                     std::optional<int> version,
                                                     bool artifacts) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat(
      "SELECT ", artifacts ? kPromptColumns : kPromptMetaColumns,
      " FROM prompt_versions WHERE tenant_id = ? AND name = ? ",
      version.has_value() ? "AND version = ?" : "AND state = 'ready' ORDER BY version DESC LIMIT 1");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  if (version.has_value()) {
    s.BindAll(tenant_id, name, *version);
  } else {
    s.BindAll(tenant_id, name);
  }
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return absl::NotFoundError(version.has_value()
                                   ? absl::StrCat("prompt '", name, "' v", *version, " not found")
                                   : absl::StrCat("prompt '", name, "' has no ready version"));
  }
  return ReadPrompt(s);
}

absl::StatusOr<std::vector<PromptSummary>> SqlStore::ListPrompts(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat("SELECT ", kPromptMetaColumns,
                                       " FROM prompt_versions WHERE tenant_id = ? "
                                       "ORDER BY name, version");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(tenant_id);
  return ReadSummaries(s);
}

absl::StatusOr<PromptSummary> SqlStore::GetPromptSummary(const std::string& tenant_id,
                                                         const std::string& name) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat("SELECT ", kPromptMetaColumns,
                                       " FROM prompt_versions WHERE tenant_id = ? AND name = ? "
                                       "ORDER BY name, version");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(tenant_id, name);
  ASSIGN_OR_RETURN(std::vector<PromptSummary> summaries, ReadSummaries(s));
  if (summaries.empty()) return absl::NotFoundError(absl::StrCat("prompt '", name, "' not found"));
  return std::move(summaries.front());
}

absl::Status SqlStore::DeletePrompt(const std::string& tenant_id, const std::string& name) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s,
                   c->Prepare("DELETE FROM prompt_versions WHERE tenant_id = ? AND name = ?"));
  s.BindAll(tenant_id, name);
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("prompt '", name, "' not found"));
  return absl::OkStatus();
}

}  // namespace ptune::store

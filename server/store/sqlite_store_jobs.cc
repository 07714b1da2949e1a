// SqliteStore: jobs (the durable half of server/jobs' queue).
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/sqlite_store.h"
#include "server/store/sqlite_store_internal.h"

namespace ptune::store {

using sqlite::Blob;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

constexpr char kJobColumns[] =
    "id, tenant_id, prompt_name, prompt_version, state, reason, request_json, "
    "created_at, started_at, finished_at, progress_json, checkpoint, "
    "attempts, cancel_requested, seq";
// The same columns without the checkpoint (listings).
constexpr char kJobMetaColumns[] =
    "id, tenant_id, prompt_name, prompt_version, state, reason, request_json, "
    "created_at, started_at, finished_at, progress_json, '', "
    "attempts, cancel_requested, seq";
constexpr int kSeqColumn = 14;

absl::StatusOr<Job> ReadJob(const Statement& s) {
  Job j;
  j.id = s.Text(0);
  j.tenant_id = s.Text(1);
  j.prompt_name = s.Text(2);
  j.prompt_version = static_cast<int>(s.Int(3));
  ASSIGN_OR_RETURN(j.state, ParseJobState(s.Text(4)));
  j.reason = s.Text(5);
  j.request_json = s.Text(6);
  j.created_at = s.Time(7);
  j.started_at = s.OptionalTime(8);
  j.finished_at = s.OptionalTime(9);
  j.progress_json = s.Text(10);
  j.checkpoint = s.Text(11);
  j.attempts = static_cast<int>(s.Int(12));
  j.cancel_requested = s.Bool(13);
  return j;
}

absl::StatusOr<std::vector<Job>> ReadJobs(Statement& s) {
  std::vector<Job> jobs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Job job, ReadJob(s));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

absl::Status NotInState(const Job& job, absl::string_view wanted) {
  return absl::FailedPreconditionError(
      absl::StrCat("job ", job.id, " is ", JobStateName(job.state), ", not ",
                   wanted));
}

}  // namespace

absl::StatusOr<Job> SqliteStore::CreateJob(const Job& job) {
  RETURN_IF_ERROR(internal::ValidateTenantAndName(job.tenant_id, "prompt name",
                                                  job.prompt_name));
  if (job.prompt_version < 0) {
    return absl::InvalidArgumentError("prompt_version must not be negative");
  }
  Job row = job;
  if (row.id.empty()) row.id = NewId("job_");
  row.state = JobState::kQueued;
  row.created_at = absl::Now();
  row.started_at.reset();
  row.finished_at.reset();
  row.cancel_requested = false;
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  int64_t seq = 1;
  {
    ASSIGN_OR_RETURN(Statement next,
                     db_->Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs"));
    ASSIGN_OR_RETURN(bool has_row, next.Step());
    if (has_row) seq = next.Int(0);
  }
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("INSERT INTO jobs (id, tenant_id, prompt_name, "
                     "prompt_version, state, reason, request_json, created_at, "
                     "started_at, finished_at, progress_json, checkpoint, "
                     "attempts, cancel_requested, seq) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 0, ?)"));
    s.BindAll(row.id, row.tenant_id, row.prompt_name, row.prompt_version,
              JobStateName(row.state), row.reason, row.request_json,
              row.created_at, row.progress_json, Blob{row.checkpoint},
              row.attempts, seq);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn->Commit());
  return row;
}

absl::StatusOr<Job> SqliteStore::GetJobLocked(const std::string& tenant_id,
                                              const std::string& id) {
  static const std::string kSql = absl::StrCat(
      "SELECT ", kJobColumns, " FROM jobs WHERE tenant_id = ? AND id = ?");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  s.BindAll(tenant_id, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  return ReadJob(s);
}

absl::StatusOr<Job> SqliteStore::GetJob(const std::string& tenant_id,
                                        const std::string& id) {
  absl::MutexLock lock(&mu_);
  return GetJobLocked(tenant_id, id);
}

absl::StatusOr<JobPage> SqliteStore::ListJobs(const std::string& tenant_id,
                                              std::optional<JobState> state,
                                              int page_size,
                                              const std::string& page_token) {
  if (page_size <= 0) page_size = 100;
  if (page_size > 1000) page_size = 1000;
  int64_t before = std::numeric_limits<int64_t>::max();
  if (!page_token.empty() &&
      (!absl::SimpleAtoi(page_token, &before) || before <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid page_token '", page_token, "'"));
  }
  absl::MutexLock lock(&mu_);
  // Newest first by queue sequence; the token is the last row's sequence, so
  // jobs inserted meanwhile (higher sequences) never shift a later page.
  static const std::string kAll = absl::StrCat(
      "SELECT ", kJobMetaColumns,
      " FROM jobs WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?");
  static const std::string kByState = absl::StrCat(
      "SELECT ", kJobMetaColumns,
      " FROM jobs WHERE tenant_id = ? AND seq < ? AND state = ? "
      "ORDER BY seq DESC LIMIT ?");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(state.has_value()
                                                 ? kByState.c_str()
                                                 : kAll.c_str()));
  // One extra row tells whether another page follows.
  if (state.has_value()) {
    s.BindAll(tenant_id, before, JobStateName(*state), page_size + 1);
  } else {
    s.BindAll(tenant_id, before, page_size + 1);
  }
  JobPage page;
  int64_t last_seq = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (static_cast<int>(page.jobs.size()) == page_size) {
      page.next_page_token = absl::StrCat(last_seq);
      break;
    }
    ASSIGN_OR_RETURN(Job job, ReadJob(s));
    last_seq = s.Int(kSeqColumn);
    page.jobs.push_back(std::move(job));
  }
  return page;
}

absl::StatusOr<std::vector<Job>> SqliteStore::ListQueueHeads() {
  absl::MutexLock lock(&mu_);
  static const std::string kSql = absl::StrCat(
      "SELECT ", kJobMetaColumns,
      " FROM jobs j WHERE j.state = 'queued' AND j.seq = "
      "(SELECT MIN(k.seq) FROM jobs k WHERE k.tenant_id = j.tenant_id "
      "AND k.state = 'queued') ORDER BY j.tenant_id");
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
  return ReadJobs(s);
}

absl::StatusOr<int64_t> SqliteStore::CountJobsInState(JobState state) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT COUNT(*) FROM jobs WHERE state = ?"));
  s.BindAll(JobStateName(state));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<int64_t> SqliteStore::CountTenantJobsInState(
    const std::string& tenant_id, JobState state) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare(
          "SELECT COUNT(*) FROM jobs WHERE tenant_id = ? AND state = ?"));
  s.BindAll(tenant_id, JobStateName(state));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<Job> SqliteStore::StartJob(const std::string& tenant_id,
                                          const std::string& id,
                                          absl::Time now) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  {
    // Compare-and-set: only a queued job starts, so two claimers never both
    // win.
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'running', started_at = ?, "
                     "finished_at = NULL WHERE tenant_id = ? AND id = ? "
                     "AND state = 'queued'"));
    s.BindAll(now, tenant_id, id);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) {
      ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
      return NotInState(job, "queued");
    }
  }
  ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
  RETURN_IF_ERROR(txn->Commit());
  return job;
}

absl::Status SqliteStore::SaveJobProgress(
    const std::string& tenant_id, const std::string& id,
    const std::string& progress_json,
    const std::optional<std::string>& checkpoint) {
  absl::MutexLock lock(&mu_);
  // One statement either way, so progress and checkpoint change together.
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare(checkpoint.has_value()
                       ? "UPDATE jobs SET progress_json = ?, checkpoint = ? "
                         "WHERE tenant_id = ? AND id = ? AND state = 'running'"
                       : "UPDATE jobs SET progress_json = ? "
                         "WHERE tenant_id = ? AND id = ? AND state = 'running'"));
  if (checkpoint.has_value()) {
    s.BindAll(progress_json, Blob{*checkpoint}, tenant_id, id);
  } else {
    s.BindAll(progress_json, tenant_id, id);
  }
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
    return NotInState(job, "running");
  }
  return absl::OkStatus();
}

absl::StatusOr<Job> SqliteStore::FinishJob(const std::string& tenant_id,
                                           const std::string& id,
                                           JobState final_state,
                                           const std::string& reason,
                                           absl::Time now,
                                           const PromptVersion* result) {
  if (!IsTerminal(final_state)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FinishJob needs a final state, got ", JobStateName(final_state)));
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
  if (job.state != JobState::kRunning) return NotInState(job, "running");
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = ?, reason = ?, finished_at = ? "
                     "WHERE tenant_id = ? AND id = ?"));
    s.BindAll(JobStateName(final_state), reason, now, tenant_id, id);
    RETURN_IF_ERROR(s.Run());
  }
  if (job.prompt_version > 0) {
    if (final_state == JobState::kSucceeded && result != nullptr) {
      PromptVersion prompt = *result;
      prompt.tenant_id = tenant_id;
      prompt.name = job.prompt_name;
      prompt.version = job.prompt_version;
      prompt.job_id = job.id;
      if (prompt.spec_json.empty() || prompt.task.empty()) {
        // Keep what was stored at submission.
        ASSIGN_OR_RETURN(Statement s,
                         db_->Prepare("SELECT spec_json, task FROM "
                                      "prompt_versions WHERE tenant_id = ? "
                                      "AND name = ? AND version = ?"));
        s.BindAll(tenant_id, job.prompt_name, job.prompt_version);
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) {
          return absl::NotFoundError(
              absl::StrCat("prompt '", job.prompt_name, "' v",
                           job.prompt_version, " of job ", id, " not found"));
        }
        if (prompt.spec_json.empty()) prompt.spec_json = s.Text(0);
        if (prompt.task.empty()) prompt.task = s.Text(1);
      }
      RETURN_IF_ERROR(WritePromptLocked(prompt));
    } else if (final_state != JobState::kSucceeded) {
      RETURN_IF_ERROR(SetPromptStateLocked(tenant_id, job.prompt_name,
                                           job.prompt_version,
                                           PromptState::kTraining,
                                           PromptState::kFailed));
    }
  }
  RETURN_IF_ERROR(txn->Commit());
  job.state = final_state;
  job.reason = reason;
  job.finished_at = now;
  return job;
}

absl::StatusOr<Job> SqliteStore::CancelJob(const std::string& tenant_id,
                                           const std::string& id,
                                           const std::string& reason,
                                           absl::Time now) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
  if (IsTerminal(job.state)) return NotInState(job, "queued or running");
  if (job.state == JobState::kQueued) {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'cancelled', reason = ?, "
                     "finished_at = ? WHERE tenant_id = ? AND id = ?"));
    s.BindAll(reason, now, tenant_id, id);
    RETURN_IF_ERROR(s.Run());
    job.state = JobState::kCancelled;
    job.finished_at = now;
    if (job.prompt_version > 0) {
      RETURN_IF_ERROR(SetPromptStateLocked(tenant_id, job.prompt_name,
                                           job.prompt_version,
                                           PromptState::kTraining,
                                           PromptState::kFailed));
    }
  } else {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET cancel_requested = 1, reason = ? "
                     "WHERE tenant_id = ? AND id = ?"));
    s.BindAll(reason, tenant_id, id);
    RETURN_IF_ERROR(s.Run());
    job.cancel_requested = true;
  }
  job.reason = reason;
  RETURN_IF_ERROR(txn->Commit());
  return job;
}

absl::StatusOr<Job> SqliteStore::RequeueJob(const std::string& tenant_id,
                                            const std::string& id,
                                            bool count_attempt) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'queued', attempts = attempts "
                     "+ ? WHERE tenant_id = ? AND id = ? AND state = "
                     "'running'"));
    s.BindAll(count_attempt ? 1 : 0, tenant_id, id);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) {
      ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
      return NotInState(job, "running");
    }
  }
  ASSIGN_OR_RETURN(Job job, GetJobLocked(tenant_id, id));
  RETURN_IF_ERROR(txn->Commit());
  return job;
}

absl::Status SqliteStore::FailTrainingVersionLocked(const Job& job) {
  if (job.prompt_version <= 0) return absl::OkStatus();
  return SetPromptStateLocked(job.tenant_id, job.prompt_name, job.prompt_version,
                              PromptState::kTraining, PromptState::kFailed);
}

absl::StatusOr<int64_t> SqliteStore::RecoverRunningJobs(absl::Time now,
                                                        int max_attempts) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get()));
  std::vector<Job> to_cancel;
  {
    static const std::string kSql = absl::StrCat(
        "SELECT ", kJobMetaColumns,
        " FROM jobs WHERE state = 'running' AND cancel_requested = 1");
    ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
    ASSIGN_OR_RETURN(to_cancel, ReadJobs(s));
  }
  for (const Job& job : to_cancel) {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'cancelled', finished_at = ? "
                     "WHERE tenant_id = ? AND id = ?"));
    s.BindAll(now, job.tenant_id, job.id);
    RETURN_IF_ERROR(s.Run());
    RETURN_IF_ERROR(FailTrainingVersionLocked(job));
  }
  // Jobs whose every run so far was cut short (this one included) have had
  // their attempts: a job that kills the process (e.g. out of memory) would
  // otherwise crash-loop the server forever.
  std::vector<Job> exhausted;
  {
    static const std::string kSql = absl::StrCat(
        "SELECT ", kJobMetaColumns,
        " FROM jobs WHERE state = 'running' AND attempts + 1 >= ?");
    ASSIGN_OR_RETURN(Statement s, db_->Prepare(kSql.c_str()));
    s.BindAll(max_attempts);
    ASSIGN_OR_RETURN(exhausted, ReadJobs(s));
  }
  for (const Job& job : exhausted) {
    const std::string reason = absl::StrCat(
        "the server stopped during each of this job's ", job.attempts + 1,
        " runs (e.g. killed for using too much memory); not retried "
        "(--max_job_attempts=", max_attempts, ")");
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'failed', attempts = attempts + 1, "
                     "reason = ?, finished_at = ? WHERE tenant_id = ? AND id = ?"));
    s.BindAll(reason, now, job.tenant_id, job.id);
    RETURN_IF_ERROR(s.Run());
    RETURN_IF_ERROR(FailTrainingVersionLocked(job));
  }
  int64_t requeued = 0;
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE jobs SET state = 'queued', attempts = attempts "
                     "+ 1 WHERE state = 'running'"));
    RETURN_IF_ERROR(s.Run());
    requeued = s.changes();
  }
  RETURN_IF_ERROR(txn->Commit());
  return requeued + static_cast<int64_t>(to_cancel.size() + exhausted.size());
}

}  // namespace ptune::store

// SqlStore: jobs (the durable half of server/jobs' queue): claims, leases,
// fencing and reclaim.
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/digest.h"
#include "server/store/sql_store.h"

namespace ptune::store {

using sql::Blob;
using sql::Statement;
using sql::Transaction;

namespace {

constexpr char kJobColumns[] =
    "id, tenant_id, prompt_name, prompt_version, state, reason, request_json, "
    "created_at, started_at, finished_at, progress_json, checkpoint, "
    "attempts, cancel_requested, seq, lease_owner, lease_epoch, lease_expires_at";
// The same columns without the checkpoint (listings).
constexpr char kJobMetaColumns[] =
    "id, tenant_id, prompt_name, prompt_version, state, reason, request_json, "
    "created_at, started_at, finished_at, progress_json, '', "
    "attempts, cancel_requested, seq, lease_owner, lease_epoch, lease_expires_at";
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
  j.lease_owner = s.Text(15);
  j.lease_epoch = s.Int(16);
  j.lease_expires_at = s.OptionalTime(17);
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
      absl::StrCat("job ", job.id, " is ", JobStateName(job.state), ", not ", wanted));
}

absl::Status LeaseLost(const std::string& id) {
  return absl::AbortedError(absl::StrCat(
      "job ", id, ": this replica no longer holds its lease (it expired and the job was "
      "taken over, or the job ended)"));
}

// The job row, locked for the caller's transaction.
absl::StatusOr<Job> GetJobRow(sql::Connection& c, const std::string& tenant_id,
                              const std::string& id, bool for_update) {
  const std::string sql = absl::StrCat("SELECT ", kJobColumns,
                                       " FROM jobs WHERE tenant_id = ? AND id = ?",
                                       for_update ? c.dialect().for_update : "");
  ASSIGN_OR_RETURN(Statement s, c.Prepare(sql.c_str()));
  s.BindAll(tenant_id, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  return ReadJob(s);
}

bool Holds(const Job& job, const JobLease& held) {
  return job.state == JobState::kRunning && job.lease_owner == held.owner &&
         job.lease_epoch == held.epoch;
}

}  // namespace

namespace internal {

absl::StatusOr<Job> InsertJob(sql::Connection& c, const Job& job) {
  RETURN_IF_ERROR(ValidateTenantAndName(job.tenant_id, "prompt name", job.prompt_name));
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
  row.lease_owner.clear();
  row.lease_epoch = 0;
  row.lease_expires_at.reset();
  int64_t seq = 0;
  {
    // A counter, not MAX(seq) + 1: sequence numbers (and so page tokens and
    // queue order) are never reused after deletes.
    ASSIGN_OR_RETURN(Statement next,
                     c.Prepare("UPDATE counters SET value = value + 1 WHERE name = 'job_seq' "
                               "RETURNING value"));
    ASSIGN_OR_RETURN(bool has_row, next.Step());
    if (!has_row) return absl::InternalError("the job_seq counter is missing");
    seq = next.Int(0);
    RETURN_IF_ERROR(next.Run());
  }
  ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare("INSERT INTO jobs (id, tenant_id, prompt_name, prompt_version, state, reason, "
                "request_json, created_at, started_at, finished_at, progress_json, checkpoint, "
                "checkpoint_digest, attempts, cancel_requested, seq) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, 0, ?)"));
  s.BindAll(row.id, row.tenant_id, row.prompt_name, row.prompt_version, JobStateName(row.state),
            row.reason, row.request_json, row.created_at, row.progress_json,
            Blob{row.checkpoint}, Sha256Hex(row.checkpoint), row.attempts, seq);
  RETURN_IF_ERROR(s.Run());
  RETURN_IF_ERROR(NotifyJob(c, row.id));  // idle replicas claim it now
  return row;
}

absl::Status NotifyJob(sql::Connection& c, const std::string& job_id) {
  if (c.dialect().notify_jobs == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement s, c.Prepare(c.dialect().notify_jobs));
  s.BindAll(job_id);
  return s.Run();
}

}  // namespace internal

absl::StatusOr<Job> SqlStore::CreateJob(const Job& job) {
  RETURN_IF_ERROR(internal::ValidateTenantAndName(job.tenant_id, "prompt name", job.prompt_name));
  return internal::RetryAborted([&]() -> absl::StatusOr<Job> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(Job row, internal::InsertJob(*c, job));
    RETURN_IF_ERROR(txn->Commit());
    return row;
  });
}

absl::StatusOr<Job> SqlStore::GetJob(const std::string& tenant_id, const std::string& id) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  return GetJobRow(*c, tenant_id, id, /*for_update=*/false);
}

absl::StatusOr<JobPage> SqlStore::ListJobs(const std::string& tenant_id,
                                           std::optional<JobState> state, int page_size,
                                           const std::string& page_token) {
  if (page_size <= 0) page_size = 100;
  if (page_size > 1000) page_size = 1000;
  int64_t before = std::numeric_limits<int64_t>::max();
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &before) || before <= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid page_token '", page_token, "'"));
  }
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  // Newest first by queue sequence; the token is the last row's sequence, so
  // jobs inserted meanwhile (higher sequences) never shift a later page.
  const std::string sql =
      absl::StrCat("SELECT ", kJobMetaColumns, " FROM jobs WHERE tenant_id = ? AND seq < ? ",
                   state.has_value() ? "AND state = ? " : "", "ORDER BY seq DESC LIMIT ?");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
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

absl::StatusOr<int64_t> SqlStore::CountJobsInState(JobState state) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(Statement s, c->Prepare("SELECT COUNT(*) FROM jobs WHERE state = ?"));
  s.BindAll(JobStateName(state));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<std::optional<Job>> SqlStore::ClaimJob(const std::string& owner,
                                                      absl::Duration lease) {
  RETURN_IF_ERROR(internal::ValidateName("lease owner", owner));
  if (lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease must be positive");
  return internal::RetryAborted([&]() -> absl::StatusOr<std::optional<Job>> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    const sql::Dialect& d = c->dialect();
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    // The cursor row serializes claims (PostgreSQL: its row lock), so the
    // running counts below cannot be raced past a tenant's limit.
    std::string last_tenant;
    {
      const std::string sql =
          absl::StrCat("SELECT last_tenant FROM claim_cursor WHERE id = 1", d.for_update);
      ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return absl::InternalError("the claim cursor row is missing");
      last_tenant = s.Text(0);
    }
    std::string tenant_id, job_id;
    {
      // Each tenant's oldest queued job, for tenants that are enabled and
      // under their running limit; round-robin from after the last tenant.
      const std::string sql = absl::StrCat(
          "SELECT j.tenant_id, j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id "
          "WHERE j.state = 'queued' AND t.disabled = 0 "
          "AND j.seq = (SELECT MIN(k.seq) FROM jobs k WHERE k.tenant_id = j.tenant_id "
          "AND k.state = 'queued') "
          "AND (SELECT COUNT(*) FROM jobs r WHERE r.tenant_id = j.tenant_id "
          "AND r.state = 'running') < t.max_concurrent_jobs "
          "ORDER BY CASE WHEN j.tenant_id > ? THEN 0 ELSE 1 END, j.tenant_id LIMIT 1",
          d.for_update_skip_locked);
      ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
      s.BindAll(last_tenant);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return std::optional<Job>();
      tenant_id = s.Text(0);
      job_id = s.Text(1);
    }
    {
      const std::string sql = absl::StrCat(
          "UPDATE jobs SET state = 'running', started_at = ?, finished_at = NULL, "
          "lease_owner = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ",
          d.now_micros, " + ? WHERE tenant_id = ? AND id = ? AND state = 'queued'");
      ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
      s.BindAll(absl::Now(), owner, lease, tenant_id, job_id);
      RETURN_IF_ERROR(s.Run());
      if (s.changes() == 0) return std::optional<Job>();  // cancelled meanwhile
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       c->Prepare("UPDATE claim_cursor SET last_tenant = ? WHERE id = 1"));
      s.BindAll(tenant_id);
      RETURN_IF_ERROR(s.Run());
    }
    ASSIGN_OR_RETURN(Job job, GetJobRow(*c, tenant_id, job_id, /*for_update=*/false));
    RETURN_IF_ERROR(internal::NotifyJob(*c, job_id));
    RETURN_IF_ERROR(txn->Commit());
    return std::optional<Job>(std::move(job));
  });
}

absl::StatusOr<bool> SqlStore::RenewJobLease(const std::string& tenant_id, const std::string& id,
                                             const JobLease& held, absl::Duration lease) {
  if (lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease must be positive");
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  const std::string sql = absl::StrCat(
      "UPDATE jobs SET lease_expires_at = ", c->dialect().now_micros,
      " + ? WHERE tenant_id = ? AND id = ? AND state = 'running' AND lease_owner = ? "
      "AND lease_epoch = ? RETURNING cancel_requested");
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  s.BindAll(lease, tenant_id, id, held.owner, held.epoch);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return LeaseLost(id);
  const bool cancel_requested = s.Bool(0);
  RETURN_IF_ERROR(s.Run());
  return cancel_requested;
}

absl::Status SqlStore::SaveJobProgress(const std::string& tenant_id, const std::string& id,
                                       const JobLease& held, const std::string& progress_json,
                                       const std::optional<std::string>& checkpoint) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  // One statement either way, so progress and checkpoint change together.
  constexpr char kFence[] =
      " WHERE tenant_id = ? AND id = ? AND state = 'running' AND lease_owner = ? "
      "AND lease_epoch = ?";
  const std::string sql =
      checkpoint.has_value()
          ? absl::StrCat("UPDATE jobs SET progress_json = ?, checkpoint = ?, "
                         "checkpoint_digest = ?", kFence)
          : absl::StrCat("UPDATE jobs SET progress_json = ?", kFence);
  ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
  if (checkpoint.has_value()) {
    s.BindAll(progress_json, Blob{*checkpoint}, Sha256Hex(*checkpoint), tenant_id, id,
              held.owner, held.epoch);
  } else {
    s.BindAll(progress_json, tenant_id, id, held.owner, held.epoch);
  }
  RETURN_IF_ERROR(s.Run());
  if (s.changes() == 0) {
    RETURN_IF_ERROR(GetJobRow(*c, tenant_id, id, false).status());  // NOT_FOUND
    return LeaseLost(id);
  }
  return internal::NotifyJob(*c, id);  // watchers on other replicas
}

absl::StatusOr<Job> SqlStore::FinishJob(const std::string& tenant_id, const std::string& id,
                                        const JobLease& held, JobState final_state,
                                        const std::string& reason, absl::Time now,
                                        const PromptVersion* result) {
  if (!IsTerminal(final_state)) {
    return absl::InvalidArgumentError(
        absl::StrCat("FinishJob needs a final state, got ", JobStateName(final_state)));
  }
  return internal::RetryAborted([&]() -> absl::StatusOr<Job> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(Job job, GetJobRow(*c, tenant_id, id, /*for_update=*/true));
    if (!Holds(job, held)) return LeaseLost(id);
    if (job.prompt_version > 0) {
      if (final_state == JobState::kSucceeded && result != nullptr) {
        PromptVersion prompt = *result;
        prompt.tenant_id = tenant_id;
        prompt.name = job.prompt_name;
        prompt.version = job.prompt_version;
        prompt.job_id = job.id;
        ASSIGN_OR_RETURN(const Tenant tenant,
                         internal::GetTenantRow(*c, tenant_id, /*for_update=*/true));
        ASSIGN_OR_RETURN(Statement s, c->Prepare("SELECT spec_json, task, size_bytes FROM "
                                                 "prompt_versions WHERE tenant_id = ? "
                                                 "AND name = ? AND version = ?"));
        s.BindAll(tenant_id, job.prompt_name, job.prompt_version);
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) {
          return absl::NotFoundError(absl::StrCat("prompt '", job.prompt_name, "' v",
                                                  job.prompt_version, " of job ", id,
                                                  " not found"));
        }
        // Keep what was stored at submission.
        if (prompt.spec_json.empty()) prompt.spec_json = s.Text(0);
        if (prompt.task.empty()) prompt.task = s.Text(1);
        const int64_t old_size = s.Int(2);
        RETURN_IF_ERROR(s.Run());
        RETURN_IF_ERROR(internal::CheckStoredBytes(
            *c, tenant,
            static_cast<int64_t>(prompt.artifact_safetensors.size() +
                                 prompt.artifact_json.size()) - old_size));
        RETURN_IF_ERROR(internal::WritePromptResult(*c, prompt));
      } else if (final_state != JobState::kSucceeded) {
        RETURN_IF_ERROR(internal::FailTrainingVersion(*c, job));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       c->Prepare("UPDATE jobs SET state = ?, reason = ?, finished_at = ?, "
                                  "lease_owner = '', lease_expires_at = NULL "
                                  "WHERE tenant_id = ? AND id = ?"));
      s.BindAll(JobStateName(final_state), reason, now, tenant_id, id);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(internal::NotifyJob(*c, id));
    RETURN_IF_ERROR(txn->Commit());
    job.state = final_state;
    job.reason = reason;
    job.finished_at = now;
    job.lease_owner.clear();
    job.lease_expires_at.reset();
    return job;
  });
}

absl::StatusOr<Job> SqlStore::ReleaseJob(const std::string& tenant_id, const std::string& id,
                                         const JobLease& held) {
  ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
  ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
  {
    ASSIGN_OR_RETURN(Statement s,
                     c->Prepare("UPDATE jobs SET state = 'queued', lease_owner = '', "
                                "lease_expires_at = NULL WHERE tenant_id = ? AND id = ? "
                                "AND state = 'running' AND lease_owner = ? AND lease_epoch = ?"));
    s.BindAll(tenant_id, id, held.owner, held.epoch);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) {
      RETURN_IF_ERROR(GetJobRow(*c, tenant_id, id, false).status());
      return LeaseLost(id);
    }
  }
  ASSIGN_OR_RETURN(Job job, GetJobRow(*c, tenant_id, id, false));
  RETURN_IF_ERROR(internal::NotifyJob(*c, id));  // another replica takes it now
  RETURN_IF_ERROR(txn->Commit());
  return job;
}

absl::StatusOr<Job> SqlStore::CancelJob(const std::string& tenant_id, const std::string& id,
                                        const std::string& reason, absl::Time now) {
  return internal::RetryAborted([&]() -> absl::StatusOr<Job> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    ASSIGN_OR_RETURN(Job job, GetJobRow(*c, tenant_id, id, /*for_update=*/true));
    if (IsTerminal(job.state)) return NotInState(job, "queued or running");
    if (job.state == JobState::kQueued) {
      ASSIGN_OR_RETURN(Statement s,
                       c->Prepare("UPDATE jobs SET state = 'cancelled', reason = ?, "
                                  "finished_at = ? WHERE tenant_id = ? AND id = ?"));
      s.BindAll(reason, now, tenant_id, id);
      RETURN_IF_ERROR(s.Run());
      job.state = JobState::kCancelled;
      job.finished_at = now;
      RETURN_IF_ERROR(internal::FailTrainingVersion(*c, job));
    } else {
      ASSIGN_OR_RETURN(Statement s,
                       c->Prepare("UPDATE jobs SET cancel_requested = 1, reason = ? "
                                  "WHERE tenant_id = ? AND id = ?"));
      s.BindAll(reason, tenant_id, id);
      RETURN_IF_ERROR(s.Run());
      job.cancel_requested = true;
    }
    job.reason = reason;
    job.checkpoint.clear();
    RETURN_IF_ERROR(internal::NotifyJob(*c, id));  // the running replica stops it now
    RETURN_IF_ERROR(txn->Commit());
    return job;
  });
}

absl::StatusOr<int64_t> SqlStore::ReclaimExpiredJobs(int max_attempts) {
  return Reclaim(max_attempts, "", "");
}

absl::StatusOr<int64_t> SqlStore::ReclaimPredecessorJobs(const std::string& replica,
                                                         const std::string& owner,
                                                         int max_attempts) {
  RETURN_IF_ERROR(internal::ValidateName("replica", replica));
  return Reclaim(max_attempts, replica, owner);
}

absl::StatusOr<int64_t> SqlStore::Reclaim(int max_attempts, const std::string& replica,
                                          const std::string& owner) {
  if (max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be at least 1");
  return internal::RetryAborted([&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(sql::ConnectionPool::Lease c, pool_->Acquire());
    const sql::Dialect& d = c->dialect();
    ASSIGN_OR_RETURN(auto txn, Transaction::Start(c.get()));
    std::vector<Job> expired;
    if (replica.empty()) {
      // Jobs from before leases existed have none: expired too.
      const std::string sql = absl::StrCat(
          "SELECT ", kJobMetaColumns,
          " FROM jobs WHERE state = 'running' AND (lease_expires_at IS NULL OR "
          "lease_expires_at < ", d.now_micros, ")", d.for_update);
      ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
      ASSIGN_OR_RETURN(expired, ReadJobs(s));
    } else {
      // Leases of an earlier incarnation of this replica ("<replica>/..."),
      // whatever their expiry: that process is gone.
      const std::string sql = absl::StrCat(
          "SELECT ", kJobMetaColumns,
          " FROM jobs WHERE state = 'running' AND substr(lease_owner, 1, ?) = ? "
          "AND lease_owner <> ?", d.for_update);
      ASSIGN_OR_RETURN(Statement s, c->Prepare(sql.c_str()));
      const std::string prefix = replica + "/";
      s.BindAll(static_cast<int64_t>(prefix.size()), prefix, owner);
      ASSIGN_OR_RETURN(expired, ReadJobs(s));
    }
    const absl::Time now = absl::Now();
    for (const Job& job : expired) {
      std::string state = "queued", reason = job.reason;
      std::optional<absl::Time> finished;
      if (job.cancel_requested) {
        state = "cancelled";
        finished = now;
      } else if (job.attempts + 1 >= max_attempts) {
        // Every run so far was cut short (this one included): a job that
        // kills its replica (e.g. out of memory) would otherwise take down
        // one replica after another forever.
        state = "failed";
        finished = now;
        reason = absl::StrCat("the replica running this job stopped during each of its ",
                              job.attempts + 1,
                              " runs (e.g. killed for using too much memory); not retried "
                              "(--max_job_attempts=", max_attempts, ")");
      }
      ASSIGN_OR_RETURN(Statement s,
                       c->Prepare("UPDATE jobs SET state = ?, attempts = attempts + 1, "
                                  "reason = ?, finished_at = ?, lease_owner = '', "
                                  "lease_expires_at = NULL WHERE tenant_id = ? AND id = ? "
                                  "AND state = 'running' AND lease_epoch = ?"));
      s.BindAll(state, reason, finished, job.tenant_id, job.id, job.lease_epoch);
      RETURN_IF_ERROR(s.Run());
      if (state != "queued") RETURN_IF_ERROR(internal::FailTrainingVersion(*c, job));
      RETURN_IF_ERROR(internal::NotifyJob(*c, job.id));
    }
    RETURN_IF_ERROR(txn->Commit());
    return static_cast<int64_t>(expired.size());
  });
}

absl::StatusOr<std::vector<std::string>> SqlStore::WaitForJobChanges(absl::Duration timeout) {
  if (!notifications_) return absl::UnimplementedError("this store engine has no notifications");
  absl::MutexLock lock(&listener_mu_);
  if (listener_ == nullptr) {
    ASSIGN_OR_RETURN(listener_, pool_->OpenDedicated());
  }
  absl::StatusOr<std::vector<std::string>> changed = listener_->WaitForJobNotifications(timeout);
  if (!changed.ok() && !listener_->healthy()) listener_.reset();  // reopened next time
  return changed;
}

}  // namespace ptune::store

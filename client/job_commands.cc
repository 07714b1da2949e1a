// ptune jobs list | get | watch | cancel, and the watcher behind
// `train --wait`.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/formatters.h"
#include "client/progress.h"
#include "server/common/status_macros.h"

namespace ptune::client {

absl::StatusOr<std::string> OnePositional(const ParsedArgs& args,
                                          const std::string& what) {
  if (args.positional.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected one ", what, ", got ", args.positional.size(), " arguments"));
  }
  return args.positional[0];
}

absl::Status WatchToEnd(const std::string& job_id,
                        const CommandContext& context) {
  ProgressPrinter printer(context.out, context.terminal);
  absl::StatusOr<v1::Job> last =
      context.client->WatchJob(job_id, [&](const v1::Job& job) {
        if (context.json) {
          *context.out << ToJson(job) << std::flush;
        } else {
          printer.Update(job);
        }
      });
  printer.Finish();
  if (!last.ok()) return last.status();
  switch (last->state()) {
    case v1::JOB_STATE_SUCCEEDED:
      // A prompt search ends with its table of candidates and g().
      if (!context.json && last->candidates_size() > 0) {
        *context.out << FormatCandidates(*last);
      }
      return absl::OkStatus();
    case v1::JOB_STATE_CANCELLED:
      return absl::CancelledError(
          absl::StrCat("job ", job_id, " was cancelled",
                       last->reason().empty() ? "" : ": ", last->reason()));
    case v1::JOB_STATE_FAILED:
      return absl::AbortedError(absl::StrCat("job ", job_id, " failed",
                                             last->reason().empty() ? "" : ": ",
                                             last->reason()));
    default:
      return absl::UnavailableError(
          absl::StrCat("the watch of job ", job_id, " ended while it was ",
                       JobStateName(last->state()), "; watch it again"));
  }
}

absl::Status RunJobsList(const ParsedArgs& args,
                         const CommandContext& context) {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (args.Has("state")) {
    const std::string name =
        "JOB_STATE_" + absl::AsciiStrToUpper(args.GetString("state"));
    if (!v1::JobState_Parse(name, &state) ||
        state == v1::JOB_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state: \"", args.GetString("state"),
                       "\" is not one of queued, running, succeeded, failed, "
                       "cancelled"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<v1::Job> jobs,
                   context.client->ListAllJobs(state));
  if (context.json) {
    v1::ListJobsResponse all;
    for (v1::Job& job : jobs) *all.add_jobs() = std::move(job);
    *context.out << ToJson(all);
  } else {
    *context.out << FormatJobTable(jobs);
  }
  return absl::OkStatus();
}

absl::Status RunJobsGet(const ParsedArgs& args, const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string id, OnePositional(args, "job id"));
  ASSIGN_OR_RETURN(v1::Job job, context.client->GetJob(id));
  *context.out << (context.json ? ToJson(job) : FormatJob(job));
  return absl::OkStatus();
}

absl::Status RunJobsWatch(const ParsedArgs& args,
                          const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string id, OnePositional(args, "job id"));
  return WatchToEnd(id, context);
}

absl::Status RunJobsCancel(const ParsedArgs& args,
                           const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string id, OnePositional(args, "job id"));
  ASSIGN_OR_RETURN(v1::Job job, context.client->CancelJob(id));
  *context.out << (context.json ? ToJson(job) : FormatJob(job));
  return absl::OkStatus();
}

}  // namespace ptune::client

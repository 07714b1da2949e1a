#include "server/store/records.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ptune::store {

absl::string_view PromptStateName(PromptState state) {
  switch (state) {
    case PromptState::kTraining:
      return "training";
    case PromptState::kReady:
      return "ready";
    case PromptState::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::StatusOr<PromptState> ParsePromptState(absl::string_view name) {
  for (PromptState state :
       {PromptState::kTraining, PromptState::kReady, PromptState::kFailed}) {
    if (PromptStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown prompt state '", name, "'"));
}

absl::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

absl::StatusOr<JobState> ParseJobState(absl::string_view name) {
  for (JobState state : {JobState::kQueued, JobState::kRunning,
                         JobState::kSucceeded, JobState::kFailed,
                         JobState::kCancelled}) {
    if (JobStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown job state '", name, "'"));
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

}  // namespace ptune::store

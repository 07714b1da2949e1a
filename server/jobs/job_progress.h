// Training progress as reported by a running job, and its JSON form (what the
// store keeps in Job::progress_json).
#ifndef PTUNE_SERVER_JOBS_JOB_PROGRESS_H_
#define PTUNE_SERVER_JOBS_JOB_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace ptune::jobs {

struct JobProgress {
  int epoch = 0;   // 1-based epoch being run (0: not started)
  int epochs = 0;  // planned epochs
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;  // planned steps
  double train_loss = 0.0;
  double valid_metric = 0.0;  // the model-selection metric on validation
  double eta_seconds = 0.0;
  double examples_per_second = 0.0;

  // {"epoch":1,"epochs":3,"step":10,...}; FromJson accepts missing fields
  // (left at their defaults) and an empty string (all defaults).
  std::string ToJson() const;
  static absl::StatusOr<JobProgress> FromJson(const std::string& json);
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_PROGRESS_H_

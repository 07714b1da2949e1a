#include "server/batching/scheduler_options.h"

#include "absl/strings/str_cat.h"

namespace ptune::batching {

absl::Status BatchSchedulerOptions::Validate() const {
  if (max_queue_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue_size must be positive, got ", max_queue_size));
  }
  if (max_queue_per_tenant <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_queue_per_tenant must be positive, got ", max_queue_per_tenant));
  }
  if (max_batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size must be positive, got ", max_batch_size));
  }
  if (max_batch_tokens <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_batch_tokens must be positive, got ", max_batch_tokens));
  }
  if (preferred_batch_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "preferred_batch_tokens must not be negative, got ", preferred_batch_tokens));
  }
  if (batch_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_timeout must not be negative, got ",
                     absl::FormatDuration(batch_timeout)));
  }
  if (length_window <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("length_window must be positive, got ", length_window));
  }
  return absl::OkStatus();
}

}  // namespace ptune::batching

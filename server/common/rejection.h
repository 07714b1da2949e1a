// Why a call was refused (rate limit, quota, full queue), carried on the
// absl::Status as a payload so that the metrics layer can count refusals by
// reason (ptune_rejections_total{reason}) without parsing messages. The
// payload never reaches the client. Header-only; absl only.
#ifndef PTUNE_SERVER_COMMON_REJECTION_H_
#define PTUNE_SERVER_COMMON_REJECTION_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace ptune::common {

inline constexpr absl::string_view kRejectionPayload = "type.ptune.dev/rejection";

// `status` with its rejection reason, e.g. "rate_limit".
inline absl::Status Rejected(absl::Status status, absl::string_view reason) {
  status.SetPayload(kRejectionPayload, absl::Cord(reason));
  return status;
}

// The reason set by Rejected, if any.
inline std::optional<std::string> RejectionReason(const absl::Status& status) {
  const auto reason = status.GetPayload(kRejectionPayload);  // absl::optional here
  if (!reason.has_value()) return std::nullopt;
  return std::string(*reason);
}

}  // namespace ptune::common

#endif  // PTUNE_SERVER_COMMON_REJECTION_H_

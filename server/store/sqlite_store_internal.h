// Validation shared by the SqliteStore source files. Internal to
// server/store.
#ifndef PTUNE_SERVER_STORE_SQLITE_STORE_INTERNAL_H_
#define PTUNE_SERVER_STORE_SQLITE_STORE_INTERNAL_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ptune::store::internal {

// Longest id or name accepted, in bytes.
inline constexpr size_t kMaxNameBytes = 256;

// OK for "classify" and "tag"; INVALID_ARGUMENT otherwise.
absl::Status ValidateTask(const std::string& task);
// Both non-empty and at most kMaxNameBytes; the message names `what`.
absl::Status ValidateTenantAndName(const std::string& tenant_id,
                                   absl::string_view what,
                                   const std::string& value);

}  // namespace ptune::store::internal

#endif  // PTUNE_SERVER_STORE_SQLITE_STORE_INTERNAL_H_

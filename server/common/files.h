// Whole-file reads and crash-safe writes.
#ifndef PTUNE_SERVER_COMMON_FILES_H_
#define PTUNE_SERVER_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ptune::common {

// The bytes of `path`; NOT_FOUND naming the path when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` with `contents` so that a crash leaves either the old or
// the new file: writes path.tmp, fsyncs it, renames it over `path`, fsyncs
// the folder.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents);

}  // namespace ptune::common

#endif  // PTUNE_SERVER_COMMON_FILES_H_

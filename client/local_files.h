// Whole-file reads and writes for the client. (server/common/files.h has the
// same for the server but links LibTorch; the client stays torch-free.)
// Stateless; thread-safe.
#ifndef PTUNE_CLIENT_LOCAL_FILES_H_
#define PTUNE_CLIENT_LOCAL_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ptune::client {

// Marks `status` as an error about a local file or input (not the server's
// answer): the CLI prints it without a gRPC code ("ptune: cannot open ...").
// OK stays OK.
absl::Status LocalError(absl::Status status);
bool IsLocalError(const absl::Status& status);

// The bytes of `path`; NOT_FOUND naming the path when it cannot be opened
// (a LocalError).
absl::StatusOr<std::string> ReadLocalFile(const std::string& path);

// Creates or replaces `path` with `contents`; INTERNAL naming the path on
// failure.
absl::Status WriteLocalFile(const std::string& path,
                            const std::string& contents);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_LOCAL_FILES_H_

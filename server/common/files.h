// Whole-file reads, crash-safe writes and scratch folders.
#ifndef PTUNE_SERVER_COMMON_FILES_H_
#define PTUNE_SERVER_COMMON_FILES_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::common {

// The bytes of `path`; NOT_FOUND naming the path when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` with `contents` so that a crash leaves either the old or
// the new file: writes path.tmp, fsyncs it, renames it over `path`, fsyncs
// the folder.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents);

// A fresh folder <temporary directory>/<prefix>-XXXXXX ($TMPDIR, else
// /tmp), removed with everything in it when the owner goes.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create(absl::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&& other) noexcept;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  void Remove();
  std::string path_;
};

}  // namespace ptune::common

#endif  // PTUNE_SERVER_COMMON_FILES_H_

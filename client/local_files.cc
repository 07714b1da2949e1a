#include "client/local_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace ptune::client {

namespace {
constexpr char kLocalPayload[] = "type.ptune.dev/client.LocalError";
}  // namespace

absl::Status LocalError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kLocalPayload, absl::Cord("1"));
  return status;
}

bool IsLocalError(const absl::Status& status) {
  return status.GetPayload(kLocalPayload).has_value();
}

absl::StatusOr<std::string> ReadLocalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return LocalError(absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno))));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return LocalError(absl::DataLossError(absl::StrCat("cannot read ", path)));
  return contents.str();
}

absl::Status WriteLocalFile(const std::string& path,
                            const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace ptune::client

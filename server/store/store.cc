#include "server/store/store.h"

#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/store/sqlite_store.h"

namespace ptune::store {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 bool init_empty_store) {
  if (url.empty()) {
    return absl::InvalidArgumentError("store url is empty");
  }
  if (absl::StartsWith(url, "postgres://") ||
      absl::StartsWith(url, "postgresql://")) {
    return absl::UnimplementedError(
        "the PostgreSQL store engine is not built yet; use a sqlite:// url");
  }
  SqliteStore::Options options;
  if (url == "sqlite::memory:") {
    options.path = ":memory:";
  } else if (absl::StartsWith(url, "sqlite://")) {
    // sqlite:///abs/path keeps its leading '/'; sqlite://rel.db is relative.
    options.path = url.substr(std::string("sqlite://").size());
  } else if (absl::StrContains(url, "://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported store url '", url,
        "': use sqlite:///abs/path.db, sqlite://relative.db, a plain path "
        "or sqlite::memory:"));
  } else {
    options.path = url;
  }
  if (options.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("store url '", url, "' names no file"));
  }
  std::error_code error;
  if (options.path != ":memory:" && !init_empty_store &&
      std::filesystem::is_regular_file(options.path, error) &&
      std::filesystem::file_size(options.path, error) == 0 && !error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store file ", options.path,
        " exists but is empty (0 bytes): refusing to start a new, empty database "
        "over it (every tenant would be gone). Restore it, or start with "
        "--init_store to create a fresh store there."));
  }
  auto store = SqliteStore::Create(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

std::string NewId(absl::string_view prefix) {
  // std::random_device reads the OS CSPRNG (getrandom / /dev/urandom) on
  // Linux with libstdc++.
  static thread_local std::random_device device;
  std::string id(prefix);
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    uint32_t bits = device();
    for (int j = 0; j < 4; ++j) {
      id.push_back(kHex[bits & 0xf]);
      bits >>= 4;
    }
  }
  return id;
}

}  // namespace ptune::store

#include "server/store/store.h"

#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/store/postgres_db.h"
#include "server/store/sql.h"
#include "server/store/sql_store.h"
#include "server/store/sqlite_db.h"

namespace ptune::store {

namespace {

// A SqlStore on a pool of `size` connections that `open` makes.
template <typename Open>
absl::StatusOr<std::unique_ptr<Store>> StoreOnPool(int size, Open open) {
  auto pool = sql::ConnectionPool::Create(
      size, [open]() -> absl::StatusOr<std::unique_ptr<sql::Connection>> {
        auto db = open();
        if (!db.ok()) return db.status();
        return std::unique_ptr<sql::Connection>(std::move(*db));
      });
  if (!pool.ok()) return pool.status();
  auto store = SqlStore::Create(*std::move(pool));
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 const StoreOptions& store_options) {
  if (url.empty()) {
    return absl::InvalidArgumentError("store url is empty");
  }
  if (absl::StartsWith(url, "postgres://") ||
      absl::StartsWith(url, "postgresql://")) {
    if (store_options.pool_size < 1) {
      return absl::InvalidArgumentError("the PostgreSQL pool needs at least one connection");
    }
    return StoreOnPool(store_options.pool_size, [url] { return postgres::Db::Open(url); });
  }
  struct {
    std::string path;  // the SQLite file
  } options;
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
  if (options.path != ":memory:" && !store_options.init_empty_store &&
      std::filesystem::is_regular_file(options.path, error) &&
      std::filesystem::file_size(options.path, error) == 0 && !error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store file ", options.path,
        " exists but is empty (0 bytes): refusing to start a new, empty database "
        "over it (every tenant would be gone). Restore it, or start with "
        "--init_store to create a fresh store there."));
  }
  // One connection: SQLite runs one write transaction at a time anyway, and
  // a single connection keeps an in-memory database one database.
  return StoreOnPool(1, [path = options.path] { return sqlite::Db::Open(path, absl::Seconds(10)); });
}

std::string RedactedUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t authority = scheme + 3;
  const size_t end = url.find_first_of("/?#", authority);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < authority) return url;
  const size_t colon = url.find(':', authority);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
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

#include "server/store/test_store.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/store/postgres_db.h"

namespace ptune::store {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

}  // namespace

absl::StatusOr<std::string> TestStoreUrl(const std::string& engine) {
  static std::atomic<int> counter{0};
  const std::string unique = absl::StrCat(getpid(), "_", counter++);
  if (engine == "sqlite") {
    const std::string dir = absl::StrCat(TempDir(), "/ptune_store_", unique);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return absl::StrCat("sqlite://", dir, "/ptune.db");
  }
  if (engine != "postgres") return absl::InvalidArgumentError("engine is sqlite or postgres");
  // Callers skip on UNAVAILABLE; with PTUNE_REQUIRE_POSTGRES=1 (CI) a
  // missing or unreachable server is an error instead.
  const char* required = std::getenv("PTUNE_REQUIRE_POSTGRES");
  const auto unavailable = [&](absl::string_view why) {
    if (required != nullptr && std::string(required) == "1") {
      return absl::FailedPreconditionError(absl::StrCat(why, "; PTUNE_REQUIRE_POSTGRES=1"));
    }
    return absl::UnavailableError(why);
  };
  const char* base = std::getenv("PTUNE_TEST_POSTGRES_URL");
  if (base == nullptr || *base == '\0') {
    return unavailable(
        "PTUNE_TEST_POSTGRES_URL is not set: the PostgreSQL half of this suite needs a "
        "server (deploy/local/dev.sh test starts one)");
  }
  absl::StatusOr<std::unique_ptr<postgres::Db>> admin = postgres::Db::Open(base);
  if (absl::IsUnavailable(admin.status())) return unavailable(admin.status().message());
  if (!admin.ok()) return admin.status();
  const std::string schema = absl::StrCat("t_", unique);
  const std::string create = absl::StrCat("DROP SCHEMA IF EXISTS ", schema,
                                          " CASCADE; CREATE SCHEMA ", schema);
  if (absl::Status s = (*admin)->Exec(create.c_str()); !s.ok()) return s;
  return absl::StrCat(base, absl::StrContains(base, "?") ? "&" : "?",
                      "options=-csearch_path%3D", schema);
}

}  // namespace ptune::store

// The world of one end-to-end test: a temporary folder with an admin key and
// a SQLite store, the real ptune-server started (and restarted) on that
// store, and the real `ptune` CLI run against it.
#ifndef PTUNE_TESTS_E2E_HARNESS_H_
#define PTUNE_TESTS_E2E_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/subprocess.h"

namespace ptune::e2e {

struct HarnessOptions {
  std::string server_binary;
  std::string cli_binary;
  std::string backbone_dir;
  std::vector<std::string> server_flags;  // beyond ports, store, key, device
  // The store the server uses; empty: a SQLite file in the harness's folder.
  // Several harnesses on one PostgreSQL URL are several replicas.
  std::string store_url;
};

// A tenant made through `ptune admin`, with its API key.
struct Tenant {
  std::string id;
  std::string key;
};

// Not thread-safe; the test's main thread drives it. Owns the folder (removed
// by the destructor) and the server process (killed by the destructor).
class Harness {
 public:
  static constexpr absl::Duration kCliTimeout = absl::Seconds(240);

  static absl::StatusOr<std::unique_ptr<Harness>> Create(
      const HarnessOptions& options);
  ~Harness();

  const std::string& dir() const { return dir_; }
  const std::string& admin_key() const { return admin_key_; }

  // Starts a server on the store (after a Stop/Kill: the same store).
  absl::Status StartServer();
  ServerProcess& server() { return *server_; }
  bool has_server() const { return server_ != nullptr; }

  // SIGTERM and wait; returns how the server ended.
  absl::StatusOr<ExitStatus> StopServer(absl::Duration timeout = absl::Seconds(60));
  // SIGKILL.
  void KillServer();

  // Runs `ptune <args...> --addr <server> --api_key <key>` to its end.
  CommandResult Cli(const std::string& key, std::vector<std::string> args,
                    absl::Duration timeout = kCliTimeout);
  // The same, started and left running (for concurrent calls); its output
  // goes to <dir>/<name>.out|.err.
  absl::StatusOr<std::unique_ptr<Subprocess>> StartCli(
      const std::string& key, std::vector<std::string> args,
      const std::string& name);

  // `ptune admin create-tenant` + `create-key` with the admin key.
  absl::StatusOr<Tenant> CreateTenant(const std::string& name);

 private:
  explicit Harness(const HarnessOptions& options) : options_(options) {}
  std::vector<std::string> CliArgv(const std::string& key,
                                   std::vector<std::string> args) const;

  const HarnessOptions options_;
  std::string dir_;
  std::string admin_key_;
  std::unique_ptr<ServerProcess> server_;
};

// The JSON objects of `out`, one per non-empty line (`ptune --json`);
// INVALID_ARGUMENT for a line that is not JSON.
absl::StatusOr<std::vector<nlohmann::json>> JsonLines(const std::string& out);

// The single JSON object of `out`.
absl::StatusOr<nlohmann::json> OneJson(const std::string& out);

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_HARNESS_H_

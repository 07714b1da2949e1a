// The real ptune-server binary as a child process on loopback ports (port 0:
// the kernel picks them; the ports are read from the server's start line
// {"level":"info","component":"server","msg":"listening","grpc_port":N,
// "metrics_port":M} on stdout).
#ifndef PTUNE_TESTS_E2E_SERVER_PROCESS_H_
#define PTUNE_TESTS_E2E_SERVER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/e2e/subprocess.h"

namespace ptune::e2e {

// One running ptune-server. Not thread-safe. Owns the process: the
// destructor kills it (SIGKILL) if it still runs.
class ServerProcess {
 public:
  struct Options {
    std::string binary;          // the ptune-server executable
    std::string store_url;       // --store
    std::string admin_key_file;  // file holding the admin key
    std::string backbone_dir;
    std::string log_dir;  // where the server's stdout/stderr files go
    std::vector<std::string> extra_flags;
    // From start to the listening line: loading the backbone takes seconds,
    // much longer on a loaded machine.
    absl::Duration start_timeout = absl::Seconds(180);
  };

  // Starts the server and waits until it listens. On failure the error holds
  // the tail of the server's stderr.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const Options& options);

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const;
  Subprocess& process() { return *process_; }

  // SIGTERM, then waits up to `timeout` for the exit. DEADLINE_EXCEEDED
  // (and SIGKILL) when it does not end in time.
  absl::StatusOr<ExitStatus> Terminate(absl::Duration timeout);

  // SIGKILL, as a crash would end it.
  void Kill() { process_->Kill(); }

  // The last `bytes` of the server's stderr, for failure messages.
  std::string StderrTail(size_t bytes = 3000) const;

 private:
  explicit ServerProcess(std::unique_ptr<Subprocess> process)
      : process_(std::move(process)) {}

  std::unique_ptr<Subprocess> process_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_SERVER_PROCESS_H_

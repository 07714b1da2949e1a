// Child processes for end-to-end tests: a Subprocess runs a binary with its
// stdout and stderr in files, and dies with the test (PR_SET_PDEATHSIG), so
// that a crashed or killed test leaves no server behind. RunCommand runs one
// to its end and returns what it printed.
#ifndef PTUNE_TESTS_E2E_SUBPROCESS_H_
#define PTUNE_TESTS_E2E_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ptune::e2e {

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exit() / return from main
  int code = -1;        // exit code when `exited`
  int signal = 0;       // the signal that ended it when !exited

  std::string DebugString() const;
};

// One child process. Not thread-safe. Owns the child: the destructor kills
// (SIGKILL) and reaps it if it still runs.
class Subprocess {
 public:
  // Starts argv[0] (a path) with argv, stdin from /dev/null and stdout and
  // stderr written to the given files (created or truncated). The child
  // starts with no blocked signals and default dispositions, and gets
  // SIGKILL when the thread that started it ends.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& stdout_path,
      const std::string& stderr_path);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Whether the child still runs (reaps it when it has ended).
  bool Running();

  // Sends `signal` to a running child; no-op once it has ended.
  void Signal(int signal);

  // Waits up to `timeout` for the child to end; std::nullopt when it still
  // runs then. Returns the same status again once ended.
  std::optional<ExitStatus> Wait(absl::Duration timeout);

  // SIGKILL and reap; returns how it ended (the earlier status when it had
  // already ended).
  ExitStatus Kill();

 private:
  Subprocess(pid_t pid, std::string stdout_path, std::string stderr_path)
      : pid_(pid),
        stdout_path_(std::move(stdout_path)),
        stderr_path_(std::move(stderr_path)) {}

  // Reaps without blocking; true when the child has ended.
  bool Poll();

  const pid_t pid_;
  const std::string stdout_path_;
  const std::string stderr_path_;
  std::optional<ExitStatus> status_;
};

// The whole contents of `path` ("" when it cannot be read).
std::string ReadFileOrEmpty(const std::string& path);

// What a finished command did.
struct CommandResult {
  ExitStatus status;
  bool timed_out = false;  // killed after the timeout
  std::string out;
  std::string err;

  // The exit code, or -1 when it did not exit normally.
  int exit_code() const { return status.exited ? status.code : -1; }
  std::string DebugString() const;
};

// Runs argv to its end (SIGKILL after `timeout`), its output in files under
// `scratch_dir` that are removed afterwards.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& scratch_dir,
                         absl::Duration timeout);

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_SUBPROCESS_H_

#include "tests/e2e/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace ptune::e2e {
namespace {

ExitStatus FromWaitStatus(int raw) {
  ExitStatus status;
  if (WIFEXITED(raw)) {
    status.exited = true;
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  return status;
}

// Only async-signal-safe calls between fork and exec: the test process may
// have threads.
[[noreturn]] void ExecChild(const char* path, char* const* argv,
                            const char* out, const char* err,
                            pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork and prctl.
  if (getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) signal(sig, SIG_DFL);
  const int in_fd = open("/dev/null", O_RDONLY);
  const int out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err_fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(127);
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  execve(path, argv, environ);
  _exit(127);
}

}  // namespace

std::string ExitStatus::DebugString() const {
  return exited ? absl::StrCat("exit code ", code)
                : absl::StrCat("killed by signal ", signal);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::string& stdout_path,
    const std::string& stderr_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(argv[0], " is not executable"));
  }
  // Everything the child needs, allocated before fork.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ExecChild(args[0], args.data(), stdout_path.c_str(), stderr_path.c_str(),
              parent);
  }
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, stdout_path, stderr_path));
}

Subprocess::~Subprocess() { Kill(); }

bool Subprocess::Poll() {
  if (status_.has_value()) return true;
  int raw = 0;
  const pid_t got = waitpid(pid_, &raw, WNOHANG);
  if (got == pid_) {
    status_ = FromWaitStatus(raw);
    return true;
  }
  if (got < 0 && errno == ECHILD) {  // reaped elsewhere: treat as ended
    status_ = ExitStatus();
    return true;
  }
  return false;
}

bool Subprocess::Running() { return !Poll(); }

void Subprocess::Signal(int signal) {
  if (!Poll()) kill(pid_, signal);
}

std::optional<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (!Poll()) {
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
  return status_;
}

ExitStatus Subprocess::Kill() {
  if (!Poll()) {
    kill(pid_, SIGKILL);
    int raw = 0;
    while (waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
    status_ = FromWaitStatus(raw);
  }
  return *status_;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string CommandResult::DebugString() const {
  return absl::StrCat(timed_out ? "timed out, " : "", status.DebugString(),
                      "\n--- stdout ---\n", out.substr(0, 4000),
                      "\n--- stderr ---\n", err.substr(0, 4000));
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& scratch_dir,
                         absl::Duration timeout) {
  static std::atomic<int> counter{0};
  const std::string base =
      absl::StrCat(scratch_dir, "/cmd-", getpid(), "-", counter++);
  CommandResult result;
  {
    absl::StatusOr<std::unique_ptr<Subprocess>> child =
        Subprocess::Start(argv, base + ".out", base + ".err");
    if (!child.ok()) {
      result.err = std::string(child.status().message());
      return result;
    }
    std::optional<ExitStatus> status = (*child)->Wait(timeout);
    if (!status.has_value()) {
      result.timed_out = true;
      status = (*child)->Kill();
    }
    result.status = *status;
  }
  result.out = ReadFileOrEmpty(base + ".out");
  result.err = ReadFileOrEmpty(base + ".err");
  std::error_code ignored;
  std::filesystem::remove(base + ".out", ignored);
  std::filesystem::remove(base + ".err", ignored);
  return result;
}

}  // namespace ptune::e2e

#include "tests/e2e/server_process.h"

#include <signal.h>

#include <atomic>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ptune::e2e {

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const Options& options) {
  static std::atomic<int> starts{0};
  const std::string base =
      absl::StrCat(options.log_dir, "/server-", starts++);
  std::vector<std::string> argv = {
      options.binary,
      "--listen=127.0.0.1:0",
      "--metrics_listen=127.0.0.1:0",
      "--store=" + options.store_url,
      "--admin_key_file=" + options.admin_key_file,
      "--backbone_dir=" + options.backbone_dir,
      "--device=cpu"};
  argv.insert(argv.end(), options.extra_flags.begin(),
              options.extra_flags.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> child =
      Subprocess::Start(argv, base + ".out", base + ".err");
  if (!child.ok()) return child.status();
  std::unique_ptr<ServerProcess> server(new ServerProcess(std::move(*child)));

  static const std::regex kListening(
      "\"msg\":\"listening\",\"grpc_port\":([0-9]+),\"metrics_port\":([0-9]+)");
  const absl::Time deadline = absl::Now() + options.start_timeout;
  while (true) {
    const std::string out = ReadFileOrEmpty(base + ".out");
    std::smatch match;
    if (std::regex_search(out, match, kListening)) {
      server->grpc_port_ = std::stoi(match[1]);
      server->metrics_port_ = std::stoi(match[2]);
      return server;
    }
    if (!server->process_->Running()) {
      const ExitStatus status = server->process_->Kill();
      return absl::InternalError(
          absl::StrCat("ptune-server ended before listening (",
                       status.DebugString(), "):\n", server->StderrTail()));
    }
    if (absl::Now() >= deadline) {
      server->Kill();
      return absl::DeadlineExceededError(
          absl::StrCat("ptune-server did not listen within ",
                       absl::FormatDuration(options.start_timeout), ":\n",
                       server->StderrTail()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

std::string ServerProcess::address() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

absl::StatusOr<ExitStatus> ServerProcess::Terminate(absl::Duration timeout) {
  process_->Signal(SIGTERM);
  std::optional<ExitStatus> status = process_->Wait(timeout);
  if (!status.has_value()) {
    process_->Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("ptune-server still ran ", absl::FormatDuration(timeout),
                     " after SIGTERM:\n", StderrTail()));
  }
  return *status;
}

std::string ServerProcess::StderrTail(size_t bytes) const {
  const std::string err = ReadFileOrEmpty(process_->stderr_path());
  return err.size() <= bytes ? err : err.substr(err.size() - bytes);
}

}  // namespace ptune::e2e

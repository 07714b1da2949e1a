// ptune-server: the ptune gRPC service (see README.md and
// server/service/server.h). Runs until SIGTERM or SIGINT, then shuts down
// gracefully: in-flight calls finish, training jobs stop at their next step
// and resume from their last checkpoint at the next start. Exit code 0 after
// a clean shutdown; 1 when it had to give up after shutdown_grace + 5 s.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/flags/internal/program_name.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/common/process_tuning.h"
#include "server/logging/log.h"
#include "server/platform/blas_kernel.h"
#include "server/service/flags.h"
#include "server/service/server.h"

namespace {
// Past the grace period, what Shutdown may still need: stopping jobs at
// their next step and the executor's last turn.
constexpr absl::Duration kShutdownMargin = absl::Seconds(5);
}  // namespace

int main(int argc, char** argv) {
  ptune::platform::SelectBlasKernel(argv);
  absl::SetProgramUsageMessage(
      "ptune-server --backbone_dir DIR [--listen 0.0.0.0:8500] "
      "[--admin_key_file FILE] ...\nServes prompt tuning over gRPC.");
  // --help lists the server's own flags (server/service/flags.cc), each with
  // what it trades off; --helpfull adds gRPC's and abseil's.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "service/flags.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  // This abseil (20220623) exits 1 after printing --help; asking for help
  // is not an error, so the server answers it itself and exits 0.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help") {
      absl::flags_internal::SetProgramInvocationName(argv[0]);
      absl::flags_internal::FlagsHelp(std::cout, "service/flags.",
                                      absl::flags_internal::HelpFormat::kHumanReadable,
                                      absl::ProgramUsageMessage());
      return 0;
    }
  }
  absl::ParseCommandLine(argc, argv);

  // Block the signals before any thread starts, so that every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  using ptune::logging::Log;
  using ptune::logging::LogLevel;
  absl::StatusOr<LogLevel> level = ptune::service::LogLevelFromFlags();
  if (!level.ok()) {
    Log(LogLevel::kError, "server", "bad flags", {{"error", std::string(level.status().message())}});
    return 2;
  }
  ptune::logging::SetMinLogLevel(*level);
  absl::StatusOr<ptune::service::Server::Options> options =
      ptune::service::ServerOptionsFromFlags();
  if (!options.ok()) {
    Log(LogLevel::kError, "server", "bad flags", {{"error", std::string(options.status().message())}});
    return 2;
  }
  Log(LogLevel::kInfo, "server", "cpu tuning", {{"applied", ptune::common::ApplyCpuTuning({})}});
  absl::StatusOr<std::unique_ptr<ptune::service::Server>> server =
      ptune::service::Server::BuildAndStart(*options);
  if (!server.ok()) {
    Log(LogLevel::kError, "server", "start-up failed", {{"error", server.status().ToString()}});
    return 1;
  }
  // The machine-readable start line for scripts and tests, on stdout: JSON
  // like every other line, with the ports the kernel picked for port 0.
  std::cout << nlohmann::ordered_json{{"level", "info"},
                                      {"component", "server"},
                                      {"msg", "listening"},
                                      {"grpc_port", (*server)->grpc_port()},
                                      {"metrics_port", (*server)->metrics_port()}}
                   .dump()
            << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  Log(LogLevel::kInfo, "server", "shutting down", {{"signal", std::to_string(signal)}});
  // Shutdown waits for in-flight calls (at most the grace period), running
  // jobs (they stop at their next step) and the executor's current turn. A
  // turn that never ends must not keep the process alive past Kubernetes'
  // grace period (it would be SIGKILLed, mid-write): exit on our own first.
  // The store is crash-safe and jobs resume from their last checkpoint.
  const absl::Duration hard_limit = options->drain + options->shutdown_grace + kShutdownMargin;
  std::thread([hard_limit] {
    absl::SleepFor(hard_limit);
    ptune::logging::Log(ptune::logging::LogLevel::kError, "server",
                        "shutdown did not finish in time; exiting now",
                        {{"limit", absl::FormatDuration(hard_limit)}});
    std::_Exit(1);
  }).detach();
  (*server)->Drain(options->drain);
  (*server)->Shutdown();
  Log(LogLevel::kInfo, "server", "stopped");
  return 0;
}

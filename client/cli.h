// The `ptune` command line: finds the sub-command, parses its flags, makes
// the client from --addr/--api_key (or PTUNE_ADDR / PTUNE_API_KEY), runs the
// command and turns its Status into one stderr line and an exit code. main()
// is a thin wrapper; tests call RunCli with their own streams and client.
// Stateless; thread-safe as long as the CliEnv's streams are not shared.
#ifndef PTUNE_CLIENT_CLI_H_
#define PTUNE_CLIENT_CLI_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/args.h"
#include "client/ptune_client.h"

namespace ptune::client {

inline constexpr char kDefaultAddress[] = "localhost:8500";

// Exit codes, one per class of error, for scripts.
enum ExitCode : int {
  kExitOk = 0,
  kExitOther = 1,            // INTERNAL, UNKNOWN, UNIMPLEMENTED, ...
  kExitInvalidArgument = 2,  // Bad command line or request (also OUT_OF_RANGE).
  kExitAuth = 3,             // UNAUTHENTICATED, PERMISSION_DENIED.
  kExitNotFound = 4,         // NOT_FOUND.
  kExitRetryable = 5,     // UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED.
  kExitPrecondition = 6,  // FAILED_PRECONDITION, ALREADY_EXISTS.
  kExitJobNotSucceeded = 7,  // The watched job failed (ABORTED) or was
                             // cancelled (CANCELLED).
};

int ExitCodeFor(const absl::Status& status);

// "ptune: <CODE>: <message>" (no newline).
std::string ErrorLine(const absl::Status& status);

struct CliEnv {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // stdout is a terminal: progress is one line rewritten in place.
  bool terminal = false;
  // $PTUNE_ADDR and $PTUNE_API_KEY ("" when unset).
  std::string env_address;
  std::string env_api_key;
  // Makes the client; PtuneClient::Create when empty.
  std::function<absl::StatusOr<std::unique_ptr<PtuneClient>>(
      const ClientOptions&)>
      make_client;
};

// The client options from the global flags, falling back to the
// environment, then to the defaults.
absl::StatusOr<ClientOptions> ClientOptionsFromArgs(const ParsedArgs& args,
                                                    const CliEnv& env);

// Runs `ptune <args...>` (args without the program name); returns the exit
// code.
int RunCli(const std::vector<std::string>& args, const CliEnv& env);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_CLI_H_

// The sub-commands of `ptune`. Each takes its parsed flags and a context
// (client, output stream, --json, terminal) and returns a Status; RunCli
// (client/cli.h) prints errors and picks the exit code. Stateless functions;
// the context is borrowed for the call.
#ifndef PTUNE_CLIENT_COMMANDS_H_
#define PTUNE_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/args.h"
#include "client/ptune_client.h"
#include "ptune/v1/ptune.pb.h"

namespace ptune::client {

struct CommandContext {
  const PtuneClient* client = nullptr;
  std::ostream* out = nullptr;
  // --json: print response messages as JSON lines.
  bool json = false;
  // stdout is a terminal (live progress line).
  bool terminal = false;
};

// train: the request from the flags (reads --train / --valid files).
absl::StatusOr<v1::TrainPromptRequest> BuildTrainRequest(
    const ParsedArgs& args);
absl::Status RunTrain(const ParsedArgs& args, const CommandContext& context);

// Watches a job to its end, printing progress (or JSON lines); OK only when
// it succeeded: ABORTED for a failed job, CANCELLED for a cancelled one.
absl::Status WatchToEnd(const std::string& job_id,
                        const CommandContext& context);

absl::Status RunJobsList(const ParsedArgs& args, const CommandContext& context);
absl::Status RunJobsGet(const ParsedArgs& args, const CommandContext& context);
absl::Status RunJobsWatch(const ParsedArgs& args,
                          const CommandContext& context);
absl::Status RunJobsCancel(const ParsedArgs& args,
                           const CommandContext& context);

// The texts of classify / tag: the positional arguments, or the lines of
// --file (blank lines skipped). INVALID_ARGUMENT when both or neither.
absl::StatusOr<std::vector<std::string>> InputTexts(const ParsedArgs& args);
absl::Status RunClassify(const ParsedArgs& args, const CommandContext& context);
absl::Status RunTag(const ParsedArgs& args, const CommandContext& context);
// eval: EvaluatePrompt on --data FILE (read for the prompt's task) or
// --dataset ID; prints the report.
absl::Status RunEval(const ParsedArgs& args, const CommandContext& context);

absl::Status RunPromptsList(const ParsedArgs& args,
                            const CommandContext& context);
absl::Status RunPromptsGet(const ParsedArgs& args,
                           const CommandContext& context);
absl::Status RunPromptsDelete(const ParsedArgs& args,
                              const CommandContext& context);
absl::Status RunPromptsExport(const ParsedArgs& args,
                              const CommandContext& context);
absl::Status RunPromptsImport(const ParsedArgs& args,
                              const CommandContext& context);
absl::Status RunDatasetsUpload(const ParsedArgs& args,
                               const CommandContext& context);
absl::Status RunDatasetsList(const ParsedArgs& args,
                             const CommandContext& context);
absl::Status RunDatasetsDelete(const ParsedArgs& args,
                               const CommandContext& context);

// health: grpc.health.v1 Check; prints the status, OK only when SERVING
// (UNAVAILABLE otherwise): for container HEALTHCHECKs and scripts.
absl::Status RunHealth(const ParsedArgs& args, const CommandContext& context);

absl::Status RunAdminCreateTenant(const ParsedArgs& args,
                                  const CommandContext& context);
absl::Status RunAdminListTenants(const ParsedArgs& args,
                                 const CommandContext& context);
absl::Status RunAdminCreateKey(const ParsedArgs& args,
                               const CommandContext& context);
absl::Status RunAdminRevokeKey(const ParsedArgs& args,
                               const CommandContext& context);
absl::Status RunAdminSetQuota(const ParsedArgs& args,
                              const CommandContext& context);

// The single positional argument `what` (e.g. "job id"); INVALID_ARGUMENT
// when there is not exactly one.
absl::StatusOr<std::string> OnePositional(const ParsedArgs& args,
                                          const std::string& what);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_COMMANDS_H_

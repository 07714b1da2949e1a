#include "client/cli.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/local_files.h"
#include "server/common/status_macros.h"

namespace ptune::client {
namespace {

using RunFn = absl::Status (*)(const ParsedArgs&, const CommandContext&);

struct Command {
  std::string group;  // "" for top-level commands.
  std::string name;
  std::string usage;  // Arguments after the command name.
  std::string summary;
  std::vector<FlagSpec> flags;
  RunFn run;
  // --json changes the output (every command but export).
  bool has_json = true;
};

std::vector<FlagSpec> GlobalFlags(bool with_json) {
  std::vector<FlagSpec> flags = {
      {"addr", "HOST:PORT",
       "Server address (default $PTUNE_ADDR, else localhost:8500)."},
      {"api_key", "KEY",
       "API key, sent as `authorization: Bearer KEY` (default "
       "$PTUNE_API_KEY)."},
      {"tls", "", "Connect with TLS (system roots, or --ca_file)."},
      {"ca_file", "FILE", "PEM root certificates for --tls."},
      {"timeout", "SECONDS",
       "Deadline of each call (default 30; streams wait for the job)."},
  };
  if (with_json) {
    flags.push_back(
        {"json", "", "Print the response messages as JSON, one per line."});
  }
  return flags;
}

FlagSpec VersionFlag() {
  return {"version", "V", "Prompt version (default: the latest ready)."};
}

FlagSpec EnsembleFlag() {
  return {"ensemble", "N[:V],...",
          "More prompts of the same labels: the answer averages all their "
          "probabilities (up to 7; V: a version, default the latest ready)."};
}

FlagSpec FileFlag() {
  return {"file", "FILE", "Read the texts from FILE, one per line."};
}

std::vector<FlagSpec> QuotaFlags() {
  return {{"max_prompts", "N", "Prompts the tenant may own (0 = default)."},
          {"max_concurrent_jobs", "N", "Training jobs running at once."},
          {"max_stored_bytes", "BYTES", "Datasets + prompt artifacts."},
          {"requests_per_second", "X", "Sustained request rate."},
          {"burst", "N", "Request burst above the rate."}};
}

std::vector<FlagSpec> TrainFlags() {
  return {
      {"name", "N", "Prompt name (a new version if it exists)."},
      {"task", "classify|tag",
       "What the prompt does (with --train_dataset alone: the dataset's task)."},
      {"train", "FILE",
       "Training data: TSV, CSV, JSONL or CoNLL (by extension)."},
      {"train_dataset", "ID",
       "Or an uploaded dataset (ptune datasets upload)."},
      {"valid", "FILE", "Validation data (default: 10% of --train held out)."},
      {"valid_dataset", "ID", "Or an uploaded validation dataset."},
      {"test", "FILE",
       "Held-out test data, scored once training ends (metrics test.*)."},
      {"test_dataset", "ID", "Or an uploaded test dataset."},
      {"aux_datasets", "ID,ID,...",
       "Multi-task pre-training: uploaded datasets (either task) that train the "
       "same prompt, each through its own head (start new tasks from it with "
       "--init_prompt)."},
      {"labels", "A,B,...",
       "Label set / entity types (default: as seen in the data)."},
      {"kind", "deep|shallow", "Per-layer prefixes (default) or input tokens."},
      {"length", "M", "Virtual tokens, 1..128 (default 16)."},
      {"lengths", "M1,M2,...", "Train one prompt per length, keep the best."},
      {"placement", "prefix|infix|prefix_infix",
       "Where a shallow prompt sits."},
      {"infix_position", "K", "Text token before which an infix prompt sits."},
      {"init", "random|vocab|text|prompt", "How the prompt starts."},
      {"init_text", "TEXT",
       "Start from this text's embeddings (implies --init text)."},
      {"init_prompt", "NAME",
       "Start from another prompt (implies --init prompt)."},
      {"reparam", "none|mlp", "Train P = MLP(Z) (collapsed at the end)."},
      {"mlp_hidden", "N", "Hidden width of --reparam mlp (default 256)."},
      {"l2", "X", "λ of the λ‖P‖² regularizer (default 0)."},
      {"dropout", "X", "Prompt dropout probability (default 0)."},
      {"pooling", "cls|mean|mask", "Classification head input (default mean)."},
      {"template", "TEXT", "Template, e.g. '<soft:4> {text} It was [MASK] .'"},
      {"verbalizer", "W1,W2,...", "One label word per label (--pooling mask)."},
      {"templates", "T1|T2|...",
       "Prompt search over templates (crossed with --lengths, --verbalizers)."},
      {"verbalizers", "A,B|C,D|...", "Prompt search over verbalizers."},
      {"search_epochs", "N",
       "Epochs each search candidate trains before the best continues (1)."},
      {"case_embeddings", "",
       "Learn a vector per word case (Title, UPPER, ...) added to each "
       "token's input: capitalization for an uncased backbone (tagging)."},
      {"epochs", "N", "Maximum epochs (default: from the training set's size, 2..20)."},
      {"batch_size", "N", "Training batch size (default 32)."},
      {"lr", "X", "Peak learning rate (default 3e-2)."},
      {"reparam_lr", "X", "Peak learning rate of --reparam mlp (default --lr x 0.1)."},
      {"max_tokens", "N", "Text tokens per example (default: from the data, at least 128)."},
      {"patience", "N", "Epochs without gain before stopping (default 2)."},
      {"seed", "N", "Seed (default 42)."},
      {"wait", "", "Watch the job to its end; exit 0 only if it succeeded."},
  };
}

const std::vector<Command>& Commands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      {"", "train", "--name N --task classify|tag --train FILE [flags]",
       "Train a prompt (a job); --wait shows its progress.", TrainFlags(),
       RunTrain},
      {"",
       "classify",
       "--prompt N [--version V] [--ensemble N2,...] TEXT... | --file F",
       "Classify texts: label, score, text.",
       {{"prompt", "N", "Prompt name."}, VersionFlag(), EnsembleFlag(), FileFlag()},
       RunClassify},
      {"",
       "tag",
       "--prompt N [--version V] [--ensemble N2,...] TEXT... | --file F",
       "Find entities: TYPE [start,end) \"text\" score.",
       {{"prompt", "N", "Prompt name."}, VersionFlag(), EnsembleFlag(), FileFlag()},
       RunTag},
      {"",
       "eval",
       "--prompt N [--version V] [--ensemble N2,...] --data FILE | --dataset ID",
       "Score a prompt on labeled data: accuracy, macro-F1, per-label P/R/F1 and the "
       "confusion matrix (classify); entity P/R/F1 per type (tag).",
       {{"prompt", "N", "Prompt name."},
        VersionFlag(),
        EnsembleFlag(),
        {"data", "FILE", "Labeled data: TSV, CSV, JSONL or CoNLL (by extension)."},
        {"dataset", "ID", "Or an uploaded dataset."}},
       RunEval},
      {"jobs",
       "list",
       "[--state S]",
       "List jobs.",
       {{"state", "S", "queued, running, succeeded, failed or cancelled."}},
       RunJobsList},
      {"jobs", "get", "ID", "Show a job.", {}, RunJobsGet},
      {"jobs",
       "watch",
       "ID",
       "Follow a job to its end; exit 0 only if it succeeded.",
       {},
       RunJobsWatch},
      {"jobs", "cancel", "ID", "Cancel a job.", {}, RunJobsCancel},
      {"prompts", "list", "", "List prompts.", {}, RunPromptsList},
      {"prompts",
       "get",
       "NAME [--version V]",
       "Show a prompt: spec, labels, metrics, versions.",
       {VersionFlag()},
       RunPromptsGet},
      {"prompts",
       "delete",
       "NAME",
       "Delete every version of a prompt.",
       {},
       RunPromptsDelete},
      {"prompts",
       "export",
       "NAME --out DIR [--version V]",
       "Write a version as a PEFT adapter folder.",
       {{"out", "DIR", "Folder for the adapter files."}, VersionFlag()},
       RunPromptsExport,
       /*has_json=*/false},
      {"prompts",
       "import",
       "NAME --dir DIR [--labels A,B,...]",
       "Add a PEFT adapter folder as a new version.",
       {{"dir", "DIR", "The adapter folder."},
        {"labels", "A,B,...",
         "Label names in head order (unless the folder came from ptune)."}},
       RunPromptsImport},
      {"datasets",
       "upload",
       "--name N --task classify|tag --format tsv|csv|jsonl|conll FILE",
       "Upload a dataset for --train_dataset.",
       {{"name", "N", "Dataset name."},
        {"task", "classify|tag", "The task the data is for."},
        {"format", "tsv|csv|jsonl|conll", "The file's format."}},
       RunDatasetsUpload},
      {"datasets", "list", "", "List datasets.", {}, RunDatasetsList},
      {"datasets",
       "delete",
       "ID",
       "Delete a dataset (not while a queued or running job uses it).",
       {},
       RunDatasetsDelete},
      {"",
       "health",
       "[--service S]",
       "The server's gRPC health (no key needed); exit 0 only when SERVING.",
       {{"service", "S", "A service name (default: the whole server)."}},
       RunHealth},
      {"admin", "create-tenant", "NAME [quota flags]", "Create a tenant.",
       QuotaFlags(), RunAdminCreateTenant},
      {"admin", "list-tenants", "", "List tenants.", {}, RunAdminListTenants},
      {"admin",
       "create-key",
       "TENANT_ID",
       "Create an API key (shown only once).",
       {},
       RunAdminCreateKey},
      {"admin",
       "revoke-key",
       "TENANT_ID KEY_ID",
       "Revoke an API key.",
       {},
       RunAdminRevokeKey},
      {"admin", "set-quota", "TENANT_ID [quota flags]",
       "Change a tenant's quotas (only those given).", QuotaFlags(),
       RunAdminSetQuota},
  };
  return *commands;
}

std::string FullName(const Command& command) {
  return command.group.empty() ? command.name
                               : absl::StrCat(command.group, " ", command.name);
}

bool IsGroup(const std::string& word) {
  for (const Command& c : Commands()) {
    if (c.group == word) return true;
  }
  return false;
}

// The usage of every command (of `group`, or all when empty).
std::string Usage(const std::string& group) {
  std::string out =
      "ptune: train soft prompts on a ptune server and use them.\n\n"
      "Usage: ptune COMMAND [ARGS] [flags]\n\nCommands:\n";
  for (const Command& c : Commands()) {
    if (!group.empty() && c.group != group) continue;
    absl::StrAppend(&out, "  ptune ", FullName(c), c.usage.empty() ? "" : " ",
                    c.usage, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagsHelp(GlobalFlags(true)),
                  "\nRun `ptune COMMAND --help` for a command's flags.\n");
  return out;
}

std::string CommandHelp(const Command& command) {
  std::string out = absl::StrCat("Usage: ptune ", FullName(command),
                                 command.usage.empty() ? "" : " ",
                                 command.usage, "\n", command.summary, "\n");
  if (!command.flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n", FlagsHelp(command.flags));
  }
  absl::StrAppend(&out, "\nGlobal flags:\n",
                  FlagsHelp(GlobalFlags(command.has_json)));
  return out;
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidArgument;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitRetryable;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return kExitPrecondition;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return kExitJobNotSucceeded;
    default:
      return kExitOther;
  }
}

std::string ErrorLine(const absl::Status& status) {
  // A local file's error is not an answer of the server: no gRPC code.
  if (IsLocalError(status)) return absl::StrCat("ptune: ", status.message());
  return absl::StrCat("ptune: ", absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

absl::StatusOr<ClientOptions> ClientOptionsFromArgs(const ParsedArgs& args,
                                                    const CliEnv& env) {
  ClientOptions options;
  options.address = args.GetString(
      "addr", env.env_address.empty() ? kDefaultAddress : env.env_address);
  options.api_key = args.GetString("api_key", env.env_api_key);
  options.tls = args.GetBool("tls");
  options.ca_file = args.GetString("ca_file");
  if (!options.ca_file.empty() && !options.tls) {
    return absl::InvalidArgumentError("--ca_file needs --tls");
  }
  ASSIGN_OR_RETURN(double timeout, args.GetDouble("timeout", 30.0));
  if (!(timeout > 0)) {
    return absl::InvalidArgumentError("--timeout must be > 0 seconds");
  }
  options.timeout = absl::Seconds(timeout);
  return options;
}

int RunCli(const std::vector<std::string>& args, const CliEnv& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  auto fail = [&err](const absl::Status& status) {
    err << ErrorLine(status) << "\n";
    return ExitCodeFor(status);
  };
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    (args.empty() ? err : out) << Usage("");
    return args.empty() ? kExitInvalidArgument : kExitOk;
  }
  // The command is the first word, or the first two for a group.
  std::string group;
  std::string name = args[0];
  size_t consumed = 1;
  if (IsGroup(args[0])) {
    group = args[0];
    if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
      (args.size() < 2 ? err : out) << Usage(group);
      return args.size() < 2 ? kExitInvalidArgument : kExitOk;
    }
    name = args[1];
    consumed = 2;
  }
  const Command* command = nullptr;
  for (const Command& c : Commands()) {
    if (c.group == group && c.name == name) command = &c;
  }
  if (command == nullptr) {
    err << Usage(group);
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "unknown command \"", group.empty() ? "" : group + " ", name, "\"")));
  }
  std::vector<FlagSpec> specs = command->flags;
  for (FlagSpec& flag : GlobalFlags(command->has_json)) {
    specs.push_back(std::move(flag));
  }
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(
      std::vector<std::string>(args.begin() + consumed, args.end()), specs);
  if (!parsed.ok()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(parsed.status().message(), " (see ptune ",
                     FullName(*command), " --help)")));
  }
  if (parsed->help) {
    out << CommandHelp(*command);
    return kExitOk;
  }
  absl::StatusOr<ClientOptions> options = ClientOptionsFromArgs(*parsed, env);
  if (!options.ok()) return fail(options.status());
  absl::StatusOr<std::unique_ptr<PtuneClient>> client =
      env.make_client ? env.make_client(*options)
                      : PtuneClient::Create(*options);
  if (!client.ok()) return fail(client.status());
  CommandContext context;
  context.client = client->get();
  context.out = &out;
  context.json = parsed->GetBool("json");
  context.terminal = env.terminal;
  const absl::Status status = command->run(*parsed, context);
  out.flush();
  if (!status.ok()) return fail(status);
  return kExitOk;
}

}  // namespace ptune::client

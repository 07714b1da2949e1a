// ptune prompts list | get | delete | export | import, and ptune datasets
// upload.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/formatters.h"
#include "client/training_data.h"
#include "server/common/status_macros.h"

namespace ptune::client {
namespace {

absl::StatusOr<v1::DatasetFormat> ParseDatasetFormat(const std::string& name) {
  if (name == "tsv") return v1::DATASET_FORMAT_TSV;
  if (name == "csv") return v1::DATASET_FORMAT_CSV;
  if (name == "jsonl") return v1::DATASET_FORMAT_JSONL;
  if (name == "conll") return v1::DATASET_FORMAT_CONLL;
  return absl::InvalidArgumentError(absl::StrCat(
      "--format: \"", name, "\" is not one of tsv, csv, jsonl, conll"));
}

}  // namespace

absl::Status RunPromptsList(const ParsedArgs& args,
                            const CommandContext& context) {
  if (!args.positional.empty()) {
    return absl::InvalidArgumentError("prompts list takes no arguments");
  }
  ASSIGN_OR_RETURN(std::vector<v1::Prompt> prompts,
                   context.client->ListAllPrompts());
  if (context.json) {
    v1::ListPromptsResponse all;
    for (v1::Prompt& p : prompts) *all.add_prompts() = std::move(p);
    *context.out << ToJson(all);
  } else {
    *context.out << FormatPromptTable(prompts);
  }
  return absl::OkStatus();
}

absl::Status RunPromptsGet(const ParsedArgs& args,
                           const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string name, OnePositional(args, "prompt name"));
  ASSIGN_OR_RETURN(int64_t version, args.GetInt("version", 0));
  ASSIGN_OR_RETURN(v1::Prompt prompt, context.client->GetPrompt(name, version));
  *context.out << (context.json ? ToJson(prompt) : FormatPrompt(prompt));
  return absl::OkStatus();
}

absl::Status RunPromptsDelete(const ParsedArgs& args,
                              const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string name, OnePositional(args, "prompt name"));
  ASSIGN_OR_RETURN(v1::DeletePromptResponse response,
                   context.client->DeletePrompt(name));
  if (context.json) {
    *context.out << ToJson(response);
  } else {
    *context.out << "deleted " << name << " (" << response.deleted_versions()
                 << " versions)\n";
  }
  return absl::OkStatus();
}

absl::Status RunPromptsExport(const ParsedArgs& args,
                              const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string name, OnePositional(args, "prompt name"));
  if (args.GetString("out").empty()) {
    return absl::InvalidArgumentError("--out DIR is required");
  }
  ASSIGN_OR_RETURN(int64_t version, args.GetInt("version", 0));
  ASSIGN_OR_RETURN(
      std::vector<std::string> paths,
      context.client->ExportPromptToDir(name, version, args.GetString("out")));
  for (const std::string& path : paths) *context.out << path << "\n";
  return absl::OkStatus();
}

absl::Status RunPromptsImport(const ParsedArgs& args,
                              const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string name, OnePositional(args, "prompt name"));
  if (args.GetString("dir").empty()) {
    return absl::InvalidArgumentError("--dir DIR is required");
  }
  ASSIGN_OR_RETURN(v1::Prompt prompt,
                   context.client->ImportPromptFromDir(
                       name, args.GetString("dir"), args.GetList("labels")));
  *context.out << (context.json ? ToJson(prompt) : FormatPrompt(prompt));
  return absl::OkStatus();
}

absl::Status RunDatasetsUpload(const ParsedArgs& args,
                               const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string path, OnePositional(args, "file"));
  v1::UploadDatasetRequest::Header header;
  header.set_name(args.GetString("name"));
  if (header.name().empty()) {
    return absl::InvalidArgumentError("--name is required");
  }
  if (!args.Has("task"))
    return absl::InvalidArgumentError("--task is required");
  ASSIGN_OR_RETURN(v1::Task task, ParseTask(args.GetString("task")));
  header.set_task(task);
  if (!args.Has("format")) {
    return absl::InvalidArgumentError("--format is required");
  }
  ASSIGN_OR_RETURN(v1::DatasetFormat format,
                   ParseDatasetFormat(args.GetString("format")));
  header.set_format(format);
  ASSIGN_OR_RETURN(v1::Dataset dataset,
                   context.client->UploadDataset(header, path));
  *context.out << (context.json ? ToJson(dataset) : FormatDataset(dataset));
  return absl::OkStatus();
}

absl::Status RunDatasetsList(const ParsedArgs& args,
                             const CommandContext& context) {
  if (!args.positional.empty()) {
    return absl::InvalidArgumentError("datasets list takes no arguments");
  }
  ASSIGN_OR_RETURN(v1::ListDatasetsResponse response, context.client->ListDatasets());
  if (context.json) {
    *context.out << ToJson(response);
  } else {
    *context.out << FormatDatasetTable(
        {response.datasets().begin(), response.datasets().end()});
  }
  return absl::OkStatus();
}

absl::Status RunDatasetsDelete(const ParsedArgs& args,
                               const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string id, OnePositional(args, "dataset id"));
  ASSIGN_OR_RETURN(v1::DeleteDatasetResponse response, context.client->DeleteDataset(id));
  if (context.json) {
    *context.out << ToJson(response);
  } else {
    *context.out << "deleted " << id << "\n";
  }
  return absl::OkStatus();
}

}  // namespace ptune::client

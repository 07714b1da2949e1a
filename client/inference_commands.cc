// ptune classify | tag.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/commands.h"
#include "client/formatters.h"
#include "client/local_files.h"
#include "client/training_data.h"
#include "server/common/status_macros.h"

namespace ptune::client {

absl::StatusOr<std::vector<std::string>> InputTexts(const ParsedArgs& args) {
  const bool has_file = args.Has("file");
  if (has_file == !args.positional.empty()) {
    return absl::InvalidArgumentError(
        "give the texts as arguments or --file FILE (one text per line), not "
        "both");
  }
  if (!has_file) return args.positional;
  ASSIGN_OR_RETURN(std::string contents, ReadLocalFile(args.GetString("file")));
  std::vector<std::string> texts;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (!absl::StripAsciiWhitespace(line).empty()) texts.emplace_back(line);
  }
  if (texts.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--file ", args.GetString("file"), " has no texts"));
  }
  return texts;
}

namespace {

// Fills the prompt fields Classify, TagEntities and EvaluatePrompt share
// (prompt, version, ensemble) from the flags.
template <typename Request>
absl::Status FillPromptRefs(const ParsedArgs& args, Request* request) {
  request->set_prompt_name(args.GetString("prompt"));
  if (request->prompt_name().empty()) {
    return absl::InvalidArgumentError("--prompt is required");
  }
  ASSIGN_OR_RETURN(int64_t version, args.GetInt("version", 0));
  request->set_version(version);
  if (!args.Has("ensemble")) return absl::OkStatus();
  for (absl::string_view member : absl::StrSplit(args.GetString("ensemble"), ',')) {
    std::pair<absl::string_view, absl::string_view> name_version =
        absl::StrSplit(member, absl::MaxSplits(':', 1));
    v1::PromptRef* ref = request->add_ensemble();
    ref->set_name(std::string(name_version.first));
    int64_t member_version = 0;
    if (!name_version.second.empty() &&
        !absl::SimpleAtoi(name_version.second, &member_version)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ensemble: \"", member, "\" is not NAME or NAME:VERSION"));
    }
    if (ref->name().empty()) {
      return absl::InvalidArgumentError("--ensemble: an empty prompt name");
    }
    ref->set_version(member_version);
  }
  return absl::OkStatus();
}

// Fills the request fields Classify and TagEntities share (prompt, version,
// texts) from the flags; returns the texts for the human formatters.
template <typename Request>
absl::StatusOr<std::vector<std::string>> FillTextsRequest(const ParsedArgs& args,
                                                          Request* request) {
  RETURN_IF_ERROR(FillPromptRefs(args, request));
  ASSIGN_OR_RETURN(std::vector<std::string> texts, InputTexts(args));
  for (const std::string& text : texts) request->add_texts(text);
  return texts;
}

}  // namespace

absl::Status RunClassify(const ParsedArgs& args,
                         const CommandContext& context) {
  v1::ClassifyRequest request;
  ASSIGN_OR_RETURN(std::vector<std::string> texts, FillTextsRequest(args, &request));
  ASSIGN_OR_RETURN(v1::ClassifyResponse response,
                   context.client->Classify(request));
  *context.out << (context.json ? ToJson(response)
                                : FormatClassifications(texts, response));
  return absl::OkStatus();
}

absl::Status RunTag(const ParsedArgs& args, const CommandContext& context) {
  v1::TagEntitiesRequest request;
  ASSIGN_OR_RETURN(std::vector<std::string> texts, FillTextsRequest(args, &request));
  ASSIGN_OR_RETURN(v1::TagEntitiesResponse response,
                   context.client->TagEntities(request));
  *context.out << (context.json ? ToJson(response)
                                : FormatTaggedTexts(texts, response));
  return absl::OkStatus();
}

absl::Status RunEval(const ParsedArgs& args, const CommandContext& context) {
  v1::EvaluatePromptRequest request;
  RETURN_IF_ERROR(FillPromptRefs(args, &request));
  const bool has_file = args.Has("data");
  if (has_file == args.Has("dataset")) {
    return absl::InvalidArgumentError("give exactly one of --data FILE and --dataset ID");
  }
  if (has_file) {
    // The file is read for the prompt's task (GetPrompt tells it).
    ASSIGN_OR_RETURN(const v1::Prompt prompt,
                     context.client->GetPrompt(request.prompt_name(), request.version()));
    ASSIGN_OR_RETURN(*request.mutable_examples(),
                     ReadExampleSet(args.GetString("data"), prompt.task()));
  } else {
    request.set_dataset_id(args.GetString("dataset"));
  }
  ASSIGN_OR_RETURN(v1::EvaluatePromptResponse response, context.client->EvaluatePrompt(request));
  *context.out << (context.json ? ToJson(response) : FormatEvaluation(request, response));
  return absl::OkStatus();
}

}  // namespace ptune::client

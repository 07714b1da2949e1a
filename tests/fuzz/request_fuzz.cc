// The checks a TrainPrompt / Classify request goes through before any work
// (service/validation.h, proto_convert.h, RequestLabels), on arbitrary
// protobuf bytes: each must answer OK or a status, never crash. First byte:
// 0 = TrainPromptRequest, else ClassifyRequest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ptune/v1/ptune.pb.h"
#include "server/backbone/bert_config.h"
#include "server/datasets/label_set.h"
#include "server/prompts/prompt_spec.h"
#include "server/service/proto_convert.h"
#include "server/service/training_job_executor.h"
#include "server/service/validation.h"
#include "tests/fuzz/fuzz_env.h"

using ::ptune::fuzz::Check;
namespace service = ::ptune::service;

namespace {

void TrainPrompt(const ptune::v1::TrainPromptRequest& in,
                 const ptune::backbone::BertConfig& config) {
  const service::RequestLimits limits;
  (void)service::ValidateName(in.prompt_name(), "prompt_name");
  auto task = service::TaskFromProto(in.task(), "task");
  auto spec = service::SpecFromProto(in.spec());
  if (spec.ok()) (void)ptune::prompts::ValidatePromptSpec(*spec, config);
  (void)service::LengthCandidates(in.spec());
  (void)service::OptionsFromProto(in.options());
  const std::vector<std::string> labels(in.labels().begin(), in.labels().end());
  (void)ptune::datasets::ValidateLabelNames(labels, "labels");
  if (!task.ok() || !in.has_train_examples()) return;
  auto jsonl = service::ExamplesToJsonl(*task, in.train_examples(), "train_examples");
  if (!jsonl.ok()) return;
  auto data = ptune::datasets::ParseDataset(*jsonl, "train_examples", *task,
                                            ptune::datasets::Format::kJsonl);
  if (!data.ok()) return;
  (void)service::ValidateExampleSizes(*data, limits, "train_examples");
  ptune::datasets::Dataset no_valid;
  no_valid.task = *task;
  auto head = service::RequestLabels(*task, labels, *data, no_valid, limits.max_labels);
  if (head.ok()) {
    Check(ptune::datasets::ValidateLabelSet(*task, *head, limits.max_labels).ok(),
          "RequestLabels returns a valid label set");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ptune::backbone::BertConfig config = [] {
    auto loaded = ptune::backbone::LoadBertConfig(ptune::fuzz::BackboneDirOrDie());
    Check(loaded.ok(), "the backbone's config.json loads");
    return *loaded;
  }();
  if (size == 0) return 0;
  if (data[0] == 0) {
    ptune::v1::TrainPromptRequest request;
    if (request.ParseFromArray(data + 1, static_cast<int>(size - 1))) {
      TrainPrompt(request, config);
    }
    return 0;
  }
  ptune::v1::ClassifyRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  (void)service::ValidateName(request.prompt_name(), "prompt_name");
  (void)service::ValidateTexts(request.texts(), service::RequestLimits());
  (void)service::ParseVersion(request.version());
  return 0;
}

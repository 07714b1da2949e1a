#include "client/training_data.h"

#include "absl/strings/str_cat.h"
#include "client/local_files.h"
#include "server/common/status_macros.h"
#include "server/datasets/text_util.h"

namespace ptune::client {

v1::ExampleSet ExampleSetFromDataset(const datasets::Dataset& dataset) {
  v1::ExampleSet set;
  if (dataset.task == datasets::Task::kClassify) {
    for (const datasets::ClassificationExample& in : dataset.classification) {
      v1::Example* out = set.add_examples();
      out->set_text(in.text);
      out->set_label(in.label);
    }
    return set;
  }
  for (const datasets::TaggingExample& in : dataset.tagging) {
    v1::Example* out = set.add_examples();
    // Word spans are in code points; cut the words out of the decoded text.
    const std::u32string code_points = datasets::DecodeUtf8(in.text);
    for (const datasets::Span& word : in.words) {
      out->add_tokens(datasets::EncodeUtf8(
          code_points.substr(word.begin, word.end - word.begin)));
    }
    for (const std::string& tag : in.tags) out->add_tags(tag);
  }
  return set;
}

absl::StatusOr<v1::ExampleSet> ReadExampleSet(const std::string& path,
                                              v1::Task task,
                                              datasets::Format format) {
  if (task != v1::TASK_CLASSIFY && task != v1::TASK_TAG) {
    return absl::InvalidArgumentError("task must be classify or tag");
  }
  absl::StatusOr<datasets::Dataset> dataset =
      datasets::ReadDataset(path,
                            task == v1::TASK_CLASSIFY ? datasets::Task::kClassify
                                                      : datasets::Task::kTag,
                            format);
  if (!dataset.ok()) return LocalError(dataset.status());
  return ExampleSetFromDataset(*dataset);
}

absl::StatusOr<v1::Task> ParseTask(const std::string& name) {
  if (name == "classify") return v1::TASK_CLASSIFY;
  if (name == "tag") return v1::TASK_TAG;
  return absl::InvalidArgumentError(
      absl::StrCat("--task: \"", name, "\" is not classify or tag"));
}

}  // namespace ptune::client

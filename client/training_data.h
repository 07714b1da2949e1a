// Training data files for `ptune train`: read with the server's own dataset
// readers (server/datasets: TSV, CSV, JSONL, CoNLL) and turned into the
// API's ExampleSet, so the client accepts exactly what the server's readers
// accept. Stateless; thread-safe.
#ifndef PTUNE_CLIENT_TRAINING_DATA_H_
#define PTUNE_CLIENT_TRAINING_DATA_H_

#include <string>

#include "absl/status/statusor.h"
#include "ptune/v1/ptune.pb.h"
#include "server/datasets/dataset.h"

namespace ptune::client {

// Classification: one Example{text, label} per example. Tagging: one
// Example{tokens, tags} per sentence (the words of the text and their IOB2
// tags).
v1::ExampleSet ExampleSetFromDataset(const datasets::Dataset& dataset);

// Reads `path` (format from its extension unless given) for `task`.
absl::StatusOr<v1::ExampleSet> ReadExampleSet(
    const std::string& path, v1::Task task,
    datasets::Format format = datasets::Format::kAuto);

// "classify" / "tag" -> the API enum; INVALID_ARGUMENT otherwise.
absl::StatusOr<v1::Task> ParseTask(const std::string& name);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_TRAINING_DATA_H_

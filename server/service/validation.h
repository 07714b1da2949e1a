// Request limits and the checks the service applies before any work: names,
// text counts and sizes, UTF-8. Each failure is INVALID_ARGUMENT naming the
// field and the limit. Stateless; thread-safe.
#ifndef PTUNE_SERVER_SERVICE_VALIDATION_H_
#define PTUNE_SERVER_SERVICE_VALIDATION_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "server/datasets/dataset.h"

namespace ptune::service {

struct RequestLimits {
  // Texts per Classify/TagEntities call.
  int max_texts = 256;
  // Bytes per text (longer texts would be truncated by the tokenizer anyway;
  // the limit bounds request memory).
  int64_t max_text_bytes = 16 * 1024;
  // Examples per TrainPrompt (inline or from a dataset).
  int64_t max_examples = 200000;
  int64_t min_examples = 4;
  // Classes of one head: classification labels, or the tags of a tagging
  // head (O + B-/I- per entity type). Checked on every path that creates a
  // head (datasets::ValidateLabelSet).
  int max_labels = 256;
  // Bytes per uploaded dataset.
  int64_t max_dataset_bytes = int64_t{256} << 20;
  // UploadDataset streams in progress at once, in all and per tenant: each
  // holds up to ~4x max_dataset_bytes while it is parsed.
  int max_concurrent_uploads = 4;
  int max_concurrent_uploads_per_tenant = 2;
  // ExportPrompt responses in progress (held until the client has read
  // them), in all and per tenant: bounds the memory of unread exports.
  int max_concurrent_exports = 8;
  int max_concurrent_exports_per_tenant = 2;
  // EvaluatePrompt calls in progress, in all and per tenant: each holds its
  // parsed data and takes turns on the device with training.
  int max_concurrent_evaluations = 4;
  int max_concurrent_evaluations_per_tenant = 2;
};

// 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.
absl::Status ValidateName(absl::string_view name, absl::string_view field);

// 1..max_texts texts, each valid UTF-8 of at most max_text_bytes.
absl::Status ValidateTexts(const google::protobuf::RepeatedPtrField<std::string>& texts,
                           const RequestLimits& limits);

// Every example's text of `data` within max_text_bytes: training data obeys
// the same per-text limit as serving, so that one huge field cannot blow up
// a training job's memory (tokenization and per-token state cost ~34 bytes
// of memory per byte of text). `source` names the data in the message.
absl::Status ValidateExampleSizes(const datasets::Dataset& data,
                                  const RequestLimits& limits,
                                  absl::string_view source);

// The version field of a request: 0 = the latest ready version (nullopt),
// else the version itself. INVALID_ARGUMENT outside 0..2^31-1 (versions are
// counted per name from 1, so a larger one can only be a mistake; it must
// never wrap around to name another version).
absl::StatusOr<std::optional<int>> ParseVersion(int64_t version);

// An id as the store makes them: 1-64 characters of [a-z0-9_].
absl::Status ValidateId(absl::string_view id, absl::string_view field);

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_VALIDATION_H_

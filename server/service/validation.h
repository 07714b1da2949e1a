// Request limits and the checks the service applies before any work: names,
// text counts and sizes, UTF-8. Each failure is INVALID_ARGUMENT naming the
// field and the limit. Stateless; thread-safe.
#ifndef PTUNE_SERVER_SERVICE_VALIDATION_H_
#define PTUNE_SERVER_SERVICE_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"

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
  // Classification labels / entity types per prompt.
  int max_labels = 256;
  // Bytes per uploaded dataset.
  int64_t max_dataset_bytes = int64_t{256} << 20;
};

// 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.
absl::Status ValidateName(absl::string_view name, absl::string_view field);

// 1..max_texts texts, each valid UTF-8 of at most max_text_bytes.
absl::Status ValidateTexts(const google::protobuf::RepeatedPtrField<std::string>& texts,
                           const RequestLimits& limits);

// An id as the store makes them: 1-64 characters of [a-z0-9_].
absl::Status ValidateId(absl::string_view id, absl::string_view field);

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_VALIDATION_H_

// Pooling of token states into one vector per row, and the
// sentence-transformers pipeline a model folder describes (modules.json,
// 1_Pooling/config.json, sentence_bert_config.json), so that `sentence`
// embeddings equal what sentence-transformers returns for that folder.
#ifndef PTUNE_SERVER_BACKBONE_POOLING_H_
#define PTUNE_SERVER_BACKBONE_POOLING_H_

#include <string>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::backbone {

enum class PoolingMode { kCls, kMean, kMax, kMeanSqrtLen };

// states [B, T, H] (text tokens only), mask [B, T] (1 = real) -> [B, H].
at::Tensor Pool(const at::Tensor& states, const at::Tensor& mask,
                PoolingMode mode);

struct SentencePipeline {
  PoolingMode pooling = PoolingMode::kMean;
  bool normalize = false;    // a sentence_transformers.models.Normalize step
  int max_seq_length = 0;    // 0 = the tokenizer's maximum
  bool lowercase = false;    // sentence_bert_config.json do_lower_case
  bool from_folder = false;  // false = no modules.json, defaults used
};

// Reads the sentence-transformers description of `dir`. A folder without
// modules.json gets mean pooling without normalization (what
// sentence-transformers builds for a plain Hugging Face model).
absl::StatusOr<SentencePipeline> LoadSentencePipeline(const std::string& dir);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_POOLING_H_

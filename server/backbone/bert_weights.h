// Fills a BertEncoder from a Hugging Face checkpoint (safetensors), mapping
// the HF parameter names (with or without a "bert." prefix) onto the fused
// layout of bert_modules.h. Every expected tensor must be present with the
// expected shape; floating dtypes are converted to float32.
#ifndef PTUNE_SERVER_BACKBONE_BERT_WEIGHTS_H_
#define PTUNE_SERVER_BACKBONE_BERT_WEIGHTS_H_

#include "absl/status/status.h"
#include "server/backbone/bert_modules.h"
#include "server/safetensors/safetensors.h"

namespace ptune::backbone {

absl::Status LoadBertWeights(const safetensors::SafetensorsFile& file,
                             const BertConfig& config, BertEncoder& encoder);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_BERT_WEIGHTS_H_

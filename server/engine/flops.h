// FLOPs of one encoder forward, counted the way bench-forward and
// bench-serve report achieved GFLOP/s: the four GEMMs of every layer (fused
// QKV, attention output, FFN in, FFN out) plus the two attention products
// (Q K^T and P V, over the keys incl. a deep prefix). Embeddings, softmax,
// LayerNorm and heads are left out (a few percent). Header-only; stateless.
#ifndef PTUNE_SERVER_ENGINE_FLOPS_H_
#define PTUNE_SERVER_ENGINE_FLOPS_H_

#include <cstdint>

#include "server/backbone/bert_config.h"

namespace ptune::engine {

// `batch` rows of `seq` positions (text + shallow prompt, padded), with
// `prefix` deep key/value positions per layer.
inline double EncoderForwardFlops(const backbone::BertConfig& c, int64_t batch,
                                  int64_t seq, int64_t prefix = 0) {
  const double h = static_cast<double>(c.hidden_size);
  const double rows = static_cast<double>(batch) * seq;
  const double layer = 2.0 * rows * h * (4 * h + 2.0 * c.intermediate_size) +
                       4.0 * rows * static_cast<double>(seq + prefix) * h;
  return layer * c.num_hidden_layers;
}

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_FLOPS_H_

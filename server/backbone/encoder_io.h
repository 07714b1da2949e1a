// Inputs and outputs of one encoder forward over a batch of rows, each row
// with its own (optional) prompts. Plain value types; tensors are shared
// handles, so copying an EncoderInput does not copy data.
#ifndef PTUNE_SERVER_BACKBONE_ENCODER_IO_H_
#define PTUNE_SERVER_BACKBONE_ENCODER_IO_H_

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ptune::backbone {

// One run of soft tokens inserted into a row's token sequence: `length`
// vectors taken from the row's prompt matrix starting at `source_begin`,
// placed before text token `before_token` (0 = before [CLS], i.e. a prefix as
// PEFT places it; 1 = right after [CLS]; the row's token count = at the end).
struct PromptSegment {
  int32_t before_token = 0;
  int32_t source_begin = 0;
  int32_t length = 0;
};

// Shallow prompts (prompt tuning): per row, soft token embeddings gathered
// into the input sequence. They receive position and token-type embeddings
// and the embedding LayerNorm like any input token.
struct ShallowPrompts {
  at::Tensor embeddings;  // [B, M, H], row b's vectors in embeddings[b]
  std::vector<std::vector<PromptSegment>> segments;  // B lists, may be empty
};

// Deep prompts (prefix tuning / P-tuning v2): per layer and row, key and
// value prefixes prepended inside self-attention, as Hugging Face
// `past_key_values` do (text positions then start at the prefix length).
struct DeepPrompts {
  at::Tensor key_values;         // [L, 2, B, M, H]; [l][0] keys, [l][1] values
  std::vector<int32_t> lengths;  // B entries, each <= M (0 = no prefix)
};

struct EncoderInput {
  at::Tensor input_ids;       // [B, T] int64, right-padded
  at::Tensor attention_mask;  // [B, T] int64/bool, 1 = real token
  at::Tensor token_type_ids;  // optional [B, T] int64; undefined = zeros
  // Optional host copy of attention_mask.sum(1) (TokenBatch::row_lengths).
  // Without it Forward reads the mask back from the device: on CUDA a host
  // synchronization per forward.
  std::vector<int64_t> row_lengths;
  // Optional [B, T, H] added to the text tokens' word embeddings, before
  // position/token-type embeddings and LayerNorm (e.g. a prompt's case
  // embeddings); padding positions are ignored. Undefined = none.
  at::Tensor added_embeddings;
  ShallowPrompts shallow;     // optional (embeddings undefined = none)
  DeepPrompts deep;           // optional (key_values undefined = none)
  // Optional: called on the forward's thread between its stages (after each
  // layer's attention block, and after each layer but the last). The engine
  // runs light tenants' rows there, so they need not wait for the whole
  // forward in progress (batch_scheduler.h, rule 5). It may run other
  // forwards; it must not touch this one's tensors.
  std::function<void()> pause;
};

struct EncoderOutput {
  at::Tensor hidden;         // [B, S, H] last hidden states, S = T + prompt
  at::Tensor sequence_mask;  // [B, S] bool, real positions incl. prompts
  at::Tensor text_positions; // [B, T] int64: where text token t sits in S
  at::Tensor text_mask;      // [B, T] bool, = attention_mask

  // Hidden states of the text tokens only ([B, T, H]); virtual positions
  // never reach a head.
  at::Tensor TextStates() const;
};

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_ENCODER_IO_H_

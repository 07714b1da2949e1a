// Plain data describing a BERT WordPiece tokenizer: the normalizer and model
// settings, the vocabulary and the added (special) tokens. Filled from files
// by tokenizer_files.h or by hand, and turned into a Tokenizer. Plain
// structs; no synchronization.
#ifndef PTUNE_SERVER_TEXT_TOKENIZER_SPEC_H_
#define PTUNE_SERVER_TEXT_TOKENIZER_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ptune::text {

// Settings from tokenizer.json's normalizer and model, else
// tokenizer_config.json.
struct TokenizerConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset = follow lowercase (HF)
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]",
              pad_token = "[PAD]", mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
  // tokenizer_config.json model_max_length, capped by config.json
  // max_position_embeddings if given.
  int model_max_length = 512;
};

// A token matched in the text before the WordPiece model sees it (HF
// AddedToken). Special tokens ([CLS], [SEP], ...) are added tokens with
// normalized = false: "[MASK]" written in the input text becomes the [MASK]
// id, exactly as in Hugging Face.
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;  // only when not inside a word (\w around)
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool normalized = false;   // match the normalized text instead of the raw
  bool special = true;
};

// Everything needed to build a Tokenizer.
struct TokenizerSpec {
  TokenizerConfig config;
  absl::flat_hash_map<std::string, int32_t> vocab;  // WordPiece model vocab
  std::vector<AddedToken> added_tokens;
};

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_TOKENIZER_SPEC_H_

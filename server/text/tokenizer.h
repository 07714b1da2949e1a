// BERT WordPiece tokenization for the backbones, matching Hugging Face
// `tokenizers` 0.19 id for id and offset for offset.
#ifndef PTUNE_SERVER_TEXT_TOKENIZER_H_
#define PTUNE_SERVER_TEXT_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/text/added_tokens.h"
#include "server/text/bert_normalizer.h"
#include "server/text/tokenizer_spec.h"
#include "server/text/wordpiece.h"

namespace ptune::text {

// The tokens of one text.
struct Encoding {
  std::vector<int32_t> ids;  // with [CLS] ... [SEP] when specials are added
  // [begin, end) in Unicode code points of the ORIGINAL text; specials (0,0).
  std::vector<std::pair<int32_t, int32_t>> offsets;
  // The same in UTF-8 bytes of the original text; specials (0,0).
  std::vector<std::pair<int32_t, int32_t>> byte_offsets;
  // Index of the pre-token ("word") each token came from; -1 for specials.
  std::vector<int32_t> word_ids;
  // Capitalization of each token's word in the original text (a
  // text::WordCase); kNone for specials. Uncased vocabularies lose it.
  std::vector<uint8_t> word_case;
  bool truncated = false;  // tokens were dropped to fit max_length
};

// Turns text into BERT input ids, exactly as Hugging Face `tokenizers` does
// with BertNormalizer + BertPreTokenizer + WordPiece + [CLS] $A [SEP]
// post-processing (special tokens written in the text included), and reports
// where each token came from in the original text.
//
// Thread-safety: immutable after creation; all const methods may be called
// from many threads at once.
class Tokenizer {
 public:
  // Reads `dir`/tokenizer.json if present (BertNormalizer settings, WordPiece
  // parameters and vocabulary, added tokens, [CLS]/[SEP] of the
  // post-processor), else `dir`/vocab.txt + tokenizer_config.json
  // (do_lower_case, strip_accents, tokenize_chinese_chars, special tokens).
  // model_max_length comes from tokenizer_config.json, capped by config.json
  // max_position_embeddings. NOT_FOUND / INVALID_ARGUMENT naming the file on
  // a missing folder or vocabulary, or a broken or unsupported file.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromDirectory(
      const std::string& dir);

  // `vocab[i]` is the token of id i (a repeated token keeps its last id, as
  // in HF). The five special tokens of `config` that are in the vocabulary
  // become added tokens (so "[MASK]" in a text is the [MASK] id, as in HF).
  // INVALID_ARGUMENT if the unknown, [CLS] or [SEP] token is missing.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromVocab(
      std::vector<std::string> vocab, TokenizerConfig config);

  // From a complete spec (what FromDirectory reads).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromSpec(
      TokenizerSpec spec);

  // Tokenizes `text` (UTF-8). `max_length` counts the special tokens (HF
  // `truncation=True, max_length=N`: the first max_length - 2 tokens are
  // kept); 0 means config().model_max_length. INVALID_ARGUMENT on invalid
  // UTF-8 (saying the byte offset), a negative max_length, or one too small
  // for the special tokens. Empty text gives just [CLS] [SEP].
  absl::StatusOr<Encoding> Encode(absl::string_view text, int max_length = 0,
                                  bool add_special_tokens = true) const;

  // Encode for each text; the first failure is returned, naming the index.
  absl::StatusOr<std::vector<Encoding>> EncodeBatch(
      const std::vector<std::string>& texts, int max_length = 0,
      bool add_special_tokens = true) const;

  int TokenToId(absl::string_view token) const;  // -1 when absent
  // The token of `id`; an empty string for an unknown id.
  const std::string& IdToToken(int id) const;

  // Number of ids (largest id + 1, added tokens included).
  int vocab_size() const { return static_cast<int>(id_to_token_.size()); }
  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }
  int pad_id() const { return pad_id_; }  // -1 when the vocab has none
  int unk_id() const { return unk_id_; }
  int mask_id() const { return mask_id_; }  // -1 when the vocab has none
  const TokenizerConfig& config() const { return config_; }

 private:
  struct Scratch;

  Tokenizer(TokenizerSpec spec, int32_t unk_id);

  // Appends the tokens of the text (no specials) to `enc`, stopping once
  // more than `limit` tokens were produced.
  void EncodeBody(const std::vector<char32_t>& text,
                  const std::vector<int32_t>& byte_offsets, size_t limit,
                  Scratch* scratch, Encoding* enc) const;

  TokenizerConfig config_;
  BertNormalizer normalizer_;
  WordPiece model_;
  std::vector<std::string> id_to_token_;
  absl::flat_hash_map<std::string, int32_t> added_ids_;
  AddedTokenMatcher raw_matcher_;         // normalized = false tokens
  AddedTokenMatcher normalized_matcher_;  // normalized = true tokens
  int32_t cls_id_ = -1;
  int32_t sep_id_ = -1;
  int32_t pad_id_ = -1;
  int32_t unk_id_ = -1;
  int32_t mask_id_ = -1;
};

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_TOKENIZER_H_

// The WordPiece model of Hugging Face `tokenizers` (models/wordpiece): greedy
// longest-match-first splitting of one pre-tokenized word into vocabulary
// pieces, continuation pieces carrying a prefix ("##"); a word longer than
// max_input_chars_per_word, or one that cannot be fully split, becomes a
// single unknown token covering the whole word. Immutable after
// construction; thread-safe.
#ifndef PTUNE_SERVER_TEXT_WORDPIECE_H_
#define PTUNE_SERVER_TEXT_WORDPIECE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace ptune::text {

// A piece of a word: code points [begin, end) of the word.
struct WordPieceToken {
  int32_t id;
  int32_t begin;
  int32_t end;
};

class WordPiece {
 public:
  // `vocab` maps token strings to ids; `unk_id` is the id of the unknown
  // token (the caller checks it exists).
  WordPiece(absl::flat_hash_map<std::string, int32_t> vocab, int32_t unk_id,
            std::string continuing_subword_prefix,
            int max_input_chars_per_word);

  // Reusable buffers for Tokenize (one per thread).
  struct Scratch {
    std::string utf8;
    std::vector<int32_t> bounds;
  };

  // Appends the pieces of the word `word[0, n)` (n > 0) to `out`.
  void Tokenize(const char32_t* word, size_t n, Scratch* scratch,
                std::vector<WordPieceToken>* out) const;

  // The id of `token` in the vocabulary, -1 when absent.
  int32_t Find(absl::string_view token) const;

  const absl::flat_hash_map<std::string, int32_t>& vocab() const {
    return vocab_;
  }

 private:
  absl::flat_hash_map<std::string, int32_t> vocab_;
  // Tokens that start with the prefix, keyed without it: lets a
  // continuation piece be looked up without building prefix + piece.
  absl::flat_hash_map<std::string, int32_t> continuations_;
  int32_t unk_id_;
  std::string prefix_;
  int max_input_chars_per_word_;
  size_t longest_ = 0;               // longest key of vocab_, in bytes
  size_t longest_continuation_ = 0;  // same for continuations_
};

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_WORDPIECE_H_

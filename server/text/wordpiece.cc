#include "server/text/wordpiece.h"

#include <algorithm>
#include <utility>

#include "server/text/utf8.h"

namespace ptune::text {

WordPiece::WordPiece(absl::flat_hash_map<std::string, int32_t> vocab,
                     int32_t unk_id, std::string continuing_subword_prefix,
                     int max_input_chars_per_word)
    : vocab_(std::move(vocab)),
      unk_id_(unk_id),
      prefix_(std::move(continuing_subword_prefix)),
      max_input_chars_per_word_(max_input_chars_per_word) {
  for (const auto& [token, id] : vocab_) {
    longest_ = std::max(longest_, token.size());
    if (absl::string_view(token).substr(0, prefix_.size()) == prefix_) {
      std::string key = token.substr(prefix_.size());
      longest_continuation_ = std::max(longest_continuation_, key.size());
      continuations_.emplace(std::move(key), id);
    }
  }
}

int32_t WordPiece::Find(absl::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void WordPiece::Tokenize(const char32_t* word, size_t n, Scratch* scratch,
                         std::vector<WordPieceToken>* out) const {
  const int32_t len = static_cast<int32_t>(n);
  if (len > max_input_chars_per_word_) {
    out->push_back({unk_id_, 0, len});
    return;
  }
  std::string& utf8 = scratch->utf8;
  std::vector<int32_t>& bounds = scratch->bounds;  // byte offset of char i
  utf8.clear();
  bounds.clear();
  for (size_t i = 0; i < n; ++i) {
    bounds.push_back(static_cast<int32_t>(utf8.size()));
    AppendUtf8(word[i], &utf8);
  }
  bounds.push_back(static_cast<int32_t>(utf8.size()));

  const size_t first_piece = out->size();
  int32_t start = 0;
  while (start < len) {
    const auto& map = start == 0 ? vocab_ : continuations_;
    const size_t longest = start == 0 ? longest_ : longest_continuation_;
    // Longest match first; ends whose piece exceeds every key cannot match.
    int32_t end = len;
    while (end > start &&
           static_cast<size_t>(bounds[end] - bounds[start]) > longest) {
      --end;
    }
    int32_t id = -1;
    for (; end > start; --end) {
      auto it = map.find(absl::string_view(utf8).substr(
          bounds[start], bounds[end] - bounds[start]));
      if (it != map.end()) {
        id = it->second;
        break;
      }
    }
    if (id < 0) {  // Any failure makes the whole word unknown.
      out->resize(first_piece);
      out->push_back({unk_id_, 0, len});
      return;
    }
    out->push_back({id, start, end});
    start = end;
  }
}

}  // namespace ptune::text

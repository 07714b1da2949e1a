#include "server/text/tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/text/tokenizer_files.h"
#include "server/text/unicode_props.h"
#include "server/text/utf8.h"
#include "server/text/word_case.h"

namespace ptune::text {
namespace {

// Ids above this are rejected rather than sizing a huge id table.
constexpr int32_t kMaxId = 1 << 24;

// Appends the word case of every token after the ones `enc` has classified
// already: each word (a run of tokens with one word id) is classified over
// the original code points it spans.
void ClassifyWordCases(const std::vector<char32_t>& text, Encoding* enc) {
  size_t i = enc->word_case.size();
  enc->word_case.reserve(enc->ids.size() + 1);  // + [SEP]
  while (i < enc->ids.size()) {
    size_t j = i + 1;
    while (j < enc->ids.size() && enc->word_ids[j] == enc->word_ids[i]) ++j;
    const WordCase word_case = ClassifyWordCase(
        text.data() + enc->offsets[i].first, text.data() + enc->offsets[j - 1].second);
    enc->word_case.insert(enc->word_case.end(), j - i, static_cast<uint8_t>(word_case));
    i = j;
  }
}

std::u32string ToU32(absl::string_view utf8) {
  auto decoded = DecodeUtf8(utf8);
  if (!decoded.ok()) return {};
  return std::u32string(decoded->code_points.begin(),
                        decoded->code_points.end());
}

}  // namespace

// Per-call buffers, so that Encode allocates little and stays const.
struct Tokenizer::Scratch {
  std::vector<AddedTokenMatch> raw_matches;
  std::vector<AddedTokenMatch> normalized_matches;
  NormalizedText normalized;
  NormalizedText stage;
  WordPiece::Scratch wordpiece;
  std::vector<WordPieceToken> pieces;
};

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(
    const std::string& dir) {
  ASSIGN_OR_RETURN(TokenizerSpec spec, LoadTokenizerSpec(dir));
  auto tokenizer = FromSpec(std::move(spec));
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(dir, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(
    std::vector<std::string> vocab, TokenizerConfig config) {
  TokenizerSpec spec;
  spec.vocab.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    spec.vocab[std::move(vocab[i])] = static_cast<int32_t>(i);
  }
  for (const std::string* token :
       {&config.pad_token, &config.unk_token, &config.cls_token,
        &config.sep_token, &config.mask_token}) {
    auto it = spec.vocab.find(*token);
    if (it == spec.vocab.end()) continue;
    AddedToken added;
    added.content = *token;
    added.id = it->second;
    spec.added_tokens.push_back(std::move(added));
  }
  spec.config = std::move(config);
  return FromSpec(std::move(spec));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromSpec(
    TokenizerSpec spec) {
  const TokenizerConfig& config = spec.config;
  if (config.max_input_chars_per_word < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_input_chars_per_word is negative (",
                     config.max_input_chars_per_word, ")"));
  }
  if (config.model_max_length < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_max_length ", config.model_max_length,
                     " cannot hold [CLS] and [SEP]"));
  }
  if (!HasNormalizationData()) {
    return absl::InternalError("ICU normalization data is not available");
  }
  for (const auto& [token, id] : spec.vocab) {
    if (id < 0 || id > kMaxId) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vocabulary id ", id, " of token \"", token, "\" is out of range"));
    }
  }
  for (const AddedToken& token : spec.added_tokens) {
    if (token.id < 0 || token.id > kMaxId || token.content.empty() ||
        !DecodeUtf8(token.content).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("added token \"", token.content,
                       "\" has a bad id, is empty or is not UTF-8"));
    }
  }
  auto unk = spec.vocab.find(config.unk_token);
  if (unk == spec.vocab.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the unknown token \"", config.unk_token,
                     "\" is not in the vocabulary"));
  }
  const int32_t unk_id = unk->second;
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(spec), unk_id));
  for (const auto& [name, id] :
       {std::make_pair(&tokenizer->config_.cls_token, &tokenizer->cls_id_),
        std::make_pair(&tokenizer->config_.sep_token, &tokenizer->sep_id_)}) {
    *id = tokenizer->TokenToId(*name);
    if (*id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the special token \"", *name, "\" is not in the vocabulary"));
    }
  }
  tokenizer->pad_id_ = tokenizer->TokenToId(tokenizer->config_.pad_token);
  tokenizer->mask_id_ = tokenizer->TokenToId(tokenizer->config_.mask_token);
  return tokenizer;
}

Tokenizer::Tokenizer(TokenizerSpec spec, int32_t unk_id)
    : config_(std::move(spec.config)),
      normalizer_(config_.clean_text, config_.handle_chinese_chars,
                  config_.strip_accents.value_or(config_.lowercase),
                  config_.lowercase),
      model_(std::move(spec.vocab), unk_id, config_.continuing_subword_prefix,
             config_.max_input_chars_per_word),
      unk_id_(unk_id) {
  int32_t max_id = -1;
  for (const auto& [token, id] : model_.vocab()) max_id = std::max(max_id, id);
  for (const AddedToken& t : spec.added_tokens) max_id = std::max(max_id, t.id);
  id_to_token_.resize(max_id + 1);
  for (const auto& [token, id] : model_.vocab()) id_to_token_[id] = token;
  for (const AddedToken& token : spec.added_tokens) {
    id_to_token_[token.id] = token.content;
    added_ids_[token.content] = token.id;
    if (!token.normalized) {
      raw_matcher_.Add(ToU32(token.content), token);
    } else {
      // HF matches normalized tokens by their normalized content.
      const std::u32string content = ToU32(token.content);
      NormalizedText normalized, stage;
      normalizer_.Normalize(content.data(), content.size(), 0, &normalized,
                            &stage);
      normalized_matcher_.Add(
          std::u32string(normalized.chars.begin(), normalized.chars.end()),
          token);
    }
  }
}

int Tokenizer::TokenToId(absl::string_view token) const {
  auto it = added_ids_.find(token);
  if (it != added_ids_.end()) return it->second;
  return model_.Find(token);
}

const std::string& Tokenizer::IdToToken(int id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || id >= vocab_size()) return *kEmpty;
  return id_to_token_[id];
}

absl::StatusOr<Encoding> Tokenizer::Encode(absl::string_view text,
                                           int max_length,
                                           bool add_special_tokens) const {
  if (max_length < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_length is negative (", max_length, ")"));
  }
  const int limit = max_length == 0 ? config_.model_max_length : max_length;
  const int n_special = add_special_tokens ? 2 : 0;
  if (limit < n_special) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_length ", limit, " cannot hold the [CLS] and [SEP] tokens"));
  }
  ASSIGN_OR_RETURN(DecodedText decoded, DecodeUtf8(text));
  Encoding enc;
  if (add_special_tokens) {
    enc.ids.push_back(cls_id_);
    enc.offsets.emplace_back(0, 0);
    enc.byte_offsets.emplace_back(0, 0);
    enc.word_ids.push_back(-1);
    enc.word_case.push_back(static_cast<uint8_t>(WordCase::kNone));
  }
  const size_t body_limit = static_cast<size_t>(limit - n_special);
  Scratch scratch;
  EncodeBody(decoded.code_points, decoded.byte_offsets, body_limit, &scratch,
             &enc);
  ClassifyWordCases(decoded.code_points, &enc);
  const size_t keep = body_limit + (add_special_tokens ? 1 : 0);
  if (enc.ids.size() > keep) {
    enc.ids.resize(keep);
    enc.offsets.resize(keep);
    enc.byte_offsets.resize(keep);
    enc.word_ids.resize(keep);
    enc.word_case.resize(keep);
    enc.truncated = true;
  }
  if (add_special_tokens) {
    enc.ids.push_back(sep_id_);
    enc.offsets.emplace_back(0, 0);
    enc.byte_offsets.emplace_back(0, 0);
    enc.word_ids.push_back(-1);
    enc.word_case.push_back(static_cast<uint8_t>(WordCase::kNone));
  }
  return enc;
}

absl::StatusOr<std::vector<Encoding>> Tokenizer::EncodeBatch(
    const std::vector<std::string>& texts, int max_length,
    bool add_special_tokens) const {
  std::vector<Encoding> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto enc = Encode(texts[i], max_length, add_special_tokens);
    if (!enc.ok()) {
      return absl::Status(
          enc.status().code(),
          absl::StrCat("text #", i, ": ", enc.status().message()));
    }
    out.push_back(*std::move(enc));
  }
  return out;
}

void Tokenizer::EncodeBody(const std::vector<char32_t>& text,
                           const std::vector<int32_t>& byte_offsets,
                           size_t limit, Scratch* scratch,
                           Encoding* enc) const {
  const size_t first_token = enc->ids.size();
  int32_t word = 0;
  // Whether more than `limit` tokens exist already (the rest is cut anyway).
  auto full = [&] { return enc->ids.size() - first_token > limit; };
  // `begin` and `last` are original code point indices.
  auto emit = [&](int32_t id, int32_t begin, int32_t last) {
    enc->ids.push_back(id);
    enc->offsets.emplace_back(begin, last + 1);
    enc->byte_offsets.emplace_back(byte_offsets[begin], byte_offsets[last + 1]);
    enc->word_ids.push_back(word);
  };
  const NormalizedText& norm = scratch->normalized;
  // WordPiece over the normalized word [b, e).
  auto encode_word = [&](size_t b, size_t e) {
    scratch->pieces.clear();
    model_.Tokenize(norm.chars.data() + b, e - b, &scratch->wordpiece,
                    &scratch->pieces);
    for (const WordPieceToken& p : scratch->pieces) {
      emit(p.id, norm.source[b + p.begin], norm.source[b + p.end - 1]);
    }
    ++word;
  };
  // BertPreTokenizer over the normalized range [b, e): split on whitespace
  // (dropped), isolate each punctuation character.
  auto pre_tokenize = [&](size_t b, size_t e) {
    size_t start = b;
    for (size_t i = b; i < e && !full(); ++i) {
      const char32_t c = norm.chars[i];
      if (IsWhitespace(c)) {
        if (start < i) encode_word(start, i);
        start = i + 1;
      } else if (IsPunctuation(c)) {
        if (start < i) encode_word(start, i);
        encode_word(i, i + 1);
        start = i + 1;
      }
    }
    if (start < e && !full()) encode_word(start, e);
  };
  // Normalizes the original range [b, e) and tokenizes it.
  auto encode_text = [&](size_t b, size_t e) {
    if (b >= e || full()) return;
    scratch->normalized.clear();
    normalizer_.Normalize(text.data() + b, e - b, static_cast<int32_t>(b),
                          &scratch->normalized, &scratch->stage);
    if (normalized_matcher_.empty()) {
      pre_tokenize(0, norm.size());
      return;
    }
    scratch->normalized_matches.clear();
    normalized_matcher_.FindMatches(norm.chars.data(), norm.size(),
                                    &scratch->normalized_matches);
    size_t pos = 0;
    for (const AddedTokenMatch& m : scratch->normalized_matches) {
      pre_tokenize(pos, m.begin);
      if (full()) return;
      emit(m.id, norm.source[m.begin], norm.source[m.end - 1]);
      ++word;
      pos = m.end;
    }
    pre_tokenize(pos, norm.size());
  };

  scratch->raw_matches.clear();
  raw_matcher_.FindMatches(text.data(), text.size(), &scratch->raw_matches);
  size_t pos = 0;
  for (const AddedTokenMatch& m : scratch->raw_matches) {
    encode_text(pos, m.begin);
    if (full()) return;
    emit(m.id, static_cast<int32_t>(m.begin), static_cast<int32_t>(m.end) - 1);
    ++word;
    pos = m.end;
  }
  encode_text(pos, text.size());
}

}  // namespace ptune::text

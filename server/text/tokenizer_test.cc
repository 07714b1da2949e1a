// Tokenizer behaviour on a tiny vocabulary (no files needed). HF parity on
// the real backbone is in tokenizer_fixture_test.cc.
#include "server/text/tokenizer.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Offsets = std::vector<std::pair<int32_t, int32_t>>;

// Ids are the positions in this list.
const std::vector<std::string>& TinyVocab() {
  static const auto* vocab = new std::vector<std::string>{
      "[PAD]",
      "[UNK]",
      "[CLS]",
      "[SEP]",
      "[MASK]",  // 0-4
      "un",
      "##aff",
      "##able",
      "aff",
      "able",  // 5-9
      "hello",
      "world",
      "!",
      ",",
      ".",  // 10-14
      "a",
      "##b",
      "ab",
      "##c",
      "cafe",  // 15-19
      "\xE4\xB8\xAD",
      "\xE6\x96\x87",  // 20-21: 中 文
      "x",
      "##x",
      "caf\xC3\xA9",
      "i",
      "the",  // 22-26
  };
  return *vocab;
}

std::unique_ptr<Tokenizer> Make(TokenizerConfig config = {}) {
  auto tok = Tokenizer::FromVocab(TinyVocab(), std::move(config));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? *std::move(tok) : nullptr;
}

Encoding MustEncode(const Tokenizer& tok, const std::string& text,
                    int max_length = 0, bool add_special_tokens = true) {
  auto enc = tok.Encode(text, max_length, add_special_tokens);
  EXPECT_TRUE(enc.ok()) << enc.status();
  return enc.ok() ? *std::move(enc) : Encoding();
}

TEST(TokenizerTest, GreedyLongestMatchFirst) {
  auto tok = Make();
  Encoding e = MustEncode(*tok, "unaffable");
  EXPECT_THAT(e.ids, ElementsAre(2, 5, 6, 7, 3));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 2}, {2, 5}, {5, 9}, {0, 0}}));
  EXPECT_THAT(e.word_ids, ElementsAre(-1, 0, 0, 0, -1));
  // "ab" beats "a" + "##b".
  e = MustEncode(*tok, "abc", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(17, 18));
  EXPECT_EQ(e.offsets, (Offsets{{0, 2}, {2, 3}}));
}

TEST(TokenizerTest, WordCaseComesFromTheOriginalText) {
  auto tok = Make();
  constexpr uint8_t kNone = 0, kLower = 1, kTitle = 2, kUpper = 3, kMixed = 4;
  // Every piece of a word carries the word's case; specials and words
  // without letters have none.
  Encoding e = MustEncode(*tok, "UnAffable Hello WORLD world , I");
  EXPECT_THAT(e.ids, ElementsAre(2, 5, 6, 7, 10, 11, 11, 13, 25, 3));
  EXPECT_THAT(e.word_case, ElementsAre(kNone, kMixed, kMixed, kMixed, kTitle,
                                       kUpper, kLower, kNone, kTitle, kNone));
  // Accented capitals count (the normalizer strips the accent, not the case).
  e = MustEncode(*tok, "CAF\xC3\x89 Caf\xC3\xA9", 0, false);
  EXPECT_THAT(e.word_case, ElementsAre(kUpper, kTitle));
  // Truncation keeps word_case aligned with ids.
  e = MustEncode(*tok, "Hello WORLD", 3);
  EXPECT_THAT(e.word_case, ElementsAre(kNone, kTitle, kNone));
}

TEST(TokenizerTest, UnsplittableWordIsOneUnknownToken) {
  auto tok = Make();
  // "ab" matches, then "##z" cannot: the whole word is [UNK].
  Encoding e = MustEncode(*tok, "hello abz world", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(10, 1, 11));
  EXPECT_EQ(e.offsets, (Offsets{{0, 5}, {6, 9}, {10, 15}}));
}

TEST(TokenizerTest, WordLongerThanLimitIsUnknown) {
  TokenizerConfig config;
  config.max_input_chars_per_word = 5;
  auto tok = Make(config);
  Encoding e = MustEncode(*tok, "xxxxx", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(22, 23, 23, 23, 23));
  e = MustEncode(*tok, "xxxxxx", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(1));
  EXPECT_EQ(e.offsets, (Offsets{{0, 6}}));
}

TEST(TokenizerTest, LimitCountsNormalizedCharacters) {
  TokenizerConfig config;
  config.max_input_chars_per_word = 3;
  auto tok = Make(config);
  // 6 code points in the text, 3 after accents are stripped. A removed
  // mark belongs to no token (as in HF).
  Encoding e = MustEncode(*tok, "x\xCC\x81x\xCC\x81x\xCC\x81", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(22, 23, 23));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {2, 3}, {4, 5}}));
}

TEST(TokenizerTest, PunctuationIsIsolated) {
  auto tok = Make();
  Encoding e = MustEncode(*tok, "hello,world!!", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(10, 13, 11, 12, 12));
  EXPECT_EQ(e.offsets, (Offsets{{0, 5}, {5, 6}, {6, 11}, {11, 12}, {12, 13}}));
  EXPECT_THAT(e.word_ids, ElementsAre(0, 1, 2, 3, 4));
}

TEST(TokenizerTest, AccentStripping) {
  // Default: strip_accents follows lowercase.
  auto tok = Make();
  Encoding e = MustEncode(*tok, "Caf\xC3\xA9", 0, false);  // Café
  EXPECT_THAT(e.ids, ElementsAre(19));
  EXPECT_EQ(e.offsets, (Offsets{{0, 4}}));
  // Decomposed input: the stripped U+0301 (code point 4) is outside the
  // token, exactly as HF reports it.
  e = MustEncode(*tok, "Cafe\xCC\x81", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(19));
  EXPECT_EQ(e.offsets, (Offsets{{0, 4}}));
  EXPECT_EQ(e.byte_offsets, (Offsets{{0, 4}}));

  TokenizerConfig keep;
  keep.strip_accents = false;
  tok = Make(keep);
  e = MustEncode(*tok, "Caf\xC3\xA9", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(24));  // "café"

  TokenizerConfig cased;
  cased.lowercase = false;  // strip_accents unset: follows lowercase (off)
  tok = Make(cased);
  e = MustEncode(*tok, "Caf\xC3\xA9 cafe", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(1, 19));
}

TEST(TokenizerTest, DottedCapitalIMapsBackToItsSource) {
  // Accents are stripped before lowercasing: İ -> I + U+0307 -> I -> i.
  auto tok = Make();
  Encoding e = MustEncode(*tok, "\xC4\xB0", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(25));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}}));
  EXPECT_EQ(e.byte_offsets, (Offsets{{0, 2}}));
  // Without stripping, İ lowercases to "i" + U+0307: two code points, both
  // from the one original character ("##\u0307" is not in the vocab).
  TokenizerConfig keep;
  keep.strip_accents = false;
  tok = Make(keep);
  e = MustEncode(*tok, "x \xC4\xB0", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(22, 1));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {2, 3}}));
  EXPECT_EQ(e.byte_offsets, (Offsets{{0, 1}, {2, 4}}));
}

TEST(TokenizerTest, ChineseCharactersAreSpaced) {
  auto tok = Make();
  Encoding e = MustEncode(*tok, "\xE4\xB8\xAD\xE6\x96\x87", 0, false);  // 中文
  EXPECT_THAT(e.ids, ElementsAre(20, 21));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 2}}));
  EXPECT_EQ(e.byte_offsets, (Offsets{{0, 3}, {3, 6}}));
  EXPECT_THAT(e.word_ids, ElementsAre(0, 1));

  TokenizerConfig off;
  off.handle_chinese_chars = false;
  tok = Make(off);
  e = MustEncode(*tok, "\xE4\xB8\xAD\xE6\x96\x87", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(1));
  EXPECT_EQ(e.offsets, (Offsets{{0, 2}}));
}

TEST(TokenizerTest, ControlCharactersAreRemoved) {
  auto tok = Make();
  // BEL inside a word, zero-width space and BOM before it, U+FFFD after.
  Encoding e = MustEncode(
      *tok, "\xE2\x80\x8B\xEF\xBB\xBFhel\x07lo\xEF\xBF\xBD world", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(10, 11));
  EXPECT_EQ(e.offsets, (Offsets{{2, 8}, {10, 15}}));
  EXPECT_EQ(e.byte_offsets, (Offsets{{6, 12}, {16, 21}}));

  TokenizerConfig raw;
  raw.clean_text = false;
  tok = Make(raw);
  e = MustEncode(*tok, "hel\x07lo", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(1));
}

TEST(TokenizerTest, WhitespaceAndControlOnlyTextsAreEmpty) {
  auto tok = Make();
  for (const char* text : {"", " ", "\t\r\n ", "\x01\x02", "\xE2\x80\x8B"}) {
    Encoding e = MustEncode(*tok, text);
    EXPECT_THAT(e.ids, ElementsAre(2, 3)) << text;
    EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 0}}));
    EXPECT_EQ(e.byte_offsets, (Offsets{{0, 0}, {0, 0}}));
    EXPECT_THAT(e.word_ids, ElementsAre(-1, -1));
    EXPECT_FALSE(e.truncated);
  }
}

TEST(TokenizerTest, Truncation) {
  auto tok = Make();
  const std::string text = "hello world hello world";
  Encoding e = MustEncode(*tok, text, 4);
  EXPECT_THAT(e.ids, ElementsAre(2, 10, 11, 3));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 5}, {6, 11}, {0, 0}}));
  EXPECT_TRUE(e.truncated);

  e = MustEncode(*tok, text, 6);  // fits exactly
  EXPECT_EQ(e.ids.size(), 6u);
  EXPECT_FALSE(e.truncated);

  e = MustEncode(*tok, text, 2);
  EXPECT_THAT(e.ids, ElementsAre(2, 3));
  EXPECT_TRUE(e.truncated);

  e = MustEncode(*tok, text, 3, /*add_special_tokens=*/false);
  EXPECT_THAT(e.ids, ElementsAre(10, 11, 10));
  EXPECT_TRUE(e.truncated);

  // A word's pieces can be cut apart.
  e = MustEncode(*tok, "unaffable", 4);
  EXPECT_THAT(e.ids, ElementsAre(2, 5, 6, 3));

  // 0 means model_max_length.
  TokenizerConfig small;
  small.model_max_length = 3;
  tok = Make(small);
  e = MustEncode(*tok, text);
  EXPECT_THAT(e.ids, ElementsAre(2, 10, 3));
  EXPECT_TRUE(e.truncated);
}

TEST(TokenizerTest, BadMaxLength) {
  auto tok = Make();
  EXPECT_EQ(tok->Encode("hello", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tok->Encode("hello", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(tok->Encode("hello", 1, /*add_special_tokens=*/false).ok());
}

TEST(TokenizerTest, InvalidUtf8) {
  auto tok = Make();
  const std::pair<std::string, int> cases[] = {
      {"hello \xC3", 6},      // truncated sequence
      {"\xC0\xAF", 0},        // overlong encoding
      {"ab\xED\xA0\x80", 2},  // surrogate U+D800 encoded in UTF-8
      {"hello\x80world", 5},  // stray continuation byte
  };
  for (const auto& [text, offset] : cases) {
    auto enc = tok->Encode(text);
    ASSERT_FALSE(enc.ok());
    EXPECT_EQ(enc.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(enc.status().message(),
                HasSubstr("byte offset " + std::to_string(offset)));
  }
}

TEST(TokenizerTest, SpecialTokensInTextAreMatchedVerbatim) {
  auto tok = Make();
  Encoding e = MustEncode(*tok, "hello[MASK] world [SEP]", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(10, 4, 11, 3));
  EXPECT_EQ(e.offsets, (Offsets{{0, 5}, {5, 11}, {12, 17}, {18, 23}}));
  EXPECT_THAT(e.word_ids, ElementsAre(0, 1, 2, 3));
  // Not normalized: the lowercase form is ordinary text.
  e = MustEncode(*tok, "[mask]", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(1, 1, 1));  // "[", "mask", "]" are unknown
}

TEST(TokenizerTest, AddedTokenFlags) {
  TokenizerSpec spec;
  for (size_t i = 0; i < TinyVocab().size(); ++i) {
    spec.vocab[TinyVocab()[i]] = static_cast<int32_t>(i);
  }
  AddedToken strip;
  strip.content = "<s>";
  strip.id = 30;
  strip.lstrip = strip.rstrip = true;
  AddedToken word;
  word.content = "hi";
  word.id = 31;
  word.single_word = true;
  AddedToken norm;
  norm.content = "XY";
  norm.id = 32;
  norm.normalized = true;
  spec.added_tokens = {strip, word, norm};
  auto tok = Tokenizer::FromSpec(std::move(spec));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 33);
  EXPECT_EQ((*tok)->IdToToken(30), "<s>");
  EXPECT_EQ((*tok)->TokenToId("XY"), 32);

  Encoding e = MustEncode(**tok, "hello  <s>  world", 0, false);
  EXPECT_THAT(e.ids, ElementsAre(10, 30, 11));
  EXPECT_EQ(e.offsets, (Offsets{{0, 5}, {5, 12}, {12, 17}}));

  e = MustEncode(**tok, "hi x", 0, false);  // a word of its own
  EXPECT_THAT(e.ids, ElementsAre(31, 22));
  e = MustEncode(**tok, "this", 0, false);  // inside a word: not matched
  EXPECT_THAT(e.ids, ElementsAre(1));

  e = MustEncode(**tok, "aXyx", 0, false);  // matched after lowercasing
  EXPECT_THAT(e.ids, ElementsAre(15, 32, 22));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 3}, {3, 4}}));
}

TEST(TokenizerTest, Vocabulary) {
  auto tok = Make();
  EXPECT_EQ(tok->vocab_size(), static_cast<int>(TinyVocab().size()));
  EXPECT_EQ(tok->cls_id(), 2);
  EXPECT_EQ(tok->sep_id(), 3);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->unk_id(), 1);
  EXPECT_EQ(tok->mask_id(), 4);
  EXPECT_EQ(tok->TokenToId("##aff"), 6);
  EXPECT_EQ(tok->TokenToId("nope"), -1);
  EXPECT_EQ(tok->IdToToken(10), "hello");
  EXPECT_EQ(tok->IdToToken(-1), "");
  EXPECT_EQ(tok->IdToToken(1000), "");
}

TEST(TokenizerTest, RepeatedVocabEntryKeepsLastId) {
  std::vector<std::string> vocab = TinyVocab();
  vocab.push_back("hello");
  auto tok = Tokenizer::FromVocab(vocab, {});
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->TokenToId("hello"), static_cast<int>(vocab.size()) - 1);
}

TEST(TokenizerTest, MissingRequiredTokens) {
  for (const char* missing : {"[UNK]", "[CLS]", "[SEP]"}) {
    std::vector<std::string> vocab = TinyVocab();
    for (std::string& t : vocab) {
      if (t == missing) t = "gone";
    }
    auto tok = Tokenizer::FromVocab(vocab, {});
    ASSERT_FALSE(tok.ok()) << missing;
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tok.status().message(), HasSubstr(missing));
  }
  // [PAD] and [MASK] are optional.
  std::vector<std::string> vocab = TinyVocab();
  vocab[0] = "p";
  vocab[4] = "m";
  auto tok = Tokenizer::FromVocab(vocab, {});
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->pad_id(), -1);
  EXPECT_EQ((*tok)->mask_id(), -1);
}

TEST(TokenizerTest, EncodeBatchNamesTheFailingText) {
  auto tok = Make();
  auto batch = tok->EncodeBatch({"hello", "world"});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_THAT((*batch)[1].ids, ElementsAre(2, 11, 3));
  batch = tok->EncodeBatch({"hello", "bad \xFF"});
  ASSERT_FALSE(batch.ok());
  EXPECT_THAT(batch.status().message(), HasSubstr("text #1"));
}

TEST(TokenizerTest, ConcurrentEncodeIsSafe) {
  auto tok = Make();
  const std::string text = "Hello, caf\xC3\xA9 unaffable \xE4\xB8\xAD world!";
  const Encoding want = MustEncode(*tok, text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto e = tok->Encode(text);
        if (!e.ok() || e->ids != want.ids || e->offsets != want.offsets) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace ptune::text

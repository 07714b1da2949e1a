// Parity with Hugging Face `tokenizers` 0.19.1 on the committed fixtures of
// tests/fixtures/tokenizer (written by tests/tools/gen_tokenizer_fixtures.py;
// see its docstring for the record and digest conventions, which the readers
// below mirror). The fixtures hold no dataset text: the dataset tests re-read
// the texts from ../shared/data and skip when it is absent.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/text/tokenizer.h"
#include "server/text/tokenizer_files.h"
#include "server/text/utf8.h"
#include "tests/testing/test_paths.h"

namespace ptune::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kNoTruncation = 1 << 30;
constexpr int kMaxReportedFailures = 10;

// The default backbone folder when it has a tokenizer.json, else "".
std::string BackboneDir() {
  const std::string dir = ptune::testing::BackboneDir();
  if (dir.empty() || !fs::exists(dir + "/tokenizer.json")) return "";
  return dir;
}

std::string FixtureDir() {
  return ptune::testing::SourceDir() + "/tests/fixtures/tokenizer";
}

// `relative` under ../shared/data, or "" when that file is absent.
std::string SharedDataFile(const std::string& relative) {
  const std::string dir = ptune::testing::SharedDataDir();
  if (dir.empty()) return "";
  const std::string path = dir + "/" + relative;
  return fs::is_regular_file(path) ? path : "";
}

// The GTEST_SKIP message when SharedDataFile(relative) is "".
std::string NoSharedDataMessage(const std::string& relative) {
  return absl::StrCat(
      ptune::testing::SourceDir(), "/../shared/data/", relative,
      " is absent (../shared/data is not on this machine); the tokenizer "
      "fixtures hold no dataset text, so this check needs the shared data");
}

// Lines without their "\n".
std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string Escaped(const std::string& s) {
  return json(s).dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string IdsString(const std::vector<int32_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

std::string OffsetsString(const std::vector<std::pair<int32_t, int32_t>>& o) {
  return absl::StrCat("[",
                      absl::StrJoin(o, ",",
                                    [](std::string* out, const auto& p) {
                                      absl::StrAppend(out, "(", p.first, ",",
                                                      p.second, ")");
                                    }),
                      "]");
}

// "id:b:e," for every token (the generator's canonical string).
std::string Canonical(const Encoding& enc) {
  std::string s;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    absl::StrAppend(&s, enc.ids[i], ":", enc.offsets[i].first, ":",
                    enc.offsets[i].second, ",");
  }
  return s;
}

std::string Fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return absl::StrFormat("%016x", h);
}

// byte_offsets must be the code point offsets converted with the text's
// UTF-8 layout.
std::string ByteOffsetMismatch(const std::string& text, const Encoding& enc) {
  auto decoded = DecodeUtf8(text);
  if (!decoded.ok()) return std::string(decoded.status().message());
  const std::vector<int32_t>& bytes = decoded->byte_offsets;
  if (enc.byte_offsets.size() != enc.offsets.size()) return "size differs";
  for (size_t i = 0; i < enc.offsets.size(); ++i) {
    const auto [b, e] = enc.offsets[i];
    std::pair<int32_t, int32_t> want(0, 0);
    if (!(b == 0 && e == 0 && enc.word_ids[i] == -1)) {
      if (b < 0 || e < 0 || b >= static_cast<int32_t>(bytes.size()) ||
          e >= static_cast<int32_t>(bytes.size())) {
        return absl::StrCat("token ", i, ": offsets out of range");
      }
      want = {bytes[b], bytes[e]};
    }
    if (enc.byte_offsets[i] != want) {
      return absl::StrCat(
          "token ", i, ": byte offsets (", enc.byte_offsets[i].first, ",",
          enc.byte_offsets[i].second, ") for code points (", b, ",", e,
          "), expected (", want.first, ",", want.second, ")");
    }
  }
  return "";
}

// Compares one fixture record with the encoding of `text` (the record's own
// "text" for the hand-written cases, the data file's for the datasets);
// returns false (and reports) on a mismatch.
bool CheckRecord(const Tokenizer& tok, const std::string& text, const json& rec,
                 const std::string& where) {
  const int max_length =
      rec.contains("max_length") ? rec["max_length"].get<int>() : kNoTruncation;
  auto enc = tok.Encode(text, max_length);
  if (!enc.ok()) {
    ADD_FAILURE() << where << " text=" << Escaped(text) << ": " << enc.status();
    return false;
  }
  std::vector<int32_t> ids = rec["ids"].get<std::vector<int32_t>>();
  std::vector<std::pair<int32_t, int32_t>> offsets;
  for (const json& o : rec["offsets"]) {
    offsets.emplace_back(o[0].get<int32_t>(), o[1].get<int32_t>());
  }
  bool ok = true;
  if (enc->ids != ids || enc->offsets != offsets) {
    ADD_FAILURE() << where << " text=" << Escaped(text)
                  << "\n  HF ids:      " << IdsString(ids)
                  << "\n  ours:        " << IdsString(enc->ids)
                  << "\n  HF offsets:  " << OffsetsString(offsets)
                  << "\n  ours:        " << OffsetsString(enc->offsets);
    ok = false;
  }
  if (rec.contains("word_ids")) {
    const auto word_ids = rec["word_ids"].get<std::vector<int32_t>>();
    if (enc->word_ids != word_ids) {
      ADD_FAILURE() << where << " text=" << Escaped(text)
                    << "\n  HF word_ids: " << IdsString(word_ids)
                    << "\n  ours:        " << IdsString(enc->word_ids);
      ok = false;
    }
  }
  if (rec.contains("max_length")) {
    const bool truncated = enc->ids.size() == static_cast<size_t>(max_length);
    if (!truncated && enc->truncated) {
      ADD_FAILURE() << where << ": truncated set but nothing was cut";
      ok = false;
    }
  }
  if (std::string bad = ByteOffsetMismatch(text, *enc); !bad.empty()) {
    ADD_FAILURE() << where << " text=" << Escaped(text) << ": " << bad;
    ok = false;
  }
  return ok;
}

// Records of a data file as the generator reads them: (line, text).
using Records = std::vector<std::pair<std::string, std::string>>;

Records ReadSst2(const std::string& path) {
  Records out;
  std::vector<std::string> lines = ReadLines(path);
  for (size_t i = 1; i < lines.size(); ++i) {  // line 1 is the header
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    out.emplace_back(absl::StrCat(i + 1), line.substr(0, line.rfind('\t')));
  }
  return out;
}

Records ReadConll(const std::string& path) {
  Records out;
  std::vector<std::string> tokens;
  size_t start = 0;
  std::vector<std::string> lines = ReadLines(path);
  for (size_t i = 0; i <= lines.size(); ++i) {
    std::string line = i < lines.size() ? lines[i] : "";
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
      line.pop_back();
    }
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (!tokens.empty()) {
        out.emplace_back(absl::StrCat(start), absl::StrJoin(tokens, " "));
      }
      tokens.clear();
      continue;
    }
    if (tokens.empty()) start = i + 1;
    tokens.push_back(line.substr(0, line.find(' ')));
  }
  return out;
}

// Checks a dataset fixture ({"line", "ids", "offsets"} per record, no text)
// against `records` read from the data file: one fixture line per record, in
// the same order, with the same line numbers. Returns the fixture line count.
int CheckDataFixture(const Tokenizer& tok, const Records& records,
                     const std::string& name) {
  const std::vector<std::string> lines = ReadLines(FixtureDir() + "/" + name);
  EXPECT_EQ(lines.size(), records.size())
      << name << ": record count differs from the data";
  int failures = 0;
  int n = 0;
  for (const std::string& line : lines) {
    ++n;
    const json rec = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (rec.is_discarded() || !rec.is_object() || !rec.contains("line")) {
      ADD_FAILURE() << name << ":" << n << ": bad JSON or no \"line\"";
      if (++failures >= kMaxReportedFailures) break;
      continue;
    }
    // Project rule: the shared datasets are never copied into the repository.
    if (rec.contains("text")) {
      ADD_FAILURE() << name << ":" << n
                    << ": holds dataset text; regenerate with "
                       "tests/tools/gen_tokenizer_fixtures.py";
      if (++failures >= kMaxReportedFailures) break;
      continue;
    }
    const std::string key = absl::StrCat(rec["line"].get<int>());
    const std::string where =
        absl::StrCat(name, ":", n, " (data line ", key, ")");
    if (static_cast<size_t>(n) > records.size() ||
        records[n - 1].first != key) {
      ADD_FAILURE() << where << ": the data has "
                    << (static_cast<size_t>(n) > records.size()
                            ? std::string("no such record")
                            : absl::StrCat("line ", records[n - 1].first))
                    << " here; the data changed, regenerate the fixtures";
      break;
    }
    if (!CheckRecord(tok, records[n - 1].second, rec, where) &&
        ++failures >= kMaxReportedFailures) {
      ADD_FAILURE() << name << ": stopping after " << failures
                    << " mismatching records";
      break;
    }
  }
  return n;
}

class TokenizerFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = BackboneDir();
    if (dir.empty()) return;
    auto tok = Tokenizer::FromDirectory(dir);
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = std::move(tok).value().release();
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }
  void SetUp() override {
    if (BackboneDir().empty()) {
      GTEST_SKIP() << "no backbone tokenizer: set PTUNE_BACKBONE_DIR or "
                      "configure with -DPTUNE_TEST_BACKBONE_DIR=<folder with "
                      "tokenizer.json>";
    }
    ASSERT_NE(tokenizer_, nullptr);
  }

  // Checks every record of a hand-written fixture file (records carry their
  // "text"); returns the record count.
  static int CheckFile(const Tokenizer& tok, const std::string& name) {
    const std::string path = FixtureDir() + "/" + name;
    int failures = 0;
    int n = 0;
    for (const std::string& line : ReadLines(path)) {
      ++n;
      const json rec = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (rec.is_discarded() || !rec.is_object()) {
        ADD_FAILURE() << path << ":" << n << ": bad JSON";
        continue;
      }
      const std::string where = absl::StrCat(name, ":", n);
      if (!rec.contains("text") || !rec["text"].is_string()) {
        ADD_FAILURE() << where << ": no \"text\"";
        continue;
      }
      if (!CheckRecord(tok, rec["text"].get<std::string>(), rec, where) &&
          ++failures >= kMaxReportedFailures) {
        ADD_FAILURE() << name << ": stopping after " << failures
                      << " mismatching records";
        break;
      }
    }
    return n;
  }

  static Tokenizer* tokenizer_;
};

Tokenizer* TokenizerFixtureTest::tokenizer_ = nullptr;

TEST_F(TokenizerFixtureTest, BackboneSettings) {
  EXPECT_EQ(tokenizer_->vocab_size(), 30522);
  EXPECT_EQ(tokenizer_->cls_id(), 101);
  EXPECT_EQ(tokenizer_->sep_id(), 102);
  EXPECT_EQ(tokenizer_->pad_id(), 0);
  EXPECT_EQ(tokenizer_->unk_id(), 100);
  EXPECT_EQ(tokenizer_->mask_id(), 103);
  EXPECT_EQ(tokenizer_->config().model_max_length, 512);
  EXPECT_TRUE(tokenizer_->config().lowercase);
  EXPECT_FALSE(tokenizer_->config().strip_accents.has_value());
}

TEST_F(TokenizerFixtureTest, VocabTxtFolderMatchesTokenizerJson) {
  // The same backbone read through vocab.txt + tokenizer_config.json.
  const fs::path tmp =
      fs::temp_directory_path() / absl::StrCat("ptune_text_vocab_", ::getpid());
  fs::create_directories(tmp);
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "config.json"}) {
    fs::copy_file(fs::path(BackboneDir()) / f, tmp / f,
                  fs::copy_options::overwrite_existing);
  }
  auto tok = Tokenizer::FromDirectory(tmp.string());
  fs::remove_all(tmp);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), tokenizer_->vocab_size());
  EXPECT_GE(CheckFile(**tok, "hard_cases.jsonl"), 80);
}

TEST_F(TokenizerFixtureTest, HardCases) {
  EXPECT_GE(CheckFile(*tokenizer_, "hard_cases.jsonl"), 80);
}

TEST_F(TokenizerFixtureTest, OtherNormalizerSettings) {
  auto base = LoadTokenizerSpec(BackboneDir());
  ASSERT_TRUE(base.ok()) << base.status();
  std::map<std::string, std::unique_ptr<Tokenizer>> by_config;
  int failures = 0;
  int n = 0;
  for (const std::string& line :
       ReadLines(FixtureDir() + "/config_cases.jsonl")) {
    ++n;
    const json rec = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(rec.is_discarded()) << "config_cases.jsonl:" << n;
    const json& cfg = rec["config"];
    std::unique_ptr<Tokenizer>& tok = by_config[cfg.dump()];
    if (tok == nullptr) {
      TokenizerSpec spec = *base;
      spec.config.clean_text = cfg["clean_text"].get<bool>();
      spec.config.handle_chinese_chars =
          cfg["handle_chinese_chars"].get<bool>();
      spec.config.lowercase = cfg["lowercase"].get<bool>();
      if (cfg["strip_accents"].is_null()) {
        spec.config.strip_accents.reset();
      } else {
        spec.config.strip_accents = cfg["strip_accents"].get<bool>();
      }
      auto created = Tokenizer::FromSpec(std::move(spec));
      ASSERT_TRUE(created.ok()) << created.status();
      tok = *std::move(created);
    }
    if (!CheckRecord(*tok, rec["text"].get<std::string>(), rec,
                     absl::StrCat("config_cases.jsonl:", n, " ", cfg.dump())) &&
        ++failures >= kMaxReportedFailures) {
      break;
    }
  }
  EXPECT_GT(n, 0);
}

TEST_F(TokenizerFixtureTest, Sst2Dev) {
  const std::string path = SharedDataFile("cls/sst2/dev.tsv");
  if (path.empty()) GTEST_SKIP() << NoSharedDataMessage("cls/sst2/dev.tsv");
  EXPECT_EQ(CheckDataFixture(*tokenizer_, ReadSst2(path), "sst2_dev.jsonl"),
            872);
}

TEST_F(TokenizerFixtureTest, Sst2TestLabeled) {
  const std::string path = SharedDataFile("cls/sst2/test-labeled.tsv");
  if (path.empty()) {
    GTEST_SKIP() << NoSharedDataMessage("cls/sst2/test-labeled.tsv");
  }
  EXPECT_EQ(
      CheckDataFixture(*tokenizer_, ReadSst2(path), "sst2_test_labeled.jsonl"),
      1821);
}

TEST_F(TokenizerFixtureTest, Conll2003Test) {
  const std::string path = SharedDataFile("ner/conll2003/test.txt");
  if (path.empty()) {
    GTEST_SKIP() << NoSharedDataMessage("ner/conll2003/test.txt");
  }
  EXPECT_EQ(
      CheckDataFixture(*tokenizer_, ReadConll(path), "conll2003_test.jsonl"),
      3453);
}

TEST_F(TokenizerFixtureTest, Conll2003Valid) {
  const std::string path = SharedDataFile("ner/conll2003/valid.txt");
  if (path.empty()) {
    GTEST_SKIP() << NoSharedDataMessage("ner/conll2003/valid.txt");
  }
  EXPECT_EQ(
      CheckDataFixture(*tokenizer_, ReadConll(path), "conll2003_valid.jsonl"),
      3250);
}

// Checks every record against "<key>\t<hash>" lines, in order; reports the
// first mismatch with both canonical strings' inputs.
void CheckDigest(const Tokenizer& tok, const Records& records,
                 const std::string& digest_name) {
  const std::vector<std::string> digests =
      ReadLines(FixtureDir() + "/" + digest_name);
  ASSERT_EQ(records.size(), digests.size())
      << digest_name << ": record count differs from the data";
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [key, text] = records[i];
    std::pair<std::string, std::string> want =
        absl::StrSplit(digests[i], absl::MaxSplits('\t', 1));
    ASSERT_EQ(key, want.first) << digest_name << ": record " << i;
    auto enc = tok.Encode(text, kNoTruncation);
    ASSERT_TRUE(enc.ok()) << digest_name << " line " << key << ": "
                          << enc.status();
    const std::string canonical = Canonical(*enc);
    if (Fnv1a64(canonical) != want.second) {
      FAIL() << digest_name << ": first mismatch at line " << key << " (record "
             << i << ")\n  text: " << Escaped(text)
             << "\n  ours (id:begin:end): " << canonical
             << "\n  (regenerate with HF to see its output)";
    }
    ASSERT_EQ(ByteOffsetMismatch(text, *enc), "") << digest_name << " " << key;
  }
}

TEST_F(TokenizerFixtureTest, Sst2TrainDigest) {
  const std::string path = SharedDataFile("cls/sst2/train.tsv");
  if (path.empty()) GTEST_SKIP() << NoSharedDataMessage("cls/sst2/train.tsv");
  CheckDigest(*tokenizer_, ReadSst2(path), "sst2_train.digest.tsv");
}

TEST_F(TokenizerFixtureTest, Conll2003TrainDigest) {
  const std::string path = SharedDataFile("ner/conll2003/train.txt");
  if (path.empty()) {
    GTEST_SKIP() << NoSharedDataMessage("ner/conll2003/train.txt");
  }
  CheckDigest(*tokenizer_, ReadConll(path), "conll2003_train.digest.tsv");
}

TEST_F(TokenizerFixtureTest, EveryCodePointDigest) {
  // 64 scalar values per line, each as the word "x<c>x".
  Records records;
  std::vector<char32_t> chunk;
  auto flush = [&] {
    std::vector<std::string> words;
    for (char32_t c : chunk) words.push_back("x" + EncodeUtf8(c) + "x");
    records.emplace_back(absl::StrFormat("%x", static_cast<uint32_t>(chunk[0])),
                         absl::StrJoin(words, " "));
    chunk.clear();
  };
  for (char32_t c = 0; c < 0x110000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    chunk.push_back(c);
    if (chunk.size() == 64) flush();
  }
  if (!chunk.empty()) flush();
  CheckDigest(*tokenizer_, records, "codepoints.digest.tsv");
}

// Not a check: prints the tokenization speed on SST-2 dev.
TEST_F(TokenizerFixtureTest, Sst2DevThroughput) {
  const std::string path = SharedDataFile("cls/sst2/dev.tsv");
  if (path.empty()) GTEST_SKIP() << NoSharedDataMessage("cls/sst2/dev.tsv");
  std::vector<std::string> texts;
  for (auto& [line, text] : ReadSst2(path)) texts.push_back(std::move(text));
  ASSERT_FALSE(texts.empty());
  const int reps = 20;
  size_t tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    auto batch = tokenizer_->EncodeBatch(texts);
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const Encoding& e : *batch) tokens += e.ids.size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const double per_second = reps * texts.size() / seconds;
  std::cout << absl::StrFormat(
                   "SST-2 dev: %.0f sentences/s, %.0f tokens/s (one thread)",
                   per_second, tokens / seconds)
            << std::endl;
  RecordProperty("sentences_per_second", static_cast<int>(per_second));
}

}  // namespace
}  // namespace ptune::text

// Reading tokenizer folders: good ones in both formats, and clear errors for
// missing or broken ones. Uses small files written to a temporary folder.
#include "server/text/tokenizer_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/text/tokenizer.h"

namespace ptune::text {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kVocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n";

constexpr char kTokenizerJson[] = R"({
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true,
                 "handle_chinese_chars": false, "strip_accents": null,
                 "lowercase": false},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [],
    "special_tokens": {
      "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
      "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
  "decoder": null,
  "model": {"type": "WordPiece", "unk_token": "[UNK]",
            "continuing_subword_prefix": "##", "max_input_chars_per_word": 7,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,
                      "[MASK]": 4, "hello": 5, "world": 6, "##s": 7,
                      "Hello": 8}}
})";

class TokenizerFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (fs::temp_directory_path() /
         absl::StrCat(
             "ptune_text_files_", ::getpid(), "_",
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << contents;
  }

  std::string dir_;
};

TEST_F(TokenizerFilesTest, ReadsTokenizerJson) {
  Write("tokenizer.json", kTokenizerJson);
  Write("tokenizer_config.json",
        R"({"model_max_length": 1000000000000000019884624838656,
                                     "do_lower_case": true})");
  Write("config.json", R"({"max_position_embeddings": 64})");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const TokenizerConfig& c = (*tok)->config();
  // tokenizer.json's normalizer wins over tokenizer_config.json.
  EXPECT_FALSE(c.lowercase);
  EXPECT_FALSE(c.handle_chinese_chars);
  EXPECT_EQ(c.max_input_chars_per_word, 7);
  EXPECT_EQ(c.model_max_length, 64);  // "unset" 1e30, capped by config.json
  EXPECT_EQ((*tok)->vocab_size(), 9);
  auto enc = (*tok)->Encode("Hello worlds");
  ASSERT_TRUE(enc.ok());
  EXPECT_THAT(enc->ids, ElementsAre(2, 8, 6, 7, 3));
}

TEST_F(TokenizerFilesTest, ReadsVocabTxtAndTokenizerConfig) {
  Write("vocab.txt", kVocab);
  Write("tokenizer_config.json",
        R"({"do_lower_case": true, "model_max_length": 128,
            "unk_token": {"content": "[UNK]", "__type": "AddedToken"}})");
  Write("config.json", R"({"max_position_embeddings": 512})");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_TRUE((*tok)->config().lowercase);
  EXPECT_EQ((*tok)->config().model_max_length, 128);
  auto enc = (*tok)->Encode("HELLO [MASK] Worlds");
  ASSERT_TRUE(enc.ok());
  EXPECT_THAT(enc->ids, ElementsAre(2, 5, 4, 6, 7, 3));
}

TEST_F(TokenizerFilesTest, VocabTxtWithCrLfLines) {
  Write("vocab.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->TokenToId("hello"), 4);
  EXPECT_EQ((*tok)->config().lowercase, true);  // transformers' default
}

TEST_F(TokenizerFilesTest, MissingFolder) {
  auto tok = Tokenizer::FromDirectory(dir_ + "/nope");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tok.status().message(), HasSubstr(dir_ + "/nope"));
}

TEST_F(TokenizerFilesTest, FolderIsAFile) {
  Write("file", "x");
  auto tok = Tokenizer::FromDirectory(dir_ + "/file");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenizerFilesTest, NoVocabulary) {
  Write("tokenizer_config.json", "{}");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tok.status().message(), HasSubstr("tokenizer.json"));
  EXPECT_THAT(tok.status().message(), HasSubstr("vocab.txt"));
}

TEST_F(TokenizerFilesTest, BrokenTokenizerJson) {
  Write("tokenizer.json", R"({"model": {"type": "WordPiece", )");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("tokenizer.json"));
  EXPECT_THAT(tok.status().message(), HasSubstr("not valid JSON"));
}

TEST_F(TokenizerFilesTest, UnsupportedModel) {
  std::string json = kTokenizerJson;
  json.replace(json.find("\"WordPiece\""), 11, "\"BPE\"");
  Write("tokenizer.json", json);
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("WordPiece"));
}

TEST_F(TokenizerFilesTest, WrongFieldType) {
  std::string json = kTokenizerJson;
  json.replace(json.find("\"lowercase\": false"), 18, "\"lowercase\": \"no\"");
  Write("tokenizer.json", json);
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("lowercase"));
}

TEST_F(TokenizerFilesTest, BrokenTokenizerConfig) {
  Write("vocab.txt", kVocab);
  Write("tokenizer_config.json", "{not json");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("tokenizer_config.json"));
}

TEST_F(TokenizerFilesTest, BrokenModelConfig) {
  Write("vocab.txt", kVocab);
  Write("config.json", R"({"max_position_embeddings": "many"})");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(tok.status().message(), HasSubstr("config.json"));
}

TEST_F(TokenizerFilesTest, VocabTxtNotUtf8) {
  Write("vocab.txt", "[UNK]\n[CLS]\n[SEP]\nbad\xFF\n");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("vocab.txt"));
  EXPECT_THAT(tok.status().message(), HasSubstr("byte offset 21"));
}

TEST_F(TokenizerFilesTest, VocabWithoutUnknownToken) {
  Write("vocab.txt", "[CLS]\n[SEP]\nhello\n");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("[UNK]"));
  EXPECT_THAT(tok.status().message(), HasSubstr(dir_));
}

TEST_F(TokenizerFilesTest, EmptyVocabTxt) {
  Write("vocab.txt", "");
  auto tok = Tokenizer::FromDirectory(dir_);
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(tok.status().message(), HasSubstr("vocab.txt"));
}

}  // namespace
}  // namespace ptune::text

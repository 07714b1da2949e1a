#include "server/service/validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::service {
namespace {

using ::testing::HasSubstr;

TEST(ValidateNameTest, AcceptsTheDocumentedCharset) {
  EXPECT_TRUE(ValidateName("sentiment-v2.en_US", "prompt_name").ok());
  EXPECT_TRUE(ValidateName(std::string(64, 'a'), "prompt_name").ok());
}

TEST(ValidateNameTest, RefusesWithTheFieldAndTheRule) {
  for (const std::string& bad : std::vector<std::string>{"", std::string(65, 'a'), "-leading", "spa ce", "ünï", "a/b"}) {
    const absl::Status status = ValidateName(bad, "prompt_name");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("prompt_name")) << bad;
  }
}

TEST(ValidateTextsTest, LimitsCountBytesAndEncoding) {
  RequestLimits limits;
  limits.max_texts = 2;
  limits.max_text_bytes = 5;
  google::protobuf::RepeatedPtrField<std::string> texts;
  EXPECT_THAT(ValidateTexts(texts, limits).message(), HasSubstr("must not be empty"));
  *texts.Add() = "ok";
  EXPECT_TRUE(ValidateTexts(texts, limits).ok());
  *texts.Add() = "toolong";
  EXPECT_THAT(ValidateTexts(texts, limits).message(),
              HasSubstr("texts[1] has 7 bytes; the limit is 5"));
  texts[1] = "b\xc3";  // truncated 2-byte sequence
  EXPECT_THAT(ValidateTexts(texts, limits).message(), HasSubstr("texts[1] is not valid UTF-8"));
  texts[1] = "é";
  EXPECT_TRUE(ValidateTexts(texts, limits).ok());
  *texts.Add() = "x";
  EXPECT_THAT(ValidateTexts(texts, limits).message(), HasSubstr("the limit is 2"));
}

TEST(ValidateIdTest, AcceptsStoreIdsOnly) {
  EXPECT_TRUE(ValidateId("job_0123456789abcdef", "job_id").ok());
  EXPECT_FALSE(ValidateId("", "job_id").ok());
  EXPECT_FALSE(ValidateId("JOB_1", "job_id").ok());
  EXPECT_FALSE(ValidateId("job-1; DROP TABLE jobs", "job_id").ok());
}

TEST(ValidationTest, VersionsNeverWrapAround) {
  EXPECT_EQ(*ParseVersion(0), std::nullopt);
  EXPECT_EQ(*ParseVersion(7), std::optional<int>(7));
  EXPECT_EQ(*ParseVersion(2147483647), std::optional<int>(2147483647));
  // 4294967297 used to answer version 1; 2147483648 "v-2147483648".
  for (int64_t bad : {int64_t{-1}, int64_t{2147483648}, int64_t{4294967297}}) {
    const absl::StatusOr<std::optional<int>> parsed = ParseVersion(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr("0..2147483647"));
  }
}

}  // namespace
}  // namespace ptune::service

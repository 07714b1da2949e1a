#include "server/auth/api_key.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(HashApiKeyTest, MatchesSha256KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(HashApiKey(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashApiKey("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      HashApiKey("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashApiKeyTest, HashesEmbeddedNulBytes) {
  EXPECT_NE(HashApiKey(std::string("a\0b", 3)), HashApiKey("a"));
}

TEST(Base64UrlEncodeTest, MatchesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  // The two characters where base64url differs from base64 ("+/8=").
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(GenerateApiKeyTest, HasPrefixLengthAndUrlSafeAlphabet) {
  std::set<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<std::string> key = GenerateApiKey();
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_THAT(*key, StartsWith("ptk_"));
    ASSERT_EQ(key->size(), kApiKeyLength);
    EXPECT_EQ(key->size(), 4u + 43u);
    for (char c : key->substr(4)) {
      EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_')
          << "unexpected character '" << c << "' in " << *key;
    }
    keys.insert(*key);
  }
  EXPECT_EQ(keys.size(), 200u);
}

TEST(GenerateApiKeyTest, UsesTheWholeAlphabet) {
  // 200 keys x 42 full characters: every one of the 64 symbols shows up
  // unless the encoding (or the randomness) is broken.
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string key = *GenerateApiKey();
    for (char c : key.substr(4, 42)) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 64u);
}

TEST(ConstantTimeEqualsTest, ComparesContents) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abcdef", "abcdef"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "xbcdef"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcdex"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcde"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(
      ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(ParseBearerTest, AcceptsBearerKeys) {
  EXPECT_EQ(*ParseBearer("Bearer ptk_abc"), "ptk_abc");
  EXPECT_EQ(*ParseBearer("bearer ptk_abc"), "ptk_abc");
  EXPECT_EQ(*ParseBearer("BEARER\tptk_abc"), "ptk_abc");
  EXPECT_EQ(*ParseBearer("  Bearer    ptk_abc \r\n"), "ptk_abc");
}

TEST(ParseBearerTest, RejectsMissingHeader) {
  for (const char* header : {"", "   "}) {
    absl::StatusOr<std::string> key = ParseBearer(header);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(key.status().message(), HasSubstr("missing API key"));
    EXPECT_THAT(key.status().message(), HasSubstr("Bearer <api key>"));
  }
}

TEST(ParseBearerTest, RejectsOtherSchemes) {
  for (const char* header : {"Basic dXNlcjpwYXNz", "ptk_abc", "Bearerx ptk"}) {
    absl::StatusOr<std::string> key = ParseBearer(header);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated)
        << header;
    EXPECT_THAT(key.status().message(), HasSubstr("must use the Bearer scheme"))
        << header;
    // The header (often the key itself, without its prefix) is never echoed.
    EXPECT_THAT(key.status().message(), ::testing::Not(HasSubstr("ptk_abc")));
    EXPECT_THAT(key.status().message(), ::testing::Not(HasSubstr("dXNlcjpwYXNz")));
  }
}

TEST(ParseBearerTest, RejectsEmptyOrMalformedTokens) {
  for (const char* header : {"Bearer", "Bearer   ", "bearer\t"}) {
    absl::StatusOr<std::string> key = ParseBearer(header);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated)
        << header;
    EXPECT_THAT(key.status().message(), HasSubstr("empty bearer token"))
        << header;
  }
  absl::StatusOr<std::string> key = ParseBearer("Bearer ptk_a ptk_b");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(key.status().message(), HasSubstr("whitespace"));
  key = ParseBearer("Bearer " + std::string(kMaxBearerTokenLength + 1, 'a'));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(key.status().message(), HasSubstr("too long"));
}

}  // namespace
}  // namespace ptune::auth

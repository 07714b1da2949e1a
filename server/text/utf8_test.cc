#include "server/text/utf8.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DecodeUtf8Test, DecodesCodePointsAndByteOffsets) {
  // a (1 byte), é (2), 中 (3), 😀 (4).
  auto d = DecodeUtf8("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->code_points, ElementsAre(U'a', 0xE9, 0x4E2D, 0x1F600));
  EXPECT_THAT(d->byte_offsets, ElementsAre(0, 1, 3, 6, 10));
}

TEST(DecodeUtf8Test, EmptyText) {
  auto d = DecodeUtf8("");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->code_points.empty());
  EXPECT_THAT(d->byte_offsets, ElementsAre(0));
}

TEST(DecodeUtf8Test, AcceptsBoundaryScalarValues) {
  for (char32_t c : {0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu,
                     0x10000u, 0x10FFFFu}) {
    auto d = DecodeUtf8(EncodeUtf8(c));
    ASSERT_TRUE(d.ok()) << std::hex << c << " " << d.status();
    EXPECT_THAT(d->code_points, ElementsAre(c));
  }
}

struct BadCase {
  std::string bytes;
  int offset;
  const char* what;
};

TEST(DecodeUtf8Test, RejectsMalformedInputNamingTheByteOffset) {
  const BadCase cases[] = {
      {"ab\xC3", 2, "truncated"},                 // cut 2-byte sequence
      {"ab\xE4\xB8", 2, "truncated"},             // cut 3-byte sequence
      {"\xE4\x41\x42", 0, "truncated"},           // missing continuation
      {"x\xC0\xAF", 1, "overlong"},               // overlong '/'
      {"\xE0\x80\xAF", 0, "overlong"},            // overlong 3-byte
      {"\xF0\x80\x80\xAF", 0, "overlong"},        // overlong 4-byte
      {"ok \xED\xA0\x80", 3, "surrogate"},        // U+D800
      {"\xED\xBF\xBF", 0, "surrogate"},           // U+DFFF
      {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},  // U+110000
      {"\x80", 0, "stray continuation"},          // lone continuation
      {"abc\xBF", 3, "stray continuation"},
      {"\xFF", 0, "invalid lead byte"},
  };
  for (const BadCase& c : cases) {
    auto d = DecodeUtf8(c.bytes);
    ASSERT_FALSE(d.ok()) << c.what;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(),
                HasSubstr("byte offset " + std::to_string(c.offset)))
        << d.status();
    EXPECT_THAT(d.status().message(), HasSubstr(c.what)) << d.status();
  }
}

TEST(EncodeUtf8Test, RoundTrips) {
  std::string s;
  for (char32_t c :
       {U'a', char32_t{0xE9}, char32_t{0x4E2D}, char32_t{0x1F600}}) {
    AppendUtf8(c, &s);
  }
  EXPECT_EQ(s, "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace ptune::text

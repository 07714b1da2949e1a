// One test per validation rule of SafetensorsFile, each on a hand-crafted
// hostile buffer.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/safetensors/safetensors.h"
#include "server/safetensors/test_util.h"

namespace ptune::safetensors {
namespace {

using ::ptune::safetensors::testing::MakeFile;
using ::ptune::safetensors::testing::U64Le;
using ::testing::HasSubstr;

constexpr char kSource[] = "hostile.safetensors";

absl::Status Load(std::string bytes) {
  return SafetensorsFile::FromBuffer(std::move(bytes), kSource).status();
}

// Every failure is `code`, names the file and contains `substring`.
void ExpectError(const absl::Status& status, absl::StatusCode code,
                 absl::string_view substring) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(status.message(), HasSubstr(substring));
  EXPECT_THAT(status.message(), HasSubstr(kSource));
}

// A file with one tensor entry `entry` (JSON) named "t" and `data`.
std::string OneTensor(absl::string_view entry, absl::string_view data) {
  return MakeFile(absl::StrCat("{\"t\":", entry, "}"), data);
}

const std::string kEightBytes(8, '\x11');

TEST(SafetensorsValidationTest, AcceptsWellFormedFile) {
  const std::string bytes = MakeFile(
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("s":{"dtype":"U8","shape":[],"data_offsets":[8,9]},)"
      R"("z":{"dtype":"I64","shape":[3,0],"data_offsets":[9,9]}})",
      std::string(9, '\0'));
  auto file = SafetensorsFile::FromBuffer(bytes, kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("k"), "v");
  EXPECT_EQ((*file)->Get("s")->numel(), 1);
  EXPECT_EQ((*file)->Get("z")->numel(), 0);
  EXPECT_EQ((*file)->Get("z")->nbytes, 0u);
}

TEST(SafetensorsValidationTest, FileShorterThanEightBytes) {
  ExpectError(Load(""), absl::StatusCode::kDataLoss,
              "shorter than the 8-byte header size");
  ExpectError(Load(std::string(7, '\0')), absl::StatusCode::kDataLoss,
              "file is 7 bytes");
}

TEST(SafetensorsValidationTest, HeaderSizeBeyondFile) {
  ExpectError(Load(U64Le(10) + "{}"), absl::StatusCode::kDataLoss,
              "header size 10 exceeds the 2 bytes after the size field");
}

TEST(SafetensorsValidationTest, HeaderSizeOverLimit) {
  ExpectError(Load(U64Le(100'000'001) + "{}"),
              absl::StatusCode::kInvalidArgument,
              "exceeds the limit of 100000000 bytes");
  ExpectError(Load(U64Le(~uint64_t{0}) + "{}"),
              absl::StatusCode::kInvalidArgument, "exceeds the limit");
}

TEST(SafetensorsValidationTest, HeaderNotJson) {
  ExpectError(Load(MakeFile("{\"t\":", "")), absl::StatusCode::kInvalidArgument,
              "header is not valid JSON");
  ExpectError(Load(MakeFile("", "")), absl::StatusCode::kInvalidArgument,
              "header is not valid JSON");
  ExpectError(Load(MakeFile("{} trailing", "")),
              absl::StatusCode::kInvalidArgument, "header is not valid JSON");
}

TEST(SafetensorsValidationTest, HeaderNotObject) {
  ExpectError(Load(MakeFile("[1,2]", "")), absl::StatusCode::kInvalidArgument,
              "header is not a JSON object but a array");
  ExpectError(Load(MakeFile("\"str\"", "")), absl::StatusCode::kInvalidArgument,
              "not a JSON object");
}

TEST(SafetensorsValidationTest, HeaderNotUtf8) {
  ExpectError(Load(MakeFile("{\"\xFF\":1}", "")),
              absl::StatusCode::kInvalidArgument,
              "header is not valid UTF-8 (bad byte at offset 2)");
  // Overlong encoding of '/' and an encoded surrogate.
  ExpectError(Load(MakeFile("{\"\xC0\xAF\":1}", "")),
              absl::StatusCode::kInvalidArgument, "not valid UTF-8");
  ExpectError(Load(MakeFile("{\"\xED\xA0\x80\":1}", "")),
              absl::StatusCode::kInvalidArgument, "not valid UTF-8");
}

TEST(SafetensorsValidationTest, MetadataNotStringToString) {
  ExpectError(Load(MakeFile(R"({"__metadata__":["a"]})", "")),
              absl::StatusCode::kInvalidArgument,
              "__metadata__ must be an object");
  ExpectError(Load(MakeFile(R"({"__metadata__":{"a":"b","n":1}})", "")),
              absl::StatusCode::kInvalidArgument,
              "__metadata__ must map strings to strings, but key \"n\" has a "
              "number value");
  ExpectError(Load(MakeFile(R"({"__metadata__":{"o":{}}})", "")),
              absl::StatusCode::kInvalidArgument, "has a object value");
}

TEST(SafetensorsValidationTest, TensorEntryNotObject) {
  ExpectError(Load(OneTensor("[0,8]", kEightBytes)),
              absl::StatusCode::kInvalidArgument,
              "tensor \"t\": entry must be an object, got array");
}

TEST(SafetensorsValidationTest, MissingFields) {
  ExpectError(
      Load(OneTensor(R"({"shape":[2],"data_offsets":[0,8]})", kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "tensor \"t\": missing field \"dtype\"");
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","data_offsets":[0,8]})", kEightBytes)),
      absl::StatusCode::kInvalidArgument, "missing field \"shape\"");
  ExpectError(Load(OneTensor(R"({"dtype":"F32","shape":[2]})", kEightBytes)),
              absl::StatusCode::kInvalidArgument,
              "missing field \"data_offsets\"");
}

TEST(SafetensorsValidationTest, WronglyTypedFields) {
  ExpectError(Load(OneTensor(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})",
                             kEightBytes)),
              absl::StatusCode::kInvalidArgument,
              "\"dtype\" must be a string, got number");
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "\"shape\" must be an array of integers, got number");
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "\"shape\" must be an array of integers, found a number");
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "found a string");
}

TEST(SafetensorsValidationTest, ExtraUnknownFieldsAreAccepted) {
  auto file = SafetensorsFile::FromBuffer(
      OneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],)"
                R"("extra":{"nested":[1,{"x":null}]},"more":true})",
                kEightBytes),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->Get("t")->shape, std::vector<int64_t>{2});
}

TEST(SafetensorsValidationTest, UnknownDType) {
  ExpectError(
      Load(OneTensor(R"({"dtype":"F31","shape":[2],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "tensor \"t\": unknown dtype \"F31\"");
  ExpectError(
      Load(OneTensor(R"({"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "unsupported dtype \"F8_E4M3\"");
}

TEST(SafetensorsValidationTest, NegativeDimension) {
  ExpectError(
      Load(OneTensor(R"({"dtype":"U8","shape":[-8],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "shape has a negative dimension -8");
  ExpectError(
      Load(OneTensor(R"({"dtype":"U8","shape":[-2,-4],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "negative dimension");
}

TEST(SafetensorsValidationTest, ShapeProductOverflow) {
  // 2^32 * 2^32 wraps to 0 in unchecked 64-bit arithmetic, which would match
  // an empty range.
  ExpectError(Load(OneTensor(R"({"dtype":"U8","shape":[4294967296,)"
                             R"(4294967296],"data_offsets":[0,0]})",
                             "")),
              absl::StatusCode::kInvalidArgument, "overflows");
  // Element count fits but bytes do not: 2^62 * 4.
  ExpectError(Load(OneTensor(R"({"dtype":"F32","shape":[4611686018427387904],)"
                             R"("data_offsets":[0,0]})",
                             "")),
              absl::StatusCode::kInvalidArgument, "byte size does not fit");
  // A zero dimension does not excuse an overflowing shape.
  ExpectError(Load(OneTensor(R"({"dtype":"U8","shape":[0,4294967296,)"
                             R"(4294967296],"data_offsets":[0,0]})",
                             "")),
              absl::StatusCode::kInvalidArgument, "overflows");
  // A dimension that does not fit in int64.
  ExpectError(Load(OneTensor(R"({"dtype":"U8","shape":[9223372036854775808],)"
                             R"("data_offsets":[0,0]})",
                             "")),
              absl::StatusCode::kInvalidArgument, "overflows int64");
}

TEST(SafetensorsValidationTest, DataOffsetsNotTwoNonNegativeIntegers) {
  for (const char* offsets : {"[0]", "[0,8,8]", "[-1,8]", "[0,8.0]", "\"0,8\"",
                              "[0,\"8\"]", "[0,18446744073709551616]", "{}"}) {
    SCOPED_TRACE(offsets);
    ExpectError(Load(OneTensor(absl::StrCat(R"({"dtype":"U8","shape":[8],)",
                                            R"("data_offsets":)", offsets, "}"),
                               kEightBytes)),
                absl::StatusCode::kInvalidArgument,
                "\"data_offsets\" must be two non-negative integers");
  }
}

TEST(SafetensorsValidationTest, DataOffsetsBeginAfterEnd) {
  ExpectError(
      Load(OneTensor(R"({"dtype":"U8","shape":[0],"data_offsets":[8,0]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "data_offsets [8, 0] begin > end");
}

TEST(SafetensorsValidationTest, EndBeyondBuffer) {
  ExpectError(
      Load(OneTensor(R"({"dtype":"U8","shape":[16],"data_offsets":[0,16]})",
                     kEightBytes)),
      absl::StatusCode::kDataLoss,
      "data_offsets [0, 16] end beyond the data buffer of 8 bytes");
  ExpectError(Load(OneTensor(R"({"dtype":"U8","shape":[0],)"
                             R"("data_offsets":[18446744073709551615,)"
                             R"(18446744073709551615]})",
                             kEightBytes)),
              absl::StatusCode::kDataLoss, "end beyond the data buffer");
}

TEST(SafetensorsValidationTest, ByteRangeDoesNotMatchShape) {
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "data_offsets [0, 8] span 8 bytes but shape [3] of F32 needs 12");
  // A scalar is one element.
  ExpectError(
      Load(OneTensor(R"({"dtype":"F32","shape":[],"data_offsets":[0,8]})",
                     kEightBytes)),
      absl::StatusCode::kInvalidArgument, "needs 4");
}

TEST(SafetensorsValidationTest, OverlappingTensors) {
  ExpectError(
      Load(MakeFile(R"({"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},)"
                    R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                    kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "tensor \"b\" data_offsets [4, 8] overlap tensor \"a\" [0, 6]");
  // Two names for the same bytes.
  ExpectError(
      Load(MakeFile(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})",
                    kEightBytes)),
      absl::StatusCode::kInvalidArgument, "overlap");
}

TEST(SafetensorsValidationTest, HolesAreRejected) {
  ExpectError(
      Load(MakeFile(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                    R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                    kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "data buffer bytes [2, 4) are not covered by any tensor (holes are not "
      "allowed)");
  ExpectError(
      Load(MakeFile(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                    kEightBytes)),
      absl::StatusCode::kInvalidArgument,
      "data buffer bytes [4, 8) at its end are not covered by any tensor");
  ExpectError(Load(MakeFile("{}", "x")), absl::StatusCode::kInvalidArgument,
              "holes are not allowed");
}

TEST(SafetensorsValidationTest, DuplicateKeysAreRejected) {
  ExpectError(
      Load(MakeFile(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                    R"("a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})",
                    kEightBytes)),
      absl::StatusCode::kInvalidArgument, "duplicate key \"a\"");
  ExpectError(Load(OneTensor(R"({"dtype":"U8","dtype":"I8","shape":[8],)"
                             R"("data_offsets":[0,8]})",
                             kEightBytes)),
              absl::StatusCode::kInvalidArgument, "duplicate key \"dtype\"");
}

TEST(SafetensorsValidationTest, DeepNestingIsRejected) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  ExpectError(Load(MakeFile(deep, "")), absl::StatusCode::kInvalidArgument,
              "nests deeper than");
  // Brackets inside strings do not count.
  auto file = SafetensorsFile::FromBuffer(
      MakeFile(absl::StrCat(R"({"__metadata__":{"k":")", std::string(100, '['),
                            R"(\"{"}})"),
               ""),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
}

TEST(SafetensorsValidationTest, GetUnknownTensorNamesTensorAndFile) {
  auto file = SafetensorsFile::FromBuffer(MakeFile("{}", ""), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE((*file)->Contains("missing"));
  ExpectError((*file)->Get("missing").status(), absl::StatusCode::kNotFound,
              "tensor \"missing\" not found in safetensors file");
}

TEST(SafetensorsValidationTest, OpenReportsMissingFileAndDirectory) {
  auto missing = SafetensorsFile::Open("/nonexistent/x.safetensors");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("/nonexistent/x.safetensors"));
  auto dir = SafetensorsFile::Open("/");
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dir.status().message(), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace ptune::safetensors

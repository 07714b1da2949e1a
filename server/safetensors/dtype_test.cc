#include "server/safetensors/dtype.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::safetensors {
namespace {

using ::testing::HasSubstr;

TEST(DTypeTest, NamesAndSizesRoundTrip) {
  const struct {
    DType dtype;
    const char* name;
    size_t size;
  } kCases[] = {
      {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},
      {DType::kI8, "I8", 1},     {DType::kI16, "I16", 2},
      {DType::kI32, "I32", 4},   {DType::kI64, "I64", 8},
      {DType::kF16, "F16", 2},   {DType::kBF16, "BF16", 2},
      {DType::kF32, "F32", 4},   {DType::kF64, "F64", 8},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(DTypeName(c.dtype), c.name);
    EXPECT_EQ(DTypeSize(c.dtype), c.size) << c.name;
    absl::StatusOr<DType> parsed = ParseDType(c.name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, c.dtype);
  }
}

TEST(DTypeTest, UnsupportedReferenceTypeIsRejectedClearly) {
  for (const char* name : {"F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64"}) {
    absl::StatusOr<DType> parsed = ParseDType(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("unsupported dtype"));
    EXPECT_THAT(parsed.status().message(), HasSubstr(name));
  }
}

TEST(DTypeTest, UnknownNameIsRejected) {
  for (const char* name : {"", "f32", "FLOAT", "F32 "}) {
    absl::StatusOr<DType> parsed = ParseDType(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("unknown dtype"));
  }
}

}  // namespace
}  // namespace ptune::safetensors

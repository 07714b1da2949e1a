// Mutates a valid file (truncation, single-byte changes in the header, random
// multi-byte changes) and checks that FromBuffer either fails cleanly or
// returns a file whose every tensor lies inside the buffer. Meant to run
// under ASan/UBSan as well; stays well under a second.
#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "server/safetensors/safetensors.h"

namespace ptune::safetensors {
namespace {

std::string ValidFile() {
  SafetensorsWriter writer;
  std::string bytes(64, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  EXPECT_TRUE(
      writer.Add("weight", DType::kF32, {2, 4}, bytes.substr(0, 32)).ok());
  EXPECT_TRUE(writer.Add("ids", DType::kI64, {2}, bytes.substr(0, 16)).ok());
  EXPECT_TRUE(writer.Add("half", DType::kF16, {3}, bytes.substr(0, 6)).ok());
  EXPECT_TRUE(writer.Add("flag", DType::kBool, {}, bytes.substr(0, 1)).ok());
  EXPECT_TRUE(writer.Add("empty", DType::kI32, {0, 5}, "").ok());
  writer.SetMetadata("format", "pt");
  return writer.Serialize();
}

uint64_t HeaderSize(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return n;
}

// Loads `bytes`; if that succeeds every view must lie inside them. Returns
// whether it succeeded.
bool CheckLoad(std::string bytes) {
  // Strings longer than the small-string buffer keep their heap storage when
  // moved, so `base` is also where the file's copy lives.
  const size_t size = bytes.size();
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::FromBuffer(std::move(bytes), "fuzz");
  if (!file.ok()) {
    EXPECT_FALSE(file.status().message().empty());
    return false;
  }
  for (const std::string& name : (*file)->names()) {
    absl::StatusOr<TensorView> view = (*file)->Get(name);
    EXPECT_TRUE(view.ok()) << view.status();
    if (!view.ok()) continue;
    EXPECT_GE(view->numel(), 0);
    EXPECT_EQ(view->nbytes,
              static_cast<uint64_t>(view->numel()) * DTypeSize(view->dtype));
    if (size > 32) {
      EXPECT_GE(view->data, base + 8);
      EXPECT_LE(view->data + view->nbytes, base + size);
    }
  }
  return true;
}

TEST(SafetensorsFuzzTest, EveryTruncationFailsCleanly) {
  const std::string valid = ValidFile();
  ASSERT_TRUE(SafetensorsFile::FromBuffer(valid, "fuzz").ok());
  for (size_t len = 0; len < valid.size(); ++len) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::FromBuffer(valid.substr(0, len), "fuzz");
    // The tensors cover the whole buffer, so no prefix is a valid file.
    ASSERT_FALSE(file.ok()) << "length " << len;
    const absl::StatusCode code = file.status().code();
    EXPECT_TRUE(code == absl::StatusCode::kDataLoss ||
                code == absl::StatusCode::kInvalidArgument)
        << file.status();
  }
}

TEST(SafetensorsFuzzTest, HeaderByteChangesNeverEscapeTheBuffer) {
  const std::string valid = ValidFile();
  const size_t header_end = 8 + HeaderSize(valid);
  int still_valid = 0;
  for (size_t pos = 0; pos < header_end; ++pos) {
    const char original = valid[pos];
    for (char value : {'\0', '\xFF', '"', '{', '[', '9', '-', ',',
                       static_cast<char>(original ^ 0x01),
                       static_cast<char>(original + 1)}) {
      if (value == original) continue;
      std::string mutated = valid;
      mutated[pos] = value;
      still_valid += CheckLoad(std::move(mutated));
      if (::testing::Test::HasFailure()) {
        FAIL() << "byte " << pos << " set to " << static_cast<int>(value);
      }
    }
  }
  // Changes inside names and metadata values keep the file valid; make sure
  // the view checks above ran on some.
  EXPECT_GT(still_valid, 50);
}

TEST(SafetensorsFuzzTest, RandomMutationsNeverEscapeTheBuffer) {
  const std::string valid = ValidFile();
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> pos(0, valid.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> count(1, 6);
  for (int iteration = 0; iteration < 5000; ++iteration) {
    std::string mutated = valid;
    for (int k = count(rng); k > 0; --k) {
      mutated[pos(rng)] = static_cast<char>(byte(rng));
    }
    CheckLoad(std::move(mutated));
    if (::testing::Test::HasFailure()) {
      FAIL() << "iteration " << iteration;
    }
  }
}

}  // namespace
}  // namespace ptune::safetensors

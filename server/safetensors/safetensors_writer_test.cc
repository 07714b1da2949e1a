#include "server/safetensors/safetensors_writer.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/safetensors/safetensors.h"

namespace ptune::safetensors {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// `n` distinct bytes starting at `seed`.
std::string Bytes(size_t n, int seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(seed + 7 * i);
  return out;
}

struct Spec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::vector<Spec> AllKinds() {
  std::vector<Spec> specs = {
      {"bool", DType::kBool, {3}, std::string("\x01\x00\x01", 3)},
      {"u8", DType::kU8, {2, 2}, Bytes(4, 1)},
      {"i8", DType::kI8, {5}, Bytes(5, 2)},
      {"i16", DType::kI16, {3}, Bytes(6, 3)},
      {"i32", DType::kI32, {2, 1}, Bytes(8, 4)},
      {"i64", DType::kI64, {1, 1, 2}, Bytes(16, 5)},
      {"f16", DType::kF16, {3}, Bytes(6, 6)},
      {"bf16", DType::kBF16, {1}, Bytes(2, 7)},
      {"f32", DType::kF32, {2, 3}, Bytes(24, 8)},
      {"f64", DType::kF64, {2}, Bytes(16, 9)},
      {"scalar", DType::kF32, {}, Bytes(4, 10)},
      {"zero_rows", DType::kF32, {0, 3}, ""},
      {"zero_cols", DType::kI8, {2, 0}, ""},
      {"n\xC3\xA4me with \"quote\"", DType::kU8, {1}, "x"},
  };
  return specs;
}

SafetensorsWriter WriterFor(const std::vector<Spec>& specs) {
  SafetensorsWriter writer;
  for (const Spec& s : specs) {
    EXPECT_TRUE(writer.Add(s.name, s.dtype, s.shape, s.bytes).ok()) << s.name;
  }
  return writer;
}

TEST(SafetensorsWriterTest, RoundTripsAllDTypesScalarsAndZeroSize) {
  const std::vector<Spec> specs = AllKinds();
  SafetensorsWriter writer = WriterFor(specs);
  writer.SetMetadata("format", "pt");
  writer.SetMetadata("note", "multi\nline \"quoted\" \xE2\x9C\x93");
  const std::string bytes = writer.Serialize();

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::FromBuffer(bytes, "roundtrip");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT((*file)->metadata(),
              ElementsAre(Pair("format", "pt"),
                          Pair("note", "multi\nline \"quoted\" \xE2\x9C\x93")));
  ASSERT_EQ((*file)->names().size(), specs.size());
  for (const Spec& s : specs) {
    SCOPED_TRACE(s.name);
    ASSERT_TRUE((*file)->Contains(s.name));
    absl::StatusOr<TensorView> view = (*file)->Get(s.name);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(view->dtype, s.dtype);
    EXPECT_EQ(view->shape, s.shape);
    ASSERT_EQ(view->nbytes, s.bytes.size());
    EXPECT_EQ(
        std::string(reinterpret_cast<const char*>(view->data), view->nbytes),
        s.bytes);
  }
  EXPECT_EQ((*file)->Get("scalar")->numel(), 1);
  EXPECT_EQ((*file)->Get("zero_rows")->numel(), 0);
  EXPECT_EQ((*file)->Get("f32")->numel(), 6);
}

TEST(SafetensorsWriterTest, NamesAreSorted) {
  const std::vector<Spec> specs = AllKinds();
  auto file = SafetensorsFile::FromBuffer(WriterFor(specs).Serialize(), "x");
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<std::string> names = (*file)->names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(SafetensorsWriterTest, LayoutIsAlignedAndInReferenceOrder) {
  const std::string bytes = WriterFor(AllKinds()).Serialize();
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);  // Little-endian host.
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  // Decreasing alignment: the I64 tensor first, BOOL last; within F32, names
  // in order ("f32" < "scalar" < "zero_rows").
  const std::string header = bytes.substr(8, header_size);
  // Padded with spaces after the closing brace.
  const size_t close = header.find_last_of('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
  EXPECT_LT(header.size() - close - 1, 8u);
  EXPECT_EQ(header.rfind("{\"i64\":{\"dtype\":\"I64\",\"shape\":[1,1,2],"
                         "\"data_offsets\":[0,16]},\"f64\":",
                         0),
            0u)
      << header;
  EXPECT_LT(header.find("\"f32\""), header.find("\"scalar\""));
  EXPECT_LT(header.find("\"scalar\""), header.find("\"zero_rows\""));
  EXPECT_LT(header.find("\"zero_rows\""), header.find("\"i32\""));
  EXPECT_LT(header.find("\"bf16\""), header.find("\"f16\""));
  EXPECT_LT(header.find("\"u8\""), header.find("\"bool\""));

  auto file = SafetensorsFile::FromBuffer(bytes, "x");
  ASSERT_TRUE(file.ok()) << file.status();
  const uint8_t* first = (*file)->Get("i64")->data;
  for (const std::string& name : (*file)->names()) {
    TensorView view = *(*file)->Get(name);
    EXPECT_EQ((view.data - first) % DTypeSize(view.dtype), 0) << name;
  }
}

TEST(SafetensorsWriterTest, SerializeIsDeterministic) {
  std::vector<Spec> specs = AllKinds();
  SafetensorsWriter a = WriterFor(specs);
  a.SetMetadata("b", "2");
  a.SetMetadata("a", "1");
  std::reverse(specs.begin(), specs.end());
  SafetensorsWriter b = WriterFor(specs);
  b.SetMetadata("a", "1");
  b.SetMetadata("b", "2");
  EXPECT_EQ(a.Serialize(), a.Serialize());
  EXPECT_EQ(a.Serialize(), b.Serialize());
}

// Bytes from the reference implementation's own test (test_serialization in
// safetensors/src/tensor.rs).
TEST(SafetensorsWriterTest, MatchesReferenceImplementationBytes) {
  std::string data;
  for (float f : {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f}) {
    data.append(reinterpret_cast<const char*>(&f), sizeof(f));
  }
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("attn.0", DType::kF32, {1, 2, 3}, data).ok());
  const std::string header =
      "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,"
      "24]}}";
  EXPECT_EQ(header.size(), 64u);
  EXPECT_EQ(writer.Serialize(),
            std::string("\x40\0\0\0\0\0\0\0", 8) + header + data);

  SafetensorsWriter empty;
  EXPECT_EQ(empty.Serialize(), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  empty.SetMetadata("framework", "pt");
  EXPECT_EQ(empty.Serialize(),
            std::string("\x28\0\0\0\0\0\0\0", 8) +
                "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
}

TEST(SafetensorsWriterTest, AddRejectsWrongByteCount) {
  SafetensorsWriter writer;
  absl::Status status = writer.Add("t", DType::kF32, {2, 3}, Bytes(23, 0));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("got 23 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("needs 24"));
}

TEST(SafetensorsWriterTest, AddRejectsDuplicateName) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("t", DType::kU8, {1}, "a").ok());
  absl::Status status = writer.Add("t", DType::kU8, {1}, "b");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("duplicate tensor name \"t\""));
}

TEST(SafetensorsWriterTest, AddRejectsReservedName) {
  SafetensorsWriter writer;
  absl::Status status = writer.Add("__metadata__", DType::kU8, {1}, "a");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("reserved"));
}

TEST(SafetensorsWriterTest, AddRejectsBadShapesAndNames) {
  SafetensorsWriter writer;
  absl::Status status = writer.Add("neg", DType::kU8, {-1}, "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("negative dimension"));

  status =
      writer.Add("big", DType::kF32, {int64_t{1} << 40, int64_t{1} << 30}, "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("overflow"));

  status = writer.Add("bad\xFF", DType::kU8, {1}, "a");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not valid UTF-8"));
}

TEST(SafetensorsWriterTest, InvalidUtf8MetadataIsReplaced) {
  SafetensorsWriter writer;
  writer.SetMetadata("k\xFF", "v\xC0\x80");
  auto file = SafetensorsFile::FromBuffer(writer.Serialize(), "x");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT((*file)->metadata(),
              ElementsAre(Pair("k\xEF\xBF\xBD", "v\xEF\xBF\xBD\xEF\xBF\xBD")));
}

class WriteFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string base = tmp != nullptr ? tmp : ::testing::TempDir();
    dir_ = std::filesystem::path(base) /
           ("safetensors_writer_test." + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(WriteFileTest, WritesAtomicallyAndLeavesNoTemporary) {
  SafetensorsWriter writer = WriterFor(AllKinds());
  writer.SetMetadata("format", "pt");
  const std::string path = (dir_ / "model.safetensors").string();
  // Replaces an existing file.
  std::ofstream(path) << "old contents";
  ASSERT_TRUE(writer.WriteFile(path).ok());

  EXPECT_EQ(ReadAll(path), writer.Serialize());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(entries, ElementsAre("model.safetensors"));

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->source_name(), path);
  EXPECT_EQ((*file)->names().size(), AllKinds().size());
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
}

TEST_F(WriteFileTest, FailsCleanlyWhenDirectoryIsMissing) {
  SafetensorsWriter writer = WriterFor(AllKinds());
  const std::string path = (dir_ / "missing" / "model.safetensors").string();
  absl::Status status = writer.WriteFile(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("model.safetensors.tmp"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(WriteFileTest, FailedRenameRemovesTemporary) {
  SafetensorsWriter writer = WriterFor(AllKinds());
  // A non-empty directory cannot be replaced by rename(2).
  const std::filesystem::path target = dir_ / "occupied";
  std::filesystem::create_directories(target / "child");
  absl::Status status = writer.WriteFile(target.string());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot rename"));
  EXPECT_FALSE(std::filesystem::exists(target.string() + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(target / "child"));
}

}  // namespace
}  // namespace ptune::safetensors

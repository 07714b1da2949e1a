// Cross-checks against the Python reference implementation (fixture written
// by tests/tools/gen_safetensors_fixture.py) and reads the real backbone.
// The reference file's bytes are base64 inside reference.json ("file_base64"):
// the repository tracks no binary files.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/safetensors/safetensors.h"
#include "tests/testing/test_paths.h"


namespace ptune::safetensors {
namespace {

using ::nlohmann::json;

std::string FixturePath(const std::string& name) {
  return ptune::testing::SourceDir() + "/tests/fixtures/safetensors/" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
T Load(const uint8_t* data, int64_t i) {
  T value;
  std::memcpy(&value, data + i * sizeof(T), sizeof(T));  // Little-endian host.
  return value;
}

double HalfToDouble(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

double BFloat16ToDouble(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Element `i` of `view` as JSON (bool, integer or double).
json Element(const TensorView& view, int64_t i) {
  switch (view.dtype) {
    case DType::kBool:
      return view.data[i] != 0;
    case DType::kU8:
      return view.data[i];
    case DType::kI8:
      return Load<int8_t>(view.data, i);
    case DType::kI16:
      return Load<int16_t>(view.data, i);
    case DType::kI32:
      return Load<int32_t>(view.data, i);
    case DType::kI64:
      return Load<int64_t>(view.data, i);
    case DType::kF16:
      return HalfToDouble(Load<uint16_t>(view.data, i));
    case DType::kBF16:
      return BFloat16ToDouble(Load<uint16_t>(view.data, i));
    case DType::kF32:
      return static_cast<double>(Load<float>(view.data, i));
    case DType::kF64:
      return Load<double>(view.data, i);
  }
  return nullptr;
}

class ReferenceFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string json_path = FixturePath("reference.json");
    description_ = json::parse(ReadAll(json_path), nullptr,
                               /*allow_exceptions=*/false);
    ASSERT_FALSE(description_.is_discarded())
        << "cannot read " << json_path
        << " (run tests/tools/gen_safetensors_fixture.py)";
    ASSERT_TRUE(description_.contains("file_base64") &&
                description_["file_base64"].is_string())
        << json_path << " has no \"file_base64\" (regenerate it with "
        << "tests/tools/gen_safetensors_fixture.py)";
    ASSERT_TRUE(absl::Base64Unescape(
        description_["file_base64"].get<std::string>(), &reference_bytes_))
        << json_path << ": \"file_base64\" is not valid base64";
    if (description_.contains("file_size")) {
      ASSERT_EQ(reference_bytes_.size(),
                description_["file_size"].get<size_t>());
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::FromBuffer(reference_bytes_,
                                    json_path + " (file_base64)");
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
  }

  json description_;
  std::string reference_bytes_;  // The file the reference wrote.
  std::unique_ptr<SafetensorsFile> file_;
};

TEST_F(ReferenceFixtureTest, ReadsWhatTheReferenceWrote) {
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : description_["metadata"].items()) {
    metadata[key] = value.get<std::string>();
  }
  EXPECT_EQ(file_->metadata(), metadata);

  std::vector<std::string> names;
  for (const json& tensor : description_["tensors"]) {
    const std::string name = tensor["name"].get<std::string>();
    names.push_back(name);
    SCOPED_TRACE(name);
    absl::StatusOr<TensorView> view = file_->Get(name);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(DTypeName(view->dtype), tensor["dtype"].get<std::string>());
    EXPECT_EQ(view->shape, tensor["shape"].get<std::vector<int64_t>>());
    const json& values = tensor["values"];
    ASSERT_EQ(view->numel(), static_cast<int64_t>(values.size()));
    ASSERT_EQ(view->nbytes, values.size() * DTypeSize(view->dtype));
    for (int64_t i = 0; i < view->numel(); ++i) {
      const json actual = Element(*view, i);
      if (actual.is_number_float()) {
        EXPECT_EQ(actual.get<double>(), values[i].get<double>()) << "at " << i;
      } else {
        EXPECT_EQ(actual, values[i]) << "at " << i;
      }
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(file_->names(), names);
}

// The reference lays tensors out by decreasing dtype alignment, then name,
// and writes a compact header with "__metadata__" first; SafetensorsWriter
// does the same, so its output is byte-identical. (The fixture has a single
// metadata key: the reference orders several keys by hash, randomly.)
TEST_F(ReferenceFixtureTest, WriterReproducesTheReferenceBytes) {
  SafetensorsWriter writer;
  for (const std::string& name : file_->names()) {
    TensorView view = *file_->Get(name);
    ASSERT_TRUE(
        writer
            .Add(name, view.dtype, view.shape,
                 absl::string_view(reinterpret_cast<const char*>(view.data),
                                   view.nbytes))
            .ok());
  }
  for (const auto& [key, value] : file_->metadata()) {
    writer.SetMetadata(key, value);
  }
  const std::string& expected = reference_bytes_;
  const std::string actual = writer.Serialize();
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(actual == expected)
      << "header written:  " << actual.substr(8, 1000) << "\n"
      << "header expected: " << expected.substr(8, 1000);
}

// The default backbone's weights file, or "" when it is not installed.
std::string BackboneModelPath() {
  const std::string dir = ptune::testing::BackboneDir();
  if (dir.empty()) return "";
  for (const char* relative :
       {"model.safetensors", "model/model.safetensors"}) {
    const std::filesystem::path path = std::filesystem::path(dir) / relative;
    if (std::filesystem::is_regular_file(path)) return path.string();
  }
  return "";
}

TEST(BackboneTest, OpensTheRealBackbone) {
  const std::string path = BackboneModelPath();
  if (path.empty()) {
    GTEST_SKIP() << "no backbone model.safetensors: set PTUNE_BACKBONE_DIR or "
                    "configure with -DPTUNE_TEST_BACKBONE_DIR=<folder with "
                    "model.safetensors>";
  }
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->names().size(), 104u);  // all-MiniLM-L6-v2 (BertModel).
  absl::StatusOr<TensorView> word =
      (*file)->Get("embeddings.word_embeddings.weight");
  ASSERT_TRUE(word.ok()) << word.status();
  EXPECT_EQ(word->dtype, DType::kF32);
  EXPECT_EQ(word->shape, (std::vector<int64_t>{30522, 384}));
  EXPECT_EQ(word->nbytes, size_t{30522} * 384 * 4);

  absl::StatusOr<TensorView> ids = (*file)->Get("embeddings.position_ids");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->dtype, DType::kI64);
  ASSERT_EQ(ids->shape, (std::vector<int64_t>{1, 512}));
  for (int64_t i = 0; i < 512; ++i) {
    ASSERT_EQ(Load<int64_t>(ids->data, i), i);
  }
  EXPECT_TRUE((*file)->Contains("encoder.layer.5.output.LayerNorm.weight"));
}

}  // namespace
}  // namespace ptune::safetensors

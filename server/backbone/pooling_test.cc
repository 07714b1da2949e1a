#include "server/backbone/pooling.h"

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace ptune::backbone {
namespace {

namespace fs = std::filesystem;

class PipelineDir {
 public:
  PipelineDir() {
    dir_ = fs::temp_directory_path() /
           ("ptune_pooling_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter_++));
    fs::create_directories(dir_ / "1_Pooling");
  }
  ~PipelineDir() { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
  static inline int counter_ = 0;
};

TEST(PoolingTest, MeanIgnoresPadding) {
  const at::Tensor states = torch::tensor({1.0f, 2.0f, 3.0f, 100.0f}).view({1, 4, 1});
  const at::Tensor mask = torch::tensor({1, 1, 1, 0}).view({1, 4});
  EXPECT_FLOAT_EQ(Pool(states, mask, PoolingMode::kMean).item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(Pool(states, mask, PoolingMode::kMax).item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(Pool(states, mask, PoolingMode::kCls).item<float>(), 1.0f);
  EXPECT_NEAR(Pool(states, mask, PoolingMode::kMeanSqrtLen).item<float>(),
              6.0f / std::sqrt(3.0f), 1e-6);
}

TEST(PoolingTest, FolderWithoutModulesUsesMeanWithoutNormalize) {
  PipelineDir dir;
  auto pipeline = LoadSentencePipeline(dir.path());
  ASSERT_TRUE(pipeline.ok());
  EXPECT_FALSE(pipeline->from_folder);
  EXPECT_EQ(pipeline->pooling, PoolingMode::kMean);
  EXPECT_FALSE(pipeline->normalize);
}

TEST(PoolingTest, ReadsSentenceTransformersFolder) {
  PipelineDir dir;
  dir.Write("modules.json", R"([
    {"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
    {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
    {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}])");
  dir.Write("sentence_bert_config.json", R"({"max_seq_length":128,"do_lower_case":true})");
  dir.Write("1_Pooling/config.json",
            R"({"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false})");
  auto pipeline = LoadSentencePipeline(dir.path());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->pooling, PoolingMode::kCls);
  EXPECT_TRUE(pipeline->normalize);
  EXPECT_EQ(pipeline->max_seq_length, 128);
  EXPECT_TRUE(pipeline->lowercase);
}

TEST(PoolingTest, RejectsAmbiguousOrUnknownPipelines) {
  PipelineDir dir;
  dir.Write("modules.json", R"([
    {"path":"1_Pooling","type":"sentence_transformers.models.Pooling"}])");
  dir.Write("1_Pooling/config.json",
            R"({"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":true})");
  EXPECT_EQ(LoadSentencePipeline(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
  dir.Write("modules.json", R"([{"type":"sentence_transformers.models.Dense"}])");
  EXPECT_EQ(LoadSentencePipeline(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
  dir.Write("modules.json", R"([42])");
  EXPECT_EQ(LoadSentencePipeline(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
  dir.Write("modules.json", "{broken");
  EXPECT_EQ(LoadSentencePipeline(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::backbone

// The CUDA code paths on a GPU: a mixed batch (shallow prompts of different
// lengths and placements, a deep prompt, classify and tag rows) runs its
// forward and heads without one host synchronization, and its rows match the
// CPU's; whole training steps (slices, backward, optimizer update, loss
// read) and whole Engine::Classify / TagEntities calls do not synchronize
// either; bfloat16 and float16 answer as float32; the engine serves on the
// GPU; device memory figures come back. Every test skips without a GPU.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/backbone/backbone.h"
#include "server/device/device_runtime.h"
#include "server/engine/engine.h"
#include "server/engine/test_loader.h"
#include "server/engine/test_parity.h"
#include "server/prompts/mixed_batch.h"
#include "server/training/task_batch.h"
#include "server/training/training_job.h"
#include "tests/testing/test_paths.h"

namespace ptune {
namespace {

using backbone::Backbone;
using prompts::PromptModel;
using prompts::PromptSpec;

PromptSpec Spec(prompts::PromptKind kind, int length,
                prompts::Placement placement = prompts::Placement::kPrefix) {
  PromptSpec spec;
  spec.kind = kind;
  spec.length = length;
  spec.placement = placement;
  spec.init = prompts::PromptInit::kRandom;
  return spec;
}

class CudaServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    const std::string dir = ptune::testing::BackboneDir();
    if (dir.empty()) GTEST_SKIP() << "default backbone not installed";
    auto gpu = Backbone::Create({.dir = dir, .device = "cuda"});
    auto cpu = Backbone::Create({.dir = dir, .device = "cpu"});
    ASSERT_TRUE(gpu.ok() && cpu.ok());
    gpu_ = std::move(*gpu);
    cpu_ = std::move(*cpu);
    const std::vector<std::pair<datasets::Task, PromptSpec>> recipes = {
        {datasets::Task::kClassify, Spec(prompts::PromptKind::kShallow, 4)},
        {datasets::Task::kClassify,
         Spec(prompts::PromptKind::kShallow, 12, prompts::Placement::kInfix)},
        {datasets::Task::kClassify, Spec(prompts::PromptKind::kDeep, 8)},
        {datasets::Task::kTag, Spec(prompts::PromptKind::kDeep, 5)},
    };
    for (size_t i = 0; i < recipes.size(); ++i) {
      const auto& [task, spec] = recipes[i];
      std::vector<std::string> labels =
          task == datasets::Task::kTag
              ? std::vector<std::string>{"O", "B-PER", "I-PER"}
              : std::vector<std::string>{"neg", "pos"};
      auto cpu_model = PromptModel::Create(*cpu_, task, labels, spec, 10 + i);
      ASSERT_TRUE(cpu_model.ok()) << cpu_model.status();
      // The same values on the GPU: through the artifact, as the store does.
      auto artifact = (*cpu_model)->Serialize(nlohmann::json::object());
      ASSERT_TRUE(artifact.ok()) << artifact.status();
      auto gpu_model = PromptModel::Deserialize(*gpu_, *std::move(artifact), "test");
      ASSERT_TRUE(gpu_model.ok()) << gpu_model.status();
      cpu_models_.push_back(std::move(*cpu_model));
      gpu_models_.push_back(std::move(*gpu_model));
    }
  }

  // Rows of every model over a few texts of different lengths.
  static std::vector<prompts::MixedRow> Rows(
      const Backbone& backbone, const std::vector<std::unique_ptr<PromptModel>>& models) {
    const std::vector<std::string> texts = {
        "a short one", "Alice flew to Paris with Bob on a rainy Tuesday morning",
        "the film was wonderful"};
    std::vector<prompts::MixedRow> rows;
    for (const auto& model : models) {
      auto made = prompts::MakeMixedRows(backbone, *model, texts, 64);
      EXPECT_TRUE(made.ok()) << made.status();
      for (auto& row : *made) rows.push_back(std::move(row));
    }
    return rows;
  }

  std::unique_ptr<Backbone> gpu_, cpu_;
  std::vector<std::unique_ptr<PromptModel>> cpu_models_, gpu_models_;
};

TEST_F(CudaServingTest, MixedBatchRunsWithoutHostSyncAndMatchesCpu) {
  c10::InferenceMode inference;
  at::Tensor on_device;
  std::vector<int64_t> sizes;
  {
    device::ForbidDeviceSyncs forbid;  // any synchronization throws
    auto batch = prompts::MakeMixedBatch(*gpu_, Rows(*gpu_, gpu_models_), false);
    ASSERT_TRUE(batch.ok()) << batch.status();
    auto logits = prompts::MixedLogits(*gpu_, *batch, false);
    ASSERT_TRUE(logits.ok()) << logits.status();
    std::vector<at::Tensor> flat;
    for (const at::Tensor& l : *logits) {
      sizes.push_back(l.numel());
      flat.push_back(l.reshape({-1}).to(at::kFloat));
    }
    on_device = at::cat(flat);
  }
  const at::Tensor gpu = on_device.to(at::kCPU);  // the batch's one sync
  auto batch = prompts::MakeMixedBatch(*cpu_, Rows(*cpu_, cpu_models_), false);
  ASSERT_TRUE(batch.ok()) << batch.status();
  auto logits = prompts::MixedLogits(*cpu_, *batch, false);
  ASSERT_TRUE(logits.ok()) << logits.status();
  std::vector<at::Tensor> flat;
  for (const at::Tensor& l : *logits) flat.push_back(l.reshape({-1}));
  const at::Tensor cpu = at::cat(flat);
  ASSERT_EQ(cpu.sizes(), gpu.sizes());
  EXPECT_LT((cpu - gpu).abs().max().item<double>(), 2e-3);
}

TEST_F(CudaServingTest, TrainingSliceForwardBackwardWithoutHostSync) {
  datasets::Dataset data;
  data.task = datasets::Task::kClassify;
  data.labels = {"neg", "pos"};
  for (int i = 0; i < 16; ++i) {
    data.classification.push_back({i % 2 ? "a wonderful film" : "a dull film",
                                   i % 2 ? "pos" : "neg"});
  }
  auto model = PromptModel::Create(*gpu_, data.task, data.labels,
                                   Spec(prompts::PromptKind::kDeep, 8), 3);
  ASSERT_TRUE(model.ok()) << model.status();
  training::TrainOptions options;
  options.batch_size = 8;
  options.epochs = 1;
  auto job = training::TrainingJob::Create(*gpu_, **model, data, data, options);
  ASSERT_TRUE(job.ok()) << job.status();
  // Two whole steps of two slices each, optimizer updates included: the
  // batch is built from host data, the loss stays on the device, and each
  // step's loss is read behind an event at the next EndStep (not a stream
  // or device synchronize).
  device::ForbidDeviceSyncs forbid;
  for (int step = 0; step < 2; ++step) {
    for (int slice = 0; slice < 2; ++slice) {
      auto rows = (*job)->BeginSlice(4);
      ASSERT_TRUE(rows.ok()) << rows.status();
      auto batch = prompts::MakeMixedBatch(*gpu_, *std::move(rows), true);
      ASSERT_TRUE(batch.ok()) << batch.status();
      auto logits = prompts::MixedLogits(*gpu_, *batch, true);
      ASSERT_TRUE(logits.ok()) << logits.status();
      auto loss = (*job)->StepLoss(*logits);
      ASSERT_TRUE(loss.ok()) << loss.status();
      loss->backward();
      const absl::Status ended = (*job)->EndStep(0.01);
      ASSERT_TRUE(ended.ok()) << ended;
    }
  }
  EXPECT_EQ((*job)->step(), 2);
}

// The whole serving path through the engine (cache, batching, mixed
// forward, heads, results through pinned memory and an event, decoding)
// never synchronizes the device, while batches overlap.
TEST_F(CudaServingTest, EngineClassifyAndTagWithoutHostSync) {
  std::shared_ptr<const Backbone> backbone = std::move(gpu_);
  engine::testing::TestLoader loader(backbone.get());
  const engine::testing::ParityPrompts prompts = engine::testing::AddParityPrompts(loader);
  auto engine = engine::Engine::Create(engine::EngineOptions(), backbone, &loader);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (const auto* keys : {&prompts.classify, &prompts.tag}) {
    for (const engine::PromptKey& key : *keys) {
      absl::Notification loaded;
      (*engine)->LoadPrompt(key, [&](absl::Status s) {
        EXPECT_TRUE(s.ok()) << s;
        loaded.Notify();
      });
      loaded.WaitForNotification();
    }
  }
  device::ForbidDeviceSyncs forbid;  // process-wide: the executor thread too
  // Every call answered (nothing threw under the forbid), twice alike (the
  // batches may form differently: float rounding only).
  const engine::testing::ParityReport report = engine::testing::CompareAnswers(
      **engine, **engine, prompts, engine::testing::ParityTexts(), 1e-4);
  EXPECT_GT(report.compared_labels, 0);
  EXPECT_GE(report.same_entities, 0.9 * report.entities);
}

// bfloat16 and float16 serving on the GPU answer as float32 does, on every
// serving path (cls / mean / [MASK] pooling, shallow prefix / infix, deep,
// case embeddings, tagging), all in mixed batches; tolerances per
// probability: bf16 keeps 8 mantissa bits, fp16 11.
TEST_F(CudaServingTest, HalfPrecisionAnswersAsFloat32OnTheGpu) {
  std::shared_ptr<const Backbone> full = std::move(gpu_);
  engine::testing::TestLoader loader(full.get());
  const engine::testing::ParityPrompts prompts = engine::testing::AddParityPrompts(loader);
  auto full_engine = engine::Engine::Create(engine::EngineOptions(), full, &loader);
  ASSERT_TRUE(full_engine.ok()) << full_engine.status();
  for (const auto& [dtype, tolerance] :
       std::vector<std::pair<std::string, double>>{{"bfloat16", 0.03}, {"float16", 0.005}}) {
    SCOPED_TRACE(dtype);
    auto half = Backbone::Create(
        {.dir = ptune::testing::BackboneDir(), .device = "cuda", .dtype = dtype});
    ASSERT_TRUE(half.ok()) << half.status();
    std::shared_ptr<const Backbone> half_backbone = std::move(*half);
    auto half_engine = engine::Engine::Create(engine::EngineOptions(), half_backbone, &loader);
    ASSERT_TRUE(half_engine.ok()) << half_engine.status();
    const engine::testing::ParityReport report = engine::testing::CompareAnswers(
        **full_engine, **half_engine, prompts, engine::testing::ParityTexts(), tolerance);
    std::cout << dtype << " vs float32 on the GPU: worst probability difference "
              << report.worst << "; labels compared " << report.compared_labels
              << "; entities " << report.same_entities << " of " << report.entities << "\n";
    EXPECT_GT(report.compared_labels, 0);
    EXPECT_GE(report.same_entities, 0.9 * report.entities);
  }
}

TEST_F(CudaServingTest, EngineServesOnTheGpuAndReportsMemory) {
  std::shared_ptr<const Backbone> backbone = std::move(gpu_);
  engine::testing::TestLoader loader(backbone.get());
  loader.Add({"t", "p", 1}, {.spec = engine::testing::Shallow(6)});
  auto engine = engine::Engine::Create(engine::EngineOptions(), backbone, &loader);
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::Notification done;
  absl::StatusOr<engine::ClassifyResponse> response;
  engine::ClassifyRequest request;
  request.key = {"t", "p", 1};
  request.texts = {"good", "a long and winding review of a film"};
  (*engine)->Classify(std::move(request), [&](auto r) {
    response = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results.size(), 2u);
  const auto memory = device::QueryDeviceMemory(backbone->device());
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_GT(memory->allocated, 0);
  EXPECT_GE(memory->reserved, memory->allocated);
  EXPECT_GT(memory->total, memory->reserved);
}

}  // namespace
}  // namespace ptune

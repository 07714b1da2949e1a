#include "server/service/proto_convert.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::service {
namespace {

using ::testing::HasSubstr;

TEST(SpecFromProtoTest, EmptySpecTakesTheDocumentedDefaults) {
  absl::StatusOr<prompts::PromptSpec> spec = SpecFromProto(v1::PromptSpec());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, prompts::PromptKind::kDeep);
  EXPECT_EQ(spec->length, 16);
  EXPECT_EQ(spec->placement, prompts::Placement::kPrefix);
  EXPECT_EQ(spec->init, prompts::PromptInit::kRandom);
  EXPECT_EQ(spec->pooling, prompts::HeadPooling::kMean);
}

TEST(SpecFromProtoTest, RoundTripsThroughSpecToProto) {
  v1::PromptSpec in;
  in.set_kind(v1::PROMPT_KIND_SHALLOW);
  in.set_length(12);
  in.set_placement(v1::PLACEMENT_PREFIX_INFIX);
  in.set_infix_position(2);
  in.set_reparameterization(v1::REPARAMETERIZATION_MLP);
  in.set_mlp_hidden(64);
  in.set_init(v1::PROMPT_INIT_TEXT);
  in.set_init_text("classify the sentiment");
  in.set_l2(0.01);
  in.set_dropout(0.1);
  in.set_pooling(v1::POOLING_MEAN);
  in.set_case_embeddings(true);
  absl::StatusOr<prompts::PromptSpec> spec = SpecFromProto(in);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::PromptSpec out = SpecToProto(*spec);
  EXPECT_EQ(out.SerializeAsString(), in.SerializeAsString())
      << out.DebugString() << " vs " << in.DebugString();
}

TEST(SpecFromProtoTest, BadFieldsAreNamed) {
  v1::PromptSpec spec;
  spec.set_length(129);
  EXPECT_THAT(SpecFromProto(spec).status().message(), HasSubstr("spec.length"));
  spec = v1::PromptSpec();
  spec.set_init(v1::PROMPT_INIT_TEXT);
  EXPECT_THAT(SpecFromProto(spec).status().message(), HasSubstr("spec.init_text"));
  spec = v1::PromptSpec();
  spec.set_dropout(1.0);
  EXPECT_THAT(SpecFromProto(spec).status().message(), HasSubstr("spec.dropout"));
  spec = v1::PromptSpec();
  spec.add_length_candidates(0);
  EXPECT_THAT(SpecFromProto(spec).status().message(), HasSubstr("spec.length_candidates"));
}

TEST(LengthCandidatesTest, FirstCandidateBecomesTheLength) {
  v1::PromptSpec spec;
  spec.add_length_candidates(8);
  spec.add_length_candidates(32);
  EXPECT_EQ(SpecFromProto(spec)->length, 8);
  EXPECT_THAT(*LengthCandidates(spec), ::testing::ElementsAre(8, 32));
}

TEST(OptionsFromProtoTest, ZeroMeansDefaultAndLimitsAreChecked) {
  absl::StatusOr<training::TrainOptions> options = OptionsFromProto(v1::TrainingOptions());
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->epochs, training::TrainOptions().epochs);
  EXPECT_DOUBLE_EQ(options->learning_rate, training::TrainOptions().learning_rate);
  v1::TrainingOptions bad;
  bad.set_epochs(51);
  EXPECT_THAT(OptionsFromProto(bad).status().message(), HasSubstr("options.epochs"));
}

TEST(ExamplesToJsonlTest, ParsesBackIntoTheSameExamples) {
  v1::ExampleSet set;
  v1::Example* tagged = set.add_examples();
  tagged->add_tokens("Zoë");
  tagged->add_tokens("flew");
  tagged->add_tags("B-PER");
  tagged->add_tags("O");
  absl::StatusOr<std::string> jsonl = ExamplesToJsonl(datasets::Task::kTag, set, "train_examples");
  ASSERT_TRUE(jsonl.ok());
  absl::StatusOr<datasets::Dataset> parsed =
      datasets::ParseDataset(*jsonl, "x", datasets::Task::kTag, datasets::Format::kJsonl);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->tagging.size(), 1u);
  EXPECT_EQ(parsed->tagging[0].text, "Zoë flew");
  EXPECT_EQ(parsed->tagging[0].tags, (std::vector<std::string>{"B-PER", "O"}));

  tagged->add_tokens("extra");
  EXPECT_THAT(ExamplesToJsonl(datasets::Task::kTag, set, "train_examples").status().message(),
              HasSubstr("train_examples.examples[0] has 3 tokens but 2 tags"));
}

TEST(MetricsJsonToMapTest, FlattensNestedNumbers) {
  google::protobuf::Map<std::string, double> map;
  MetricsJsonToMap(R"({"f1":0.5,"per_type":{"PER":{"f1":0.75}},"name":"x"})", &map);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_DOUBLE_EQ(map["f1"], 0.5);
  EXPECT_DOUBLE_EQ(map["per_type.PER.f1"], 0.75);
}

TEST(ProtoConvertTest, QuotasAndMaxTokensRefuseBadValues) {
  v1::Quotas quotas;
  quotas.set_requests_per_second(std::nan(""));
  EXPECT_EQ(QuotasFromProto(quotas, store::Quotas()).status().code(),
            absl::StatusCode::kInvalidArgument);
  quotas.set_requests_per_second(std::numeric_limits<double>::infinity());
  EXPECT_FALSE(QuotasFromProto(quotas, store::Quotas()).ok());
  quotas.set_requests_per_second(5);
  quotas.set_max_stored_bytes(-1);
  EXPECT_FALSE(QuotasFromProto(quotas, store::Quotas()).ok());
  quotas.set_max_stored_bytes(1000);
  const auto ok = QuotasFromProto(quotas, store::Quotas());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->max_stored_bytes, 1000);

  v1::TrainingOptions options;
  options.set_max_tokens(1);  // used to be clamped to 8 silently
  EXPECT_EQ(OptionsFromProto(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.set_max_tokens(64);
  EXPECT_EQ(OptionsFromProto(options)->max_tokens, 64);
}

}  // namespace
}  // namespace ptune::service

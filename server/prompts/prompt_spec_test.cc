#include "server/prompts/prompt_spec.h"

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

namespace ptune::prompts {
namespace {

backbone::BertConfig MiniLm() {
  backbone::BertConfig c;
  c.vocab_size = 30522;
  c.hidden_size = 384;
  c.num_hidden_layers = 6;
  c.num_attention_heads = 12;
  c.intermediate_size = 1536;
  return c;
}

TEST(PromptSpecTest, JsonRoundTrip) {
  PromptSpec spec;
  spec.kind = PromptKind::kShallow;
  spec.length = 7;
  spec.placement = Placement::kPrefixInfix;
  spec.reparam = Reparam::kMlp;
  spec.mlp_hidden = 64;
  spec.init = PromptInit::kText;
  spec.init_text = "classify the sentiment";
  spec.l2 = 0.01;
  spec.dropout = 0.1;
  spec.pooling = HeadPooling::kMean;
  auto back = PromptSpecFromJson(PromptSpecToJson(spec));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(PromptSpecToJson(*back), PromptSpecToJson(spec));
}

TEST(PromptSpecTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidatePromptSpec(PromptSpec{}, MiniLm()).ok());
}

TEST(PromptSpecTest, RejectsInvalidSpecsNamingTheField) {
  struct Case {
    PromptSpec spec;
    std::string message;
  };
  std::vector<Case> cases;
  PromptSpec s;
  s.length = 0;
  cases.push_back({s, "prompt length 0"});
  s = {};
  s.length = 300;
  cases.push_back({s, "prompt length 300"});
  s = {};
  s.placement = Placement::kInfix;  // deep
  cases.push_back({s, "placement must be prefix"});
  s = {};
  s.init = PromptInit::kVocab;  // deep
  cases.push_back({s, "shallow prompts"});
  s = {};
  s.kind = PromptKind::kShallow;
  s.init = PromptInit::kText;
  cases.push_back({s, "init_text"});
  s = {};
  s.dropout = 1.0;
  cases.push_back({s, "dropout"});
  s = {};
  s.l2 = -1;
  cases.push_back({s, "l2"});
  for (const Case& c : cases) {
    const absl::Status status = ValidatePromptSpec(c.spec, MiniLm());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status;
  }
}

TEST(PromptSpecTest, ParsersListTheChoices) {
  auto kind = ParsePromptKind("medium");
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("shallow, deep"), std::string::npos);
  EXPECT_EQ(*ParsePlacement("prefix_infix"), Placement::kPrefixInfix);
  EXPECT_FALSE(PromptSpecFromJson(nlohmann::json{{"length", "ten"}}).ok());
  EXPECT_FALSE(PromptSpecFromJson(nlohmann::json::array()).ok());
}

}  // namespace
}  // namespace ptune::prompts

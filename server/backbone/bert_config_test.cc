#include "server/backbone/bert_config.h"

#include "gtest/gtest.h"

namespace ptune::backbone {
namespace {

constexpr char kMiniLm[] = R"({"model_type":"bert","vocab_size":30522,
  "hidden_size":384,"num_hidden_layers":6,"num_attention_heads":12,
  "intermediate_size":1536,"hidden_act":"gelu","layer_norm_eps":1e-12,
  "max_position_embeddings":512,"type_vocab_size":2,"pad_token_id":0})";

TEST(BertConfigTest, ParsesMiniLm) {
  auto config = ParseBertConfig(kMiniLm, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hidden_size, 384);
  EXPECT_EQ(config->head_dim(), 32);
  EXPECT_EQ(config->hidden_act, Activation::kGelu);
}

TEST(BertConfigTest, RejectsBrokenConfigsWithClearMessages) {
  struct Case {
    std::string json;
    std::string message;
  };
  const Case cases[] = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"model_type":"gpt2"})", "model_type \"gpt2\""},
      {R"({"vocab_size":10})", "missing required field \"hidden_size\""},
      {R"({"vocab_size":10,"hidden_size":"x"})", "\"hidden_size\" must be an integer"},
      {R"({"vocab_size":10,"hidden_size":10,"num_hidden_layers":1,
           "num_attention_heads":3,"intermediate_size":4})",
       "not a multiple"},
      {R"({"vocab_size":10,"hidden_size":-4,"num_hidden_layers":1,
           "num_attention_heads":1,"intermediate_size":4})",
       "hidden_size=-4"},
      {R"({"vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
           "num_attention_heads":1,"intermediate_size":4,"hidden_act":"swish"})",
       "hidden_act \"swish\""},
      {R"({"vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
           "num_attention_heads":1,"intermediate_size":4,
           "position_embedding_type":"relative_key"})",
       "absolute"},
  };
  for (const Case& c : cases) {
    auto config = ParseBertConfig(c.json, "cfg.json");
    ASSERT_FALSE(config.ok()) << c.json;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status();
    EXPECT_NE(config.status().message().find("cfg.json"), std::string::npos);
  }
}

TEST(BertConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadBertConfig("/nonexistent").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ptune::backbone

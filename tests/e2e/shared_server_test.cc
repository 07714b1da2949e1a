// End-to-end tests on one shared server (the real ptune-server binary,
// driven by the real `ptune` CLI): tenant isolation on every object command,
// bad inputs and keys get their documented exit codes, /metrics scrapes and
// parses, export/import, cancel, and concurrent mixed-tenant calls give the
// answers of single calls.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_checks.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/prometheus_text.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Tests that share one server (started once per process, prompts trained on
// first use): the server runs with --max_texts=8.

class SharedServerTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete h_;
    h_ = nullptr;
    delete jobs_;
    jobs_ = nullptr;
  }

  void SetUp() override {
    if (ptune::testing::BackboneDir().empty()) {
      GTEST_SKIP() << "no backbone: set PTUNE_BACKBONE_DIR or configure with "
                      "-DPTUNE_TEST_BACKBONE_DIR";
    }
    if (h_ == nullptr) {
      absl::StatusOr<std::unique_ptr<Harness>> harness =
          Harness::Create(DefaultHarnessOptions({"--max_texts=8"}));
      ASSERT_TRUE(harness.ok()) << harness.status();
      const absl::Status started = (*harness)->StartServer();
      ASSERT_TRUE(started.ok()) << started;
      absl::StatusOr<Tenant> alice = (*harness)->CreateTenant("alice");
      ASSERT_TRUE(alice.ok()) << alice.status();
      absl::StatusOr<Tenant> bob = (*harness)->CreateTenant("bob");
      ASSERT_TRUE(bob.ok()) << bob.status();
      alice_ = *alice;
      bob_ = *bob;
      jobs_ = new std::map<std::string, std::string>();
      h_ = harness->release();
    }
    ASSERT_TRUE(h_->server().process().Running()) << h_->server().StderrTail();
  }

  // Trains those of alice's "sentiment" (classify), alice's "ner" (tag) and
  // bob's "mood" (classify, another length) that are not trained yet; the
  // jobs run side by side.
  static void EnsureTrained(const std::vector<std::string>& names) {
    std::vector<std::string> submitted;
    for (const std::string& name : names) {
      if (jobs_->count(name)) continue;
      const bool tag = name == "ner";
      const std::string& key = name == "mood" ? bob_.key : alice_.key;
      const json response = Parsed(h_->Cli(
          key, {"train", "--name", name, "--task", tag ? "tag" : "classify", "--train",
                Example(tag ? "ner.conll" : "sentiment.tsv"), "--epochs", "2",
                "--length", name == "mood" ? "4" : "8", "--json"}));
      const std::string id = response.value("job", json::object()).value("id", "");
      ASSERT_FALSE(id.empty()) << response.dump();
      (*jobs_)[name] = id;
      submitted.push_back(name);
    }
    for (const std::string& name : submitted) {
      const std::string& key = name == "mood" ? bob_.key : alice_.key;
      const CommandResult watched = h_->Cli(key, {"jobs", "watch", (*jobs_)[name]});
      ASSERT_EQ(watched.exit_code(), 0) << name << ": " << watched.DebugString();
    }
  }

  // `ptune <args>` as `key` must fail with `exit_code` and "<code>: ..." on
  // stderr.
  static void ExpectFailure(const std::string& key, const std::vector<std::string>& args,
                            int exit_code, const std::string& code,
                            const std::string& detail = "") {
    const CommandResult result = h_->Cli(key, args);
    std::string command = "ptune";
    for (const std::string& a : args) absl::StrAppend(&command, " ", a);
    EXPECT_EQ(result.exit_code(), exit_code) << command << "\n" << result.DebugString();
    EXPECT_THAT(result.err, HasSubstr(absl::StrCat("ptune: ", code, ": "))) << command;
    EXPECT_THAT(result.err, HasSubstr(detail)) << command;
  }

  static Harness* h_;
  static Tenant alice_;
  static Tenant bob_;
  static std::map<std::string, std::string>* jobs_;  // prompt name → job id
};

Harness* SharedServerTest::h_ = nullptr;
Tenant SharedServerTest::alice_;
Tenant SharedServerTest::bob_;
std::map<std::string, std::string>* SharedServerTest::jobs_ = nullptr;

TEST_F(SharedServerTest, AnotherTenantsObjectsAreNotFoundThroughEveryCommand) {
  EnsureTrained({"sentiment", "ner"});
  const std::string job = (*jobs_)["sentiment"];
  const json dataset = Parsed(h_->Cli(
      alice_.key, {"datasets", "upload", "--name", "reviews", "--task", "classify",
                   "--format", "tsv", Example("sentiment.tsv"), "--json"}));
  const std::string dataset_id = dataset.value("id", "");
  ASSERT_FALSE(dataset_id.empty()) << dataset.dump();
  const std::string export_dir = h_->dir() + "/bob-export";

  const std::vector<std::vector<std::string>> commands = {
      {"jobs", "get", job},
      {"jobs", "watch", job},
      {"jobs", "cancel", job},
      {"classify", "--prompt", "sentiment", "hello"},
      {"tag", "--prompt", "ner", "hello"},
      {"prompts", "get", "sentiment"},
      {"prompts", "export", "sentiment", "--out", export_dir},
      {"prompts", "delete", "sentiment"},
      {"train", "--name", "bobs", "--task", "classify", "--train_dataset", dataset_id},
      {"datasets", "delete", dataset_id},
      {"train", "--name", "bobs", "--task", "classify", "--train",
       Example("sentiment.tsv"), "--init_prompt", "sentiment"},
  };
  for (const auto& command : commands) {
    ExpectFailure(bob_.key, command, kExitNotFound, "NOT_FOUND");
  }
  EXPECT_TRUE(!std::filesystem::exists(export_dir) ||
              std::filesystem::is_empty(export_dir));

  // Lists show none of alice's objects; bob made no prompt and no job.
  const json bob_jobs = Parsed(h_->Cli(bob_.key, {"jobs", "list", "--json"}));
  for (const json& j : bob_jobs.value("jobs", json::array())) {
    EXPECT_NE(j.value("id", ""), job);
    EXPECT_NE(j.value("promptName", ""), "bobs");
  }
  const json bob_prompts = Parsed(h_->Cli(bob_.key, {"prompts", "list", "--json"}));
  for (const json& p : bob_prompts.value("prompts", json::array())) {
    EXPECT_NE(p.value("name", ""), "sentiment");
    EXPECT_NE(p.value("name", ""), "bobs");
  }

  // Alice's objects are untouched.
  EXPECT_EQ(Parsed(h_->Cli(alice_.key, {"jobs", "get", job, "--json"})).value("state", ""),
            "JOB_STATE_SUCCEEDED");
  EXPECT_EQ(Parsed(h_->Cli(alice_.key, {"prompts", "get", "sentiment", "--json"}))
                .value("state", ""),
            "PROMPT_STATE_READY");
  const CommandResult exported =
      h_->Cli(alice_.key, {"prompts", "export", "sentiment", "--out", h_->dir() + "/alice-export"});
  EXPECT_EQ(exported.exit_code(), 0) << exported.DebugString();
  EXPECT_TRUE(std::filesystem::exists(h_->dir() + "/alice-export/adapter_config.json"));
}

TEST_F(SharedServerTest, BadInputsGetInvalidArgument) {
  EnsureTrained({"sentiment", "ner"});
  const std::vector<Sample> before = ParsedMetrics(h_->server().metrics_port());
  const std::string tsv = Example("sentiment.tsv");
  const std::string two_rows = h_->dir() + "/two.tsv";
  std::ofstream(two_rows) << "text\tlabel\ngood\tpositive\nbad\tnegative\n";
  const std::vector<std::string> train = {"train", "--name", "t1", "--task", "classify"};
  auto with = [](std::vector<std::string> base, const std::vector<std::string>& more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  // Refused by the server (counted below).
  ExpectFailure(alice_.key, with(train, {"--train", tsv, "--length", "500"}),
                kExitInvalidArgument, "INVALID_ARGUMENT", "spec.length");
  ExpectFailure(alice_.key, with(train, {"--train", tsv, "--epochs", "1000"}),
                kExitInvalidArgument, "INVALID_ARGUMENT", "options.epochs");
  ExpectFailure(alice_.key, with(train, {"--train", tsv, "--labels", "positive,neutral"}),
                kExitInvalidArgument, "INVALID_ARGUMENT", "label \"negative\"");
  ExpectFailure(alice_.key, with(train, {"--train", two_rows}), kExitInvalidArgument,
                "INVALID_ARGUMENT", "at least 4");
  ExpectFailure(alice_.key, {"classify", "--prompt", "bad name!", "x"},
                kExitInvalidArgument, "INVALID_ARGUMENT", "prompt_name");
  ExpectFailure(alice_.key,
                {"classify", "--prompt", "sentiment", "1", "2", "3", "4", "5", "6", "7",
                 "8", "9"},
                kExitInvalidArgument, "INVALID_ARGUMENT", "limit is 8");
  ExpectFailure(alice_.key, {"classify", "--prompt", "ner", "x"}, kExitInvalidArgument,
                "INVALID_ARGUMENT", "tag prompt");
  ExpectFailure(alice_.key, {"tag", "--prompt", "sentiment", "x"}, kExitInvalidArgument,
                "INVALID_ARGUMENT", "classify prompt");
  // Refused by the CLI before any call: no texts, an unknown flag.
  ExpectFailure(alice_.key, {"classify", "--prompt", "sentiment"}, kExitInvalidArgument,
                "INVALID_ARGUMENT");
  ExpectFailure(alice_.key, {"classify", "--prompt", "sentiment", "--no_such_flag", "x"},
                kExitInvalidArgument, "INVALID_ARGUMENT");

  // The server answered INVALID_ARGUMENT to exactly the calls it got.
  const std::vector<Sample> after = ParsedMetrics(h_->server().metrics_port());
  EXPECT_EQ(RequestCount(after, "TrainPrompt", "INVALID_ARGUMENT") -
                RequestCount(before, "TrainPrompt", "INVALID_ARGUMENT"),
            4);
  EXPECT_EQ(RequestCount(after, "Classify", "INVALID_ARGUMENT") -
                RequestCount(before, "Classify", "INVALID_ARGUMENT"),
            3);
  EXPECT_EQ(RequestCount(after, "TagEntities", "INVALID_ARGUMENT") -
                RequestCount(before, "TagEntities", "INVALID_ARGUMENT"),
            1);
  // None of them made a job or a prompt.
  ExpectFailure(alice_.key, {"prompts", "get", "t1"}, kExitNotFound, "NOT_FOUND");
}

TEST_F(SharedServerTest, WrongKeysGetAuthErrors) {
  ExpectFailure("ptk_not-a-real-key", {"prompts", "list"}, kExitAuth, "UNAUTHENTICATED");
  ExpectFailure("", {"prompts", "list"}, kExitAuth, "UNAUTHENTICATED");
  ExpectFailure(alice_.key, {"admin", "list-tenants"}, kExitAuth, "PERMISSION_DENIED");
  ExpectFailure(h_->admin_key(), {"prompts", "list"}, kExitAuth, "PERMISSION_DENIED");
}

TEST_F(SharedServerTest, MetricsScrapeParsesAndCountsClassify) {
  EnsureTrained({"sentiment"});
  const std::string text = Metrics(h_->server().metrics_port());
  absl::StatusOr<std::vector<Sample>> before = ParsePrometheusText(text);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_THAT(text, HasSubstr("# TYPE ptune_requests_total counter"));
  for (const Sample& s : *before) {
    // Ours, and the standard process metrics (metrics::ProcessCollector).
    EXPECT_TRUE(s.name.rfind("ptune_", 0) == 0 || s.name.rfind("process_", 0) == 0) << s.name;
    EXPECT_FALSE(std::isnan(s.value)) << s.name;
  }

  const json classified = Parsed(
      h_->Cli(alice_.key, {"classify", "--prompt", "sentiment", "--json", "great staff"}));
  ASSERT_EQ(classified.value("results", json::array()).size(), 1u);

  const std::vector<Sample> after = ParsedMetrics(h_->server().metrics_port());
  const double ok_before = RequestCount(*before, "Classify", "OK");
  const double ok_after = RequestCount(after, "Classify", "OK");
  EXPECT_GT(ok_after, 0);
  EXPECT_EQ(ok_after - ok_before, 1);
  // Histograms are consistent: the +Inf bucket equals the count.
  const std::optional<double> count =
      FindSample(after, "ptune_request_duration_seconds_count", {{"method", "Classify"}});
  const std::optional<double> inf = FindSample(
      after, "ptune_request_duration_seconds_bucket", {{"method", "Classify"}, {"le", "+Inf"}});
  ASSERT_TRUE(count.has_value());
  ASSERT_TRUE(inf.has_value());
  EXPECT_EQ(*count, *inf);
  EXPECT_GE(*count, ok_after);
  // A gauge refreshed on a timer: present, not checked for its value.
  EXPECT_TRUE(FindSample(after, "ptune_jobs", {{"state", "succeeded"}}).has_value());
}

TEST_F(SharedServerTest, ExportedPromptImportsAsAnotherTenantsAndServesTheSameScores) {
  EnsureTrained({"sentiment"});
  const std::string dir = h_->dir() + "/sentiment-peft";
  const CommandResult exported =
      h_->Cli(alice_.key, {"prompts", "export", "sentiment", "--out", dir});
  ASSERT_EQ(exported.exit_code(), 0) << exported.DebugString();
  EXPECT_TRUE(std::filesystem::exists(dir + "/adapter_config.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/adapter_model.safetensors"));
  // Bob takes the folder as a prompt of his own; alice's stays hers.
  const json imported =
      Parsed(h_->Cli(bob_.key, {"prompts", "import", "copied", "--dir", dir, "--json"}));
  EXPECT_EQ(imported.value("state", ""), "PROMPT_STATE_READY") << imported.dump();
  EXPECT_THAT(Labels(imported), ::testing::UnorderedElementsAre("negative", "positive"));
  const std::vector<std::string> texts = {"nice people", "cold food , rude staff"};
  auto classify = [&](const std::string& prompt) {
    std::vector<std::string> args = {"classify", "--prompt", prompt, "--json"};
    args.insert(args.end(), texts.begin(), texts.end());
    return args;
  };
  const json original = Parsed(h_->Cli(alice_.key, classify("sentiment")));
  const json copy = Parsed(h_->Cli(bob_.key, classify("copied")));
  ExpectSameScores(original, copy, "imported copy");
  ExpectFailure(alice_.key, classify("copied"), kExitNotFound, "NOT_FOUND");

  // Deleting the copy leaves the original serving.
  const json deleted = Parsed(h_->Cli(bob_.key, {"prompts", "delete", "copied", "--json"}));
  EXPECT_EQ(Int(deleted.value("deletedVersions", json(0))), 1) << deleted.dump();
  ExpectFailure(bob_.key, classify("copied"), kExitNotFound, "NOT_FOUND");
  ExpectSameScores(original, Parsed(h_->Cli(alice_.key, classify("sentiment"))),
                   "original after the copy's deletion");
}

TEST_F(SharedServerTest, CancelledJobEndsItsWatchWithJobNotSucceeded) {
  const json submitted = Parsed(h_->Cli(
      alice_.key, {"train", "--name", "doomed", "--task", "classify", "--train",
                   Example("sentiment.tsv"), "--epochs", "20", "--patience", "100",
                   "--json"}));
  const std::string id = submitted.value("job", json::object()).value("id", "");
  ASSERT_FALSE(id.empty()) << submitted.dump();
  const json cancelled = Parsed(h_->Cli(alice_.key, {"jobs", "cancel", id, "--json"}));
  EXPECT_THAT(cancelled.value("state", ""),
              ::testing::AnyOf("JOB_STATE_CANCELLED", "JOB_STATE_RUNNING"))
      << cancelled.dump();
  const CommandResult watched = h_->Cli(alice_.key, {"jobs", "watch", id, "--json"});
  EXPECT_EQ(watched.exit_code(), kExitJobNotSucceeded) << watched.DebugString();
  EXPECT_THAT(watched.err, HasSubstr("ptune: CANCELLED: "));
  EXPECT_EQ(LastJob(watched).value("state", ""), "JOB_STATE_CANCELLED") << watched.out;
  // Ended jobs cannot be cancelled again; the prompt never got a ready
  // version (ptune.proto: FAILED_PRECONDITION, not NOT_FOUND).
  ExpectFailure(alice_.key, {"jobs", "cancel", id}, kExitPrecondition,
                "FAILED_PRECONDITION");
  ExpectFailure(alice_.key, {"classify", "--prompt", "doomed", "x"}, kExitPrecondition,
                "FAILED_PRECONDITION", "no ready version");
}

TEST_F(SharedServerTest, ConcurrentMixedTenantCallsGiveTheAnswersOfSingleCalls) {
  EnsureTrained({"sentiment", "mood"});
  const std::vector<std::string> texts = {"a lovely , sunny day", "the worst film ever",
                                          "it was fine i guess", "great staff"};
  struct Call {
    const Tenant* tenant;
    std::string prompt;
    std::string text;
  };
  std::vector<Call> calls;
  for (const std::string& text : texts) {
    calls.push_back({&alice_, "sentiment", text});
    calls.push_back({&bob_, "mood", text});
  }
  auto args = [](const Call& c) {
    return std::vector<std::string>{"classify", "--prompt", c.prompt, "--json", c.text};
  };
  // One call at a time.
  std::vector<json> alone;
  for (const Call& c : calls) alone.push_back(Parsed(h_->Cli(c.tenant->key, args(c))));
  // The two tenants' prompts differ: same texts, other scores.
  EXPECT_NE(Scores(alone[0]), Scores(alone[1]));

  // All at once, so that the server batches both tenants' texts together.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::unique_ptr<Subprocess>> running;
    for (size_t i = 0; i < calls.size(); ++i) {
      absl::StatusOr<std::unique_ptr<Subprocess>> started = h_->StartCli(
          calls[i].tenant->key, args(calls[i]), absl::StrCat("mixed-", round, "-", i));
      ASSERT_TRUE(started.ok()) << started.status();
      running.push_back(std::move(*started));
    }
    for (size_t i = 0; i < calls.size(); ++i) {
      std::optional<ExitStatus> status = running[i]->Wait(absl::Minutes(2));
      ASSERT_TRUE(status.has_value()) << "call " << i << " hangs";
      CommandResult result;
      result.status = *status;
      result.out = ReadFileOrEmpty(running[i]->stdout_path());
      result.err = ReadFileOrEmpty(running[i]->stderr_path());
      ExpectSameScores(alone[i], Parsed(result),
                       absl::StrCat("round ", round, " call ", i, " (", calls[i].prompt,
                                    ", \"", calls[i].text, "\")"));
    }
  }
}

}  // namespace
}  // namespace ptune::e2e

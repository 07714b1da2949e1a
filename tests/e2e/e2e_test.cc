// End-to-end tests: the real ptune-server binary on a loopback port with a
// temporary SQLite store, driven by the real `ptune` CLI binary: train →
// watch → classify/tag → restart → the prompt still serves; kill -9 during
// training → restart → the job resumes from its checkpoint and succeeds;
// tenant isolation on every object command; bad inputs get their documented
// exit code; /metrics scrapes and parses; concurrent mixed-tenant calls give
// the answers of single calls.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/prometheus_text.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// client/cli.h ExitCode.
constexpr int kExitInvalidArgument = 2;
constexpr int kExitAuth = 3;
constexpr int kExitNotFound = 4;

std::string Example(const std::string& name) {
  return ptune::testing::SourceDir() + "/client/examples/" + name;
}

HarnessOptions Options(std::vector<std::string> server_flags = {}) {
  HarnessOptions options;
  options.server_binary = PTUNE_SERVER_BIN;
  options.cli_binary = PTUNE_CLI_BIN;
  options.backbone_dir = ptune::testing::BackboneDir();
  options.server_flags = std::move(server_flags);
  return options;
}

// Code points in the UTF-8 bytes `text`.
int CodePoints(const std::string& text) {
  int n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// The parsed stdout of a command that must have exited 0.
json Parsed(const CommandResult& result) {
  EXPECT_EQ(result.exit_code(), 0) << result.DebugString();
  absl::StatusOr<json> parsed = OneJson(result.out);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << result.DebugString();
  return parsed.ok() ? *parsed : json::object();
}

// proto3 JSON prints int64 as strings; int32 as numbers.
int64_t Int(const json& value) {
  if (value.is_string()) return std::stoll(value.get<std::string>());
  return value.is_number() ? value.get<int64_t>() : 0;
}

// Each text's per-label scores from `ptune classify --json`.
std::vector<std::map<std::string, double>> Scores(const json& response) {
  std::vector<std::map<std::string, double>> out;
  for (const json& result : response.value("results", json::array())) {
    std::map<std::string, double>& scores = out.emplace_back();
    for (const json& s : result.value("scores", json::array())) {
      scores[s.value("label", "")] = s.value("score", -1.0);
    }
  }
  return out;
}

void ExpectSameScores(const json& a, const json& b, const std::string& what) {
  const auto scores_a = Scores(a);
  const auto scores_b = Scores(b);
  ASSERT_EQ(scores_a.size(), scores_b.size()) << what;
  for (size_t i = 0; i < scores_a.size(); ++i) {
    ASSERT_EQ(scores_a[i].size(), scores_b[i].size()) << what;
    for (const auto& [label, score] : scores_a[i]) {
      ASSERT_TRUE(scores_b[i].count(label)) << what << ": " << label;
      EXPECT_NEAR(score, scores_b[i].at(label), 1e-5) << what << " text " << i;
    }
  }
}

// Checks a classify response against the prompt's labels: one result per
// text, a probability per label, the label is the argmax.
void ExpectValidClassifications(const json& response, size_t texts,
                                const std::vector<std::string>& labels) {
  const json results = response.value("results", json::array());
  ASSERT_EQ(results.size(), texts) << response.dump();
  for (const json& r : results) {
    const std::string label = r.value("label", "");
    EXPECT_THAT(labels, ::testing::Contains(label)) << r.dump();
    const json scores = r.value("scores", json::array());
    ASSERT_EQ(scores.size(), labels.size()) << r.dump();
    double sum = 0, best = -1;
    std::string best_label;
    for (const json& s : scores) {
      const double p = s.value("score", -1.0);
      EXPECT_GE(p, 0.0);
      EXPECT_LE(p, 1.0);
      sum += p;
      if (p > best) best = p, best_label = s.value("label", "");
    }
    EXPECT_NEAR(sum, 1.0, 1e-4) << r.dump();
    EXPECT_EQ(label, best_label) << r.dump();
    EXPECT_NEAR(r.value("score", -1.0), best, 1e-6) << r.dump();
  }
}

// Checks `ptune tag --json` entities: offsets inside the text (code points
// and bytes agree), `text` is the substring, the type is one of `types`.
// Returns how many entities there were.
int ExpectValidEntities(const json& response, const std::vector<std::string>& texts,
                        const std::set<std::string>& types) {
  const json results = response.value("results", json::array());
  EXPECT_EQ(results.size(), texts.size()) << response.dump();
  int count = 0;
  for (size_t i = 0; i < results.size() && i < texts.size(); ++i) {
    const std::string& text = texts[i];
    int previous_end = 0;
    for (const json& e : results[i].value("entities", json::array())) {
      ++count;
      const int64_t byte_start = Int(e["byteStart"]);
      const int64_t byte_end = Int(e["byteEnd"]);
      const int64_t start = Int(e["start"]);
      const int64_t end = Int(e["end"]);
      if (byte_start < 0 || byte_start >= byte_end ||
          byte_end > static_cast<int64_t>(text.size())) {
        ADD_FAILURE() << "entity outside the text: " << e.dump() << " in \"" << text
                      << "\"";
        continue;
      }
      EXPECT_EQ(e.value("text", ""), text.substr(byte_start, byte_end - byte_start))
          << e.dump();
      EXPECT_EQ(start, CodePoints(text.substr(0, byte_start))) << e.dump();
      EXPECT_EQ(end, CodePoints(text.substr(0, byte_end))) << e.dump();
      EXPECT_GE(start, previous_end) << "overlapping entities: " << e.dump();
      previous_end = static_cast<int>(end);
      EXPECT_TRUE(types.count(e.value("type", ""))) << e.dump();
      const double score = e.value("score", -1.0);
      EXPECT_GT(score, 0.0);
      EXPECT_LE(score, 1.0);
    }
  }
  return count;
}

// The entity types of a tag prompt (its labels are BIO tags).
std::set<std::string> EntityTypes(const json& prompt) {
  std::set<std::string> types;
  for (const json& label : prompt.value("labels", json::array())) {
    const std::string tag = label.get<std::string>();
    if (tag.size() > 2 && tag[1] == '-') types.insert(tag.substr(2));
  }
  return types;
}

std::vector<std::string> Labels(const json& prompt) {
  return prompt.value("labels", std::vector<std::string>());
}

// The last message of a `--wait --json` / `jobs watch --json` run.
json LastJob(const CommandResult& result) {
  absl::StatusOr<std::vector<json>> lines = JsonLines(result.out);
  EXPECT_TRUE(lines.ok()) << lines.status();
  if (!lines.ok() || lines->empty()) return json::object();
  return lines->back();
}

std::string Metrics(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(30, 0);
  auto got = http.Get("/metrics");
  EXPECT_TRUE(got) << "GET /metrics failed";
  if (!got) return "";
  EXPECT_EQ(got->status, 200);
  return got->body;
}

std::vector<Sample> ParsedMetrics(int port) {
  absl::StatusOr<std::vector<Sample>> samples = ParsePrometheusText(Metrics(port));
  EXPECT_TRUE(samples.ok()) << samples.status();
  return samples.ok() ? *samples : std::vector<Sample>();
}

double RequestCount(const std::vector<Sample>& samples, const std::string& method,
                    const std::string& code) {
  return FindSample(samples, "ptune_requests_total", {{"method", method}, {"code", code}})
      .value_or(0);
}

// ---------------------------------------------------------------------------
// Tests with a server of their own (they stop, kill and restart it).

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ptune::testing::BackboneDir().empty()) {
      GTEST_SKIP() << "no backbone: set PTUNE_BACKBONE_DIR or configure with "
                      "-DPTUNE_TEST_BACKBONE_DIR";
    }
    absl::StatusOr<std::unique_ptr<Harness>> harness = Harness::Create(Options());
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = std::move(*harness);
    const absl::Status started = h_->StartServer();
    ASSERT_TRUE(started.ok()) << started;
  }

  void TearDown() override { h_.reset(); }  // kills a leftover server

  static constexpr int kLongEpochs = 6;
  json InterruptTrainingAndResume(int signal, std::vector<json>* messages);

  std::unique_ptr<Harness> h_;
};

TEST_F(E2eTest, TrainWatchServeThenRestartServesTheSameAnswers) {
  absl::StatusOr<Tenant> alice = h_->CreateTenant("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();

  const CommandResult sentiment = h_->Cli(
      alice->key, {"train", "--name", "sentiment", "--task", "classify", "--train",
                   Example("sentiment.tsv"), "--epochs", "3", "--length", "8",
                   "--wait", "--json"});
  ASSERT_EQ(sentiment.exit_code(), 0) << sentiment.DebugString();
  EXPECT_EQ(LastJob(sentiment).value("state", ""), "JOB_STATE_SUCCEEDED");
  const CommandResult ner = h_->Cli(
      alice->key, {"train", "--name", "ner", "--task", "tag", "--train",
                   Example("ner.conll"), "--epochs", "3", "--length", "8", "--wait",
                   "--json"});
  ASSERT_EQ(ner.exit_code(), 0) << ner.DebugString();
  EXPECT_EQ(LastJob(ner).value("state", ""), "JOB_STATE_SUCCEEDED");

  const json sentiment_prompt =
      Parsed(h_->Cli(alice->key, {"prompts", "get", "sentiment", "--json"}));
  EXPECT_EQ(sentiment_prompt.value("state", ""), "PROMPT_STATE_READY");
  EXPECT_EQ(Int(sentiment_prompt["version"]), 1);
  const std::vector<std::string> labels = Labels(sentiment_prompt);
  EXPECT_THAT(labels, ::testing::UnorderedElementsAre("negative", "positive"));
  const json ner_prompt = Parsed(h_->Cli(alice->key, {"prompts", "get", "ner", "--json"}));
  const std::set<std::string> types = EntityTypes(ner_prompt);
  EXPECT_THAT(types, ::testing::IsSupersetOf({"PER", "LOC", "ORG"}));

  const std::vector<std::string> texts = {"what a wonderful , friendly place",
                                          "broken , late and rude",
                                          "Zürich 😀 was fine I guess"};
  std::vector<std::string> classify = {"classify", "--prompt", "sentiment", "--json"};
  classify.insert(classify.end(), texts.begin(), texts.end());
  const json classified = Parsed(h_->Cli(alice->key, classify));
  ExpectValidClassifications(classified, texts.size(), labels);

  const std::vector<std::string> tag_texts = {
      "Maria Lopez flew from Berlin to Paris with Siemens .",
      "Zoë Müller works for Google in Zürich 😀 ."};
  std::vector<std::string> tag = {"tag", "--prompt", "ner", "--json"};
  tag.insert(tag.end(), tag_texts.begin(), tag_texts.end());
  const json tagged = Parsed(h_->Cli(alice->key, tag));
  // The first text is close to the training data: a trained tagger finds
  // something in it.
  EXPECT_GT(ExpectValidEntities(tagged, tag_texts, types), 0) << tagged.dump();

  // A clean shutdown, then a new process on the same store.
  absl::StatusOr<ExitStatus> stopped = h_->StopServer();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->exited) << stopped->DebugString();
  EXPECT_EQ(stopped->code, 0) << h_->server().StderrTail();
  const absl::Status restarted = h_->StartServer();
  ASSERT_TRUE(restarted.ok()) << restarted;

  const json classified_again = Parsed(h_->Cli(alice->key, classify));
  ExpectSameScores(classified, classified_again, "classify after restart");
  const json tagged_again = Parsed(h_->Cli(alice->key, tag));
  ExpectValidEntities(tagged_again, tag_texts, types);
  const json results = tagged.value("results", json::array());
  const json results_again = tagged_again.value("results", json::array());
  ASSERT_EQ(results.size(), results_again.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const json a = results[i].value("entities", json::array());
    const json b = results_again[i].value("entities", json::array());
    ASSERT_EQ(a.size(), b.size()) << tagged.dump() << "\n" << tagged_again.dump();
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].value("type", ""), b[k].value("type", ""));
      EXPECT_EQ(Int(a[k]["byteStart"]), Int(b[k]["byteStart"]));
      EXPECT_EQ(Int(a[k]["byteEnd"]), Int(b[k]["byteEnd"]));
      EXPECT_NEAR(a[k].value("score", 0.0), b[k].value("score", 0.0), 1e-5);
    }
  }
  const json after = Parsed(h_->Cli(alice->key, {"prompts", "get", "sentiment", "--json"}));
  EXPECT_EQ(after.value("state", ""), "PROMPT_STATE_READY");
  EXPECT_EQ(Int(after["version"]), 1);
}

// Starts a training job of several epochs, ends the server with `signal`
// once a checkpoint exists, restarts it on the same store and watches the
// job to its end. Returns the job's last message; `messages` gets every
// message of the watch after the restart.
json E2eTest::InterruptTrainingAndResume(int signal, std::vector<json>* messages) {
  absl::StatusOr<Tenant> alice = h_->CreateTenant("alice");
  EXPECT_TRUE(alice.ok()) << alice.status();
  if (!alice.ok()) return json::object();
  // 43 training examples in batches of 8: 6 steps an epoch, a few seconds
  // each epoch here; patience keeps early stopping from ending it sooner.
  const json submitted = Parsed(h_->Cli(
      alice->key, {"train", "--name", "long", "--task", "classify", "--train",
                   Example("sentiment.tsv"), "--epochs", absl::StrCat(kLongEpochs),
                   "--batch_size", "8", "--patience", "100", "--length", "8",
                   "--json"}));
  const std::string job_id = submitted.value("job", json::object()).value("id", "");
  EXPECT_FALSE(job_id.empty()) << submitted.dump();
  if (job_id.empty()) return json::object();

  // Wait until at least one epoch checkpoint exists (epoch 2 reported means
  // epoch 1's checkpoint was saved before epoch 2 started).
  json seen;
  const absl::Time deadline = absl::Now() + absl::Minutes(4);
  while (true) {
    seen = Parsed(h_->Cli(alice->key, {"jobs", "get", job_id, "--json"}));
    if (seen.value("progress", json::object()).value("epoch", 0) >= 2) break;
    const std::string state = seen.value("state", "");
    if (state != "JOB_STATE_QUEUED" && state != "JOB_STATE_RUNNING") {
      ADD_FAILURE() << "the job ended before epoch 2: " << seen.dump();
      return json::object();
    }
    if (absl::Now() >= deadline) {
      ADD_FAILURE() << "no epoch 2 in time: " << seen.dump();
      return json::object();
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(seen.value("state", ""), "JOB_STATE_RUNNING") << seen.dump();
  EXPECT_LT(seen["progress"].value("epoch", 0), kLongEpochs)
      << "the job ended before the interruption; make it longer: " << seen.dump();

  if (signal == SIGKILL) {
    h_->KillServer();
    EXPECT_EQ(h_->server().process().Kill().signal, SIGKILL);
  } else {
    // A clean shutdown in the middle of training: the job stops at its next
    // step and the process exits 0.
    absl::StatusOr<ExitStatus> stopped = h_->StopServer();
    EXPECT_TRUE(stopped.ok()) << stopped.status();
    if (stopped.ok()) {
      EXPECT_TRUE(stopped->exited && stopped->code == 0)
          << stopped->DebugString() << "\n" << h_->server().StderrTail();
    }
  }
  const absl::Status restarted = h_->StartServer();
  EXPECT_TRUE(restarted.ok()) << restarted;
  if (!restarted.ok()) return json::object();

  const CommandResult watched = h_->Cli(alice->key, {"jobs", "watch", job_id, "--json"});
  EXPECT_EQ(watched.exit_code(), 0) << watched.DebugString();
  absl::StatusOr<std::vector<json>> lines = JsonLines(watched.out);
  EXPECT_TRUE(lines.ok()) << lines.status();
  if (!lines.ok() || lines->empty()) return json::object();
  *messages = *lines;
  const json last = messages->back();
  EXPECT_EQ(last.value("state", ""), "JOB_STATE_SUCCEEDED") << last.dump();
  EXPECT_EQ(last.value("progress", json::object()).value("epoch", 0), kLongEpochs)
      << last.dump();
  // Resumed, not restarted: every epoch reported after the restart comes
  // after the checkpoint. (A run started from scratch reports epoch 1
  // again; progress with epochs == 0 is the "started" placeholder.)
  int min_epoch = kLongEpochs + 1;
  for (const json& m : *messages) {
    const json p = m.value("progress", json::object());
    if (p.value("epochs", 0) > 0) min_epoch = std::min(min_epoch, p.value("epoch", 0));
  }
  EXPECT_GE(min_epoch, 2) << "the job started over after the restart: " << watched.out;
  EXPECT_LE(min_epoch, kLongEpochs) << "no progress after the restart: " << watched.out;

  // The prompt serves.
  const json prompt = Parsed(h_->Cli(alice->key, {"prompts", "get", "long", "--json"}));
  EXPECT_EQ(prompt.value("state", ""), "PROMPT_STATE_READY");
  const json classified =
      Parsed(h_->Cli(alice->key, {"classify", "--prompt", "long", "--json", "great staff"}));
  ExpectValidClassifications(classified, 1, Labels(prompt));
  return last;
}

TEST_F(E2eTest, KilledDuringTrainingTheJobResumesFromItsCheckpoint) {
  std::vector<json> messages;
  const json last = InterruptTrainingAndResume(SIGKILL, &messages);
  // Crash recovery requeued it (the field is printed even when 0).
  EXPECT_GE(Int(last.value("attempts", json(0))), 1) << last.dump();
}

TEST_F(E2eTest, TerminatedDuringTrainingExitsZeroAndTheJobResumes) {
  std::vector<json> messages;
  const json last = InterruptTrainingAndResume(SIGTERM, &messages);
  EXPECT_EQ(last.value("reason", ""), "") << last.dump();
}

// ---------------------------------------------------------------------------
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
          Harness::Create(Options({"--max_texts=8"}));
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
    EXPECT_EQ(s.name.rfind("ptune_", 0), 0u) << s.name;
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

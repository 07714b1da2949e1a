// End-to-end tests of the server's life cycle: the real ptune-server binary
// on a loopback port with a temporary SQLite store, driven by the real
// `ptune` CLI binary: train → watch → classify/tag → restart → the prompt
// still serves; kill -9 (or SIGTERM) during training → restart → the job
// resumes from its checkpoint and succeeds.
#include <signal.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_checks.h"
#include "tests/e2e/harness.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

using nlohmann::json;

// Each test has a server of its own: it stops, kills and restarts it.

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ptune::testing::BackboneDir().empty()) {
      GTEST_SKIP() << "no backbone: set PTUNE_BACKBONE_DIR or configure with "
                      "-DPTUNE_TEST_BACKBONE_DIR";
    }
    absl::StatusOr<std::unique_ptr<Harness>> harness = Harness::Create(DefaultHarnessOptions());
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = std::move(*harness);
    const absl::Status started = h_->StartServer();
    ASSERT_TRUE(started.ok()) << started;
  }

  void TearDown() override { h_.reset(); }  // kills a leftover server

  static constexpr int kLongEpochs = 8;
  json InterruptTrainingAndResume(int signal);

  std::unique_ptr<Harness> h_;
};

TEST_F(E2eTest, TrainWatchServeThenRestartServesTheSameAnswers) {
  // `ptune health` (the image's HEALTHCHECK) needs no key.
  const CommandResult health = h_->Cli("", {"health"});
  EXPECT_EQ(health.exit_code(), 0) << health.DebugString();
  EXPECT_EQ(health.out, "SERVING\n");
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
  // Case embeddings: on by default for tagging, off for classification.
  EXPECT_TRUE(ner_prompt["spec"].value("caseEmbeddings", false)) << ner_prompt.dump();
  EXPECT_FALSE(sentiment_prompt["spec"].value("caseEmbeddings", true))
      << sentiment_prompt.dump();

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
// job to its end. Returns the job's last message.
json E2eTest::InterruptTrainingAndResume(int signal) {
  absl::StatusOr<Tenant> alice = h_->CreateTenant("alice");
  EXPECT_TRUE(alice.ok()) << alice.status();
  if (!alice.ok()) return json::object();
  // 43 training examples in batches of 8: 6 steps an epoch, 0.5 to 5
  // seconds an epoch on 2 cores; patience keeps early stopping from ending
  // it sooner.
  const json submitted = Parsed(h_->Cli(
      alice->key, {"train", "--name", "long", "--task", "classify", "--train",
                   Example("sentiment.tsv"), "--epochs", absl::StrCat(kLongEpochs),
                   "--batch_size", "8", "--patience", "100", "--length", "8",
                   "--json"}));
  const std::string job_id = submitted.value("job", json::object()).value("id", "");
  EXPECT_FALSE(job_id.empty()) << submitted.dump();
  if (job_id.empty()) return json::object();

  // Wait until at least one epoch checkpoint exists (epoch 2 reported means
  // epoch 1's checkpoint was saved before epoch 2 started). A watch stream
  // sees the report at once, so that the interruption lands early in the
  // job however fast the machine is.
  absl::StatusOr<std::unique_ptr<Subprocess>> watcher =
      h_->StartCli(alice->key, {"jobs", "watch", job_id, "--json"}, "watch-before");
  EXPECT_TRUE(watcher.ok()) << watcher.status();
  if (!watcher.ok()) return json::object();
  json seen = json::object();
  const absl::Time deadline = absl::Now() + absl::Minutes(4);
  while (seen.empty()) {
    const bool ended = !(*watcher)->Running();
    const std::string out = ReadFileOrEmpty((*watcher)->stdout_path());
    // Whole lines only: the watcher may be writing the last one.
    absl::StatusOr<std::vector<json>> lines = JsonLines(out.substr(0, out.rfind('\n') + 1));
    EXPECT_TRUE(lines.ok()) << lines.status();
    if (!lines.ok()) return json::object();
    for (const json& line : *lines) {
      if (line.value("progress", json::object()).value("epoch", 0) >= 2) {
        seen = line;
        break;
      }
    }
    if (!seen.empty()) break;
    if (ended || absl::Now() >= deadline) {
      ADD_FAILURE() << "no epoch 2 " << (ended ? "before the watch ended" : "in time")
                    << ":\n" << out << ReadFileOrEmpty((*watcher)->stderr_path());
      return json::object();
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(seen.value("state", ""), "JOB_STATE_RUNNING") << seen.dump();
  EXPECT_LT(seen["progress"].value("epoch", 0), kLongEpochs)
      << "the job ended before the interruption; make it longer: " << seen.dump();

  // No stream open at the interruption: an open WatchJob holds a graceful
  // shutdown (and the job's training) for up to --shutdown_grace_s.
  (*watcher)->Kill();
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
  const json last = lines->back();
  EXPECT_EQ(last.value("state", ""), "JOB_STATE_SUCCEEDED") << last.dump();
  EXPECT_EQ(last.value("progress", json::object()).value("epoch", 0), kLongEpochs)
      << last.dump();
  // Resumed, not restarted: every epoch reported after the restart comes
  // after the checkpoint. (A run started from scratch reports epoch 1
  // again; progress with epochs == 0 is the "started" placeholder.)
  int min_epoch = kLongEpochs + 1;
  for (const json& m : *lines) {
    const json p = m.value("progress", json::object());
    if (p.value("epochs", 0) > 0) min_epoch = std::min(min_epoch, p.value("epoch", 0));
  }
  EXPECT_GE(min_epoch, 2) << "the job started over after the restart: " << watched.out;
  EXPECT_LE(min_epoch, kLongEpochs) << "no progress after the restart: " << watched.out;
  // The same from the new process's own count, which no race with the watch
  // can hide: it trained fewer than all epochs' examples.
  const double train_examples =
      last.value("metrics", json::object()).value("train_examples", 0.0);
  EXPECT_GT(train_examples, 0) << last.dump();
  const double trained =
      FindSample(ParsedMetrics(h_->server().metrics_port()), "ptune_training_examples_total", {})
          .value_or(-1);
  EXPECT_GT(trained, 0);
  EXPECT_LT(trained, (kLongEpochs - 0.5) * train_examples)
      << "the restarted server trained every epoch again";

  // The prompt serves.
  const json prompt = Parsed(h_->Cli(alice->key, {"prompts", "get", "long", "--json"}));
  EXPECT_EQ(prompt.value("state", ""), "PROMPT_STATE_READY");
  const json classified =
      Parsed(h_->Cli(alice->key, {"classify", "--prompt", "long", "--json", "great staff"}));
  ExpectValidClassifications(classified, 1, Labels(prompt));
  return last;
}

TEST_F(E2eTest, KilledDuringTrainingTheJobResumesFromItsCheckpoint) {
  const json last = InterruptTrainingAndResume(SIGKILL);
  // Crash recovery requeued it (the field is printed even when 0).
  EXPECT_GE(Int(last.value("attempts", json(0))), 1) << last.dump();
}

TEST_F(E2eTest, TerminatedDuringTrainingExitsZeroAndTheJobResumes) {
  const json last = InterruptTrainingAndResume(SIGTERM);
  EXPECT_EQ(last.value("reason", ""), "") << last.dump();
}

}  // namespace
}  // namespace ptune::e2e

#include "client/formatters.h"

#include <sstream>

#include "client/progress.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ptune::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FormattersTest, TableAlignsColumnsByCodePoints) {
  EXPECT_EQ(
      FormatTable({"A", "BB", "C"}, {{"xyz", "é", "last"}, {"1", "22", ""}}),
      "A    BB  C\n"
      "xyz  é   last\n"
      "1    22  \n");
}

TEST(FormattersTest, ClassifyRowsAreLabelScoreText) {
  v1::ClassifyResponse response;
  auto* a = response.add_results();
  a->set_label("positive");
  a->set_score(0.98767f);
  auto* b = response.add_results();
  b->set_label("neg");
  b->set_score(0.5f);
  EXPECT_EQ(FormatClassifications({"great film", "meh"}, response),
            "LABEL     SCORE   TEXT\n"
            "positive  0.9877  great film\n"
            "neg       0.5000  meh\n");
}

TEST(FormattersTest, TaggedTextsListEntities) {
  v1::TagEntitiesResponse response;
  auto* first = response.add_results();
  auto* e = first->add_entities();
  e->set_type("PER");
  e->set_start(0);
  e->set_end(5);
  e->set_text("Zoë B");
  e->set_score(0.91f);
  auto* l = first->add_entities();
  l->set_type("LOC");
  l->set_start(15);
  l->set_end(21);
  l->set_text("Berlin");
  l->set_score(0.875f);
  response.add_results();
  EXPECT_EQ(
      FormatTaggedTexts({"Zoë B lives in Berlin", "nothing here"}, response),
      "Zoë B lives in Berlin\n"
      "  PER [0,5) \"Zoë B\" 0.9100\n"
      "  LOC [15,21) \"Berlin\" 0.8750\n"
      "\n"
      "nothing here\n"
      "  (no entities)\n");
}

TEST(FormattersTest, JsonIsOneLineAndParsesBack) {
  v1::ClassifyResponse response;
  response.set_version(4);
  auto* r = response.add_results();
  r->set_label("pos");
  r->set_score(0.25f);
  auto* s = r->add_scores();
  s->set_label("neg");
  s->set_score(0);  // Zero values are printed too.
  const std::string json = ToJson(response);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1);
  EXPECT_THAT(json, HasSubstr("\"score\":0"));
  v1::ClassifyResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, response));
}

TEST(FormattersTest, EnumNamesAndTimes) {
  EXPECT_EQ(JobStateName(v1::JOB_STATE_SUCCEEDED), "succeeded");
  EXPECT_EQ(JobStateName(v1::JOB_STATE_UNSPECIFIED), "-");
  EXPECT_EQ(TaskName(v1::TASK_TAG), "tag");
  EXPECT_EQ(PromptStateName(v1::PROMPT_STATE_READY), "ready");
  google::protobuf::Timestamp time;
  EXPECT_EQ(FormatTimestamp(time), "-");
  time.set_seconds(1795000000);
  EXPECT_EQ(FormatTimestamp(time), "2026-11-18 11:06:40");
  EXPECT_EQ(FormatSeconds(0), "-");
  EXPECT_EQ(FormatSeconds(42.4), "42s");
  EXPECT_EQ(FormatSeconds(185), "3m05s");
  EXPECT_EQ(FormatSeconds(3720), "1h02m");
}

TEST(FormattersTest, JobTableAndDetail) {
  v1::Job job;
  job.set_id("job-7");
  job.set_prompt_name("sentiment");
  job.set_prompt_version(2);
  job.set_task(v1::TASK_CLASSIFY);
  job.set_state(v1::JOB_STATE_FAILED);
  job.set_reason("out of memory");
  (*job.mutable_metrics())["valid_accuracy"] = 0.5;
  EXPECT_EQ(FormatJobTable({job}),
            "ID     PROMPT     VERSION  TASK      STATE   PROGRESS  CREATED\n"
            "job-7  sentiment  v2       classify  failed  -         -\n");
  const std::string detail = FormatJob(job);
  EXPECT_THAT(detail, HasSubstr("reason:   out of memory\n"));
  EXPECT_THAT(detail, HasSubstr("metrics:  valid_accuracy=0.5000\n"));
  EXPECT_THAT(detail, Not(HasSubstr("TEMPLATE")));
  // A prompt search's table of candidates, the chosen one starred.
  for (int length : {8, 16}) {
    v1::SearchCandidate* c = job.add_candidates();
    c->set_length(length);
    c->set_template_text(length == 8 ? "{text} It was [MASK] ." : "");
    c->set_valid_metric(length == 8 ? 0.75 : 0.8125);
    c->set_chosen(length == 16);
  }
  EXPECT_EQ(FormatCandidates(job),
            "   LENGTH  TEMPLATE                VERBALIZER  VALID\n"
            "   8       {text} It was [MASK] .  -           0.7500\n"
            "*  16      -                       -           0.8125\n");
  EXPECT_THAT(FormatJob(job), HasSubstr(FormatCandidates(job)));
}

TEST(FormattersTest, PromptDetailListsVersions) {
  v1::Prompt prompt;
  prompt.set_name("ner");
  prompt.set_task(v1::TASK_TAG);
  prompt.set_version(2);
  prompt.set_state(v1::PROMPT_STATE_READY);
  prompt.mutable_spec()->set_length(32);
  prompt.add_labels("LOC");
  prompt.add_labels("PER");
  auto* v1 = prompt.add_versions();
  v1->set_version(1);
  v1->set_state(v1::PROMPT_STATE_FAILED);
  v1->set_job_id("job-1");
  const std::string text = FormatPrompt(prompt);
  EXPECT_THAT(text, HasSubstr("spec:    deep, length 32\n"));
  EXPECT_THAT(text, HasSubstr("labels:  LOC,PER\n"));
  EXPECT_THAT(text, HasSubstr("v1       failed  job-1"));
}

v1::Job RunningJob() {
  v1::Job job;
  job.set_state(v1::JOB_STATE_RUNNING);
  auto* p = job.mutable_progress();
  p->set_epoch(2);
  p->set_epochs(5);
  p->set_step(120);
  p->set_total_steps(300);
  p->set_train_loss(0.41234);
  p->set_valid_metric(0.8712);
  p->set_eta_seconds(83);
  return job;
}

TEST(ProgressTest, LineAndBar) {
  EXPECT_EQ(FormatProgress(RunningJob()),
            "running  epoch 2/5  step 120/300  loss 0.4123  valid 0.8712  "
            "ETA 1m23s");
  EXPECT_EQ(ProgressBar(RunningJob(), 10), "[####------]  40%");
  v1::Job queued;
  queued.set_state(v1::JOB_STATE_QUEUED);
  EXPECT_EQ(FormatProgress(queued), "queued");
  EXPECT_EQ(ProgressBar(queued), "");
  v1::Job done;
  done.set_state(v1::JOB_STATE_SUCCEEDED);
  (*done.mutable_metrics())["valid_f1"] = 0.9;
  EXPECT_EQ(FormatProgress(done), "succeeded  valid_f1=0.9000");
  // A job that stopped early says so, counts print as integers, and its bar
  // is full.
  v1::Job early = RunningJob();
  early.set_state(v1::JOB_STATE_SUCCEEDED);
  (*early.mutable_metrics())["best_epoch"] = 1;
  (*early.mutable_metrics())["epochs"] = 3;
  (*early.mutable_metrics())["early_stopped"] = 1;
  (*early.mutable_metrics())["valid_metric"] = 0.875;
  EXPECT_EQ(FormatProgress(early),
            "succeeded  best_epoch=1 early_stopped=1 epochs=3 valid_metric=0.8750\n"
            "stopped early after epoch 3 of 5: the validation metric did not improve for "
            "--patience epochs; kept epoch 1");
  EXPECT_EQ(ProgressBar(early, 10), "[##########] 100%");
}

TEST(ProgressTest, PlainOutputIsOneLinePerChange) {
  std::ostringstream out;
  ProgressPrinter printer(&out, /*terminal=*/false);
  printer.Update(RunningJob());
  printer.Update(RunningJob());  // Unchanged: not repeated.
  v1::Job later = RunningJob();
  later.mutable_progress()->set_step(150);
  printer.Update(later);
  printer.Finish();
  EXPECT_THAT(out.str(), Not(HasSubstr("\r")));
  EXPECT_EQ(out.str(),
            FormatProgress(RunningJob()) + "\n" + FormatProgress(later) + "\n");
}

TEST(ProgressTest, TerminalOutputRewritesOneLine) {
  std::ostringstream out;
  ProgressPrinter printer(&out, /*terminal=*/true);
  printer.Update(RunningJob());
  v1::Job later = RunningJob();
  later.mutable_progress()->set_step(300);
  printer.Update(later);
  printer.Finish();
  const std::string text = out.str();
  EXPECT_EQ(text.find('\n'), text.size() - 1);  // Only the final newline.
  EXPECT_EQ(text.rfind("\r\x1b[K") + 4,
            text.find("[####################] 100%"));
  EXPECT_THAT(text, HasSubstr("[####################] 100%  running"));
}

}  // namespace
}  // namespace ptune::client

// The `ptune` command line end to end (argument parsing, output, exit codes)
// against the in-process doubles of client/test_server.h.
#include "client/cli.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/local_files.h"
#include "client/test_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ptune::client {
namespace {

using ::ptune::client::testing::TestServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  CliResult Run(const std::vector<std::string>& args, bool terminal = false) {
    std::ostringstream out;
    std::ostringstream err;
    CliEnv env;
    env.out = &out;
    env.err = &err;
    env.terminal = terminal;
    env.env_address = env_address_;
    env.env_api_key = env_api_key_;
    env.make_client = [this](const ClientOptions& options) {
      options_ = options;
      return absl::StatusOr<std::unique_ptr<PtuneClient>>(
          server_.Client(options));
    };
    CliResult result;
    result.code = RunCli(args, env);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::string TempPath(const std::string& name) {
    return (std::filesystem::path(::testing::TempDir()) / ("cli_" + name))
        .string();
  }

  TestServer server_;
  std::string env_address_;
  std::string env_api_key_ = "env-key";
  ClientOptions options_;
};

TEST_F(CliTest, ClassifyPrintsLabelScoreTextAndSendsTheKeyFromTheEnvironment) {
  {
    absl::MutexLock lock(&server_.state.mu);
    auto* r = server_.state.classify_response.add_results();
    r->set_label("positive");
    r->set_score(0.9f);
    r = server_.state.classify_response.add_results();
    r->set_label("negative");
    r->set_score(0.75f);
  }
  CliResult result = Run({"classify", "--prompt", "sentiment", "--version=2",
                          "great film", "-1 stars"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "LABEL     SCORE   TEXT\n"
            "positive  0.9000  great film\n"
            "negative  0.7500  -1 stars\n");
  EXPECT_EQ(options_.address, "localhost:8500");
  EXPECT_EQ(options_.api_key, "env-key");
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_EQ(server_.state.classify_request.prompt_name(), "sentiment");
  EXPECT_EQ(server_.state.classify_request.version(), 2);
  EXPECT_THAT(server_.state.classify_request.texts(),
              ElementsAre("great film", "-1 stars"));
  EXPECT_THAT(server_.state.authorizations, ElementsAre("Bearer env-key"));
}

TEST_F(CliTest, FlagsOverrideTheEnvironment) {
  env_address_ = "env-host:1";
  Run({"jobs", "get", "j1"});
  EXPECT_EQ(options_.address, "env-host:1");
  Run({"jobs", "get", "j1", "--addr", "flag-host:2", "--api_key=flag-key",
       "--timeout", "2.5"});
  EXPECT_EQ(options_.address, "flag-host:2");
  EXPECT_EQ(options_.api_key, "flag-key");
  EXPECT_EQ(options_.timeout, absl::Milliseconds(2500));
}

TEST_F(CliTest, EnsembleFlagSendsNamesAndVersions) {
  CliResult result = Run({"classify", "--prompt", "a", "--ensemble", "b,c:3", "text"});
  EXPECT_EQ(result.code, 0) << result.err;
  const auto& ensemble = server_.state.classify_request.ensemble();
  ASSERT_EQ(ensemble.size(), 2);
  EXPECT_EQ(ensemble[0].name(), "b");
  EXPECT_EQ(ensemble[0].version(), 0);
  EXPECT_EQ(ensemble[1].name(), "c");
  EXPECT_EQ(ensemble[1].version(), 3);
  CliResult bad = Run({"tag", "--prompt", "a", "--ensemble", "b:x", "text"});
  EXPECT_NE(bad.code, 0);
  EXPECT_THAT(bad.err, HasSubstr("NAME:VERSION"));
}

TEST_F(CliTest, EvalReadsTheFileForThePromptsTaskAndPrintsTheReport) {
  const std::string path = TempPath("reviews.tsv");
  ASSERT_TRUE(WriteLocalFile(path, "text\tlabel\ngood\tpos\nbad\tneg\nfine\tpos\n").ok());
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.prompt.set_task(v1::TASK_CLASSIFY);
    v1::EvaluatePromptResponse& r = server_.state.evaluate_response;
    r.set_version(2);
    r.set_example_count(3);
    v1::ClassificationMetrics* c = r.mutable_classification();
    c->set_accuracy(2.0 / 3);
    c->set_macro_f1(0.6667);
    for (const char* label : {"neg", "pos"}) c->add_labels()->set_label(label);
    for (int64_t cell : {1, 0, 1, 1}) c->add_confusion(cell);
  }
  CliResult result = Run({"eval", "--prompt", "s", "--ensemble", "t:1", "--data", path});
  ASSERT_EQ(result.code, 0) << result.err;
  {
    absl::MutexLock lock(&server_.state.mu);
    const v1::EvaluatePromptRequest& sent = server_.state.evaluate_request;
    EXPECT_EQ(sent.prompt_name(), "s");
    ASSERT_EQ(sent.ensemble_size(), 1);
    EXPECT_EQ(sent.ensemble(0).version(), 1);
    ASSERT_EQ(sent.examples().examples_size(), 3);
    EXPECT_EQ(sent.examples().examples(1).label(), "neg");
  }
  EXPECT_THAT(result.out, HasSubstr("prompt s v2, 3 examples"));
  EXPECT_THAT(result.out, HasSubstr("accuracy 0.6667  macro-F1 0.6667"));
  EXPECT_THAT(result.out, HasSubstr("confusion (rows: gold, columns: predicted)"));
  EXPECT_THAT(result.out, HasSubstr("LABEL  PRECISION"));
  // A stored dataset goes by id; exactly one source.
  ASSERT_EQ(Run({"eval", "--prompt", "s", "--dataset", "ds_1"}).code, 0);
  {
    absl::MutexLock lock(&server_.state.mu);
    EXPECT_EQ(server_.state.evaluate_request.dataset_id(), "ds_1");
  }
  CliResult both = Run({"eval", "--prompt", "s", "--dataset", "ds_1", "--data", path});
  EXPECT_NE(both.code, 0);
  EXPECT_THAT(both.err, HasSubstr("exactly one of --data FILE and --dataset ID"));
}

TEST_F(CliTest, ClassifyJsonParsesBackToTheResponse) {
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.classify_response.set_version(3);
    server_.state.classify_response.add_results()->set_label("x");
  }
  CliResult result = Run({"classify", "--prompt", "p", "--json", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  v1::ClassifyResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &parsed).ok())
      << result.out;
  EXPECT_EQ(parsed.version(), 3);
  EXPECT_EQ(parsed.results(0).label(), "x");
}

TEST_F(CliTest, TextsFromAFile) {
  const std::string path = TempPath("texts.txt");
  ASSERT_TRUE(WriteLocalFile(path, "first line\r\n\nsecond line\n").ok());
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.tag_response.add_results();
    server_.state.tag_response.add_results();
  }
  CliResult result = Run({"tag", "--prompt", "ner", "--file", path});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "first line\n  (no entities)\n\nsecond line\n  (no entities)\n");
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_THAT(server_.state.tag_request.texts(),
              ElementsAre("first line", "second line"));
}

TEST_F(CliTest, ServerErrorsAreOneLineWithTheCodeAndAnExitCodePerClass) {
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.status =
        grpc::Status(grpc::StatusCode::NOT_FOUND, "prompt \"p\" not found");
  }
  CliResult result = Run({"prompts", "get", "p"});
  EXPECT_EQ(result.code, kExitNotFound);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "ptune: NOT_FOUND: prompt \"p\" not found\n");
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad key");
  }
  EXPECT_EQ(Run({"prompts", "list"}).code, kExitAuth);
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.status =
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "quota");
  }
  EXPECT_EQ(Run({"admin", "list-tenants"}).code, kExitRetryable);
}

TEST_F(CliTest, UsageErrors) {
  CliResult unknown_flag = Run({"classify", "--promt", "p", "text"});
  EXPECT_EQ(unknown_flag.code, kExitInvalidArgument);
  EXPECT_EQ(unknown_flag.err,
            "ptune: INVALID_ARGUMENT: unknown flag --promt (see ptune "
            "classify --help)\n");
  CliResult unknown_command = Run({"jobs", "frobnicate"});
  EXPECT_EQ(unknown_command.code, kExitInvalidArgument);
  EXPECT_THAT(unknown_command.err,
              HasSubstr("ptune: INVALID_ARGUMENT: unknown command \"jobs "
                        "frobnicate\""));
  EXPECT_EQ(Run({}).code, kExitInvalidArgument);
  CliResult no_texts = Run({"classify", "--prompt", "p"});
  EXPECT_EQ(no_texts.code, kExitInvalidArgument);
  EXPECT_THAT(no_texts.err, HasSubstr("give the texts"));
  EXPECT_EQ(Run({"jobs", "get"}).code, kExitInvalidArgument);
  EXPECT_EQ(Run({"jobs", "list", "--state", "sleeping"}).code,
            kExitInvalidArgument);
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_TRUE(server_.state.methods.empty());
}

TEST_F(CliTest, HelpListsCommandsAndFlags) {
  CliResult top = Run({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* usage :
       {"ptune train --name N", "ptune jobs list", "ptune jobs watch ID",
        "ptune classify --prompt N", "ptune tag --prompt N",
        "ptune prompts export NAME --out DIR", "ptune datasets upload",
        "ptune admin create-tenant NAME", "ptune admin set-quota TENANT_ID",
        "--api_key KEY", "--json"}) {
    EXPECT_THAT(top.out, HasSubstr(usage));
  }
  CliResult train = Run({"train", "--help"});
  EXPECT_EQ(train.code, 0);
  for (const char* flag : {"--lengths M1,M2,...", "--reparam none|mlp",
                           "--wait", "--template TEXT", "--addr HOST:PORT"}) {
    EXPECT_THAT(train.out, HasSubstr(flag));
  }
  EXPECT_THAT(Run({"admin", "--help"}).out, Not(HasSubstr("ptune classify")));
}

TEST_F(CliTest, TrainBuildsTheRequestFromFlagsAndFiles) {
  const std::string train = TempPath("train.tsv");
  ASSERT_TRUE(WriteLocalFile(train, "text\tlabel\ngood\tpos\nbad\tneg\n").ok());
  CliResult result =
      Run({"train",      "--name",       "sent",    "--task",
           "classify",   "--train",      train,     "--labels",
           "neg,pos",    "--kind",       "shallow", "--lengths",
           "8,16",       "--placement",  "infix",   "--init_text",
           "is it good", "--reparam",    "mlp",     "--l2",
           "0.01",       "--pooling",    "mean",    "--epochs",
           "3",          "--batch_size", "8",       "--lr",
           "0.1",        "--seed",       "7",       "--case_embeddings",
           "--test_dataset", "ds_test", "--templates", "A {text}|{text} B",
           "--verbalizers", "bad,good|awful,great", "--search_epochs", "2",
           "--aux_datasets", "ds_a,ds_b"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "job job-1 queued: prompt sent v1\n");
  absl::MutexLock lock(&server_.state.mu);
  const v1::TrainPromptRequest& r = server_.state.train_request;
  EXPECT_EQ(r.prompt_name(), "sent");
  EXPECT_EQ(r.task(), v1::TASK_CLASSIFY);
  EXPECT_THAT(r.labels(), ElementsAre("neg", "pos"));
  ASSERT_EQ(r.train_examples().examples_size(), 2);
  EXPECT_EQ(r.train_examples().examples(1).text(), "bad");
  EXPECT_EQ(r.train_examples().examples(1).label(), "neg");
  EXPECT_FALSE(r.has_valid_examples());
  EXPECT_EQ(r.test_dataset_id(), "ds_test");
  ASSERT_EQ(r.auxiliary_tasks_size(), 2);
  EXPECT_EQ(r.auxiliary_tasks(1).dataset_id(), "ds_b");
  EXPECT_THAT(r.spec().template_candidates(), ElementsAre("A {text}", "{text} B"));
  ASSERT_EQ(r.spec().verbalizer_candidates_size(), 2);
  EXPECT_THAT(r.spec().verbalizer_candidates(1).words(), ElementsAre("awful", "great"));
  EXPECT_EQ(r.options().search_epochs(), 2);
  EXPECT_EQ(r.spec().kind(), v1::PROMPT_KIND_SHALLOW);
  EXPECT_THAT(r.spec().length_candidates(), ElementsAre(8, 16));
  EXPECT_EQ(r.spec().placement(), v1::PLACEMENT_INFIX);
  EXPECT_EQ(r.spec().init(), v1::PROMPT_INIT_TEXT);
  EXPECT_EQ(r.spec().init_text(), "is it good");
  EXPECT_EQ(r.spec().reparameterization(), v1::REPARAMETERIZATION_MLP);
  EXPECT_DOUBLE_EQ(r.spec().l2(), 0.01);
  EXPECT_EQ(r.spec().pooling(), v1::POOLING_MEAN);
  EXPECT_TRUE(r.spec().has_case_embeddings() && r.spec().case_embeddings());
  EXPECT_EQ(r.options().epochs(), 3);
  EXPECT_EQ(r.options().batch_size(), 8);
  EXPECT_DOUBLE_EQ(r.options().learning_rate(), 0.1);
  EXPECT_EQ(r.options().seed(), 7u);
}

TEST_F(CliTest, TrainOnADatasetTakesItsTask) {
  {
    absl::MutexLock lock(&server_.state.mu);
    v1::Dataset& dataset = server_.state.datasets.emplace_back();
    dataset.set_id("ds_ner");
    dataset.set_task(v1::TASK_TAG);
  }
  CliResult result = Run({"train", "--name", "ner", "--train_dataset", "ds_ner"});
  ASSERT_EQ(result.code, 0) << result.err;
  {
    absl::MutexLock lock(&server_.state.mu);
    EXPECT_EQ(server_.state.train_request.task(), v1::TASK_TAG);
    EXPECT_EQ(server_.state.train_request.train_dataset_id(), "ds_ner");
  }
  CliResult missing = Run({"train", "--name", "ner", "--train_dataset", "ds_gone"});
  EXPECT_NE(missing.code, 0);
  EXPECT_THAT(missing.err, HasSubstr("--train_dataset ds_gone: no such dataset"));
}

TEST_F(CliTest, TrainRejectsBadFlagsBeforeCalling) {
  const std::string train = TempPath("train2.tsv");
  ASSERT_TRUE(WriteLocalFile(train, "text\tlabel\ngood\tpos\n").ok());
  CliResult kind = Run({"train", "--name", "s", "--task", "classify", "--train",
                        train, "--kind", "medium"});
  EXPECT_EQ(kind.code, kExitInvalidArgument);
  EXPECT_THAT(kind.err, HasSubstr("--kind: \"medium\" is not one of"));
  EXPECT_EQ(Run({"train", "--name", "s", "--task", "classify"}).code,
            kExitInvalidArgument);
  EXPECT_EQ(Run({"train", "--task", "tag", "--train", train}).code,
            kExitInvalidArgument);
  CliResult no_task = Run({"train", "--name", "s", "--train", train});
  EXPECT_EQ(no_task.code, kExitInvalidArgument);
  EXPECT_THAT(no_task.err, HasSubstr("--task is required"));
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_TRUE(server_.state.methods.empty());
}

std::vector<v1::Job> Stream(v1::JobState end_state) {
  std::vector<v1::Job> jobs;
  for (int step = 0; step <= 2; ++step) {
    v1::Job job;
    job.set_id("job-1");
    job.set_state(v1::JOB_STATE_RUNNING);
    job.mutable_progress()->set_epoch(1);
    job.mutable_progress()->set_epochs(1);
    job.mutable_progress()->set_step(step);
    job.mutable_progress()->set_total_steps(2);
    jobs.push_back(job);
  }
  v1::Job end;
  end.set_id("job-1");
  end.set_state(end_state);
  if (end_state == v1::JOB_STATE_FAILED) end.set_reason("loss is NaN");
  jobs.push_back(end);
  return jobs;
}

TEST_F(CliTest, TrainWaitSucceedsWithPlainProgressLines) {
  const std::string train = TempPath("train3.tsv");
  ASSERT_TRUE(WriteLocalFile(train, "text\tlabel\ngood\tpos\n").ok());
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.watch_stream = Stream(v1::JOB_STATE_SUCCEEDED);
  }
  CliResult result = Run({"train", "--name", "s", "--task", "classify",
                          "--train", train, "--wait"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, Not(HasSubstr("\r")));
  EXPECT_THAT(result.out, HasSubstr("running  epoch 1/1  step 1/2"));
  EXPECT_THAT(result.out, HasSubstr("\nsucceeded\n"));
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_THAT(server_.state.methods, ElementsAre("TrainPrompt", "WatchJob"));
  EXPECT_EQ(server_.state.last_id, "job-1");
}

TEST_F(CliTest, WatchOfAFailedJobExitsNonZeroOnATerminal) {
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.watch_stream = Stream(v1::JOB_STATE_FAILED);
  }
  CliResult result = Run({"jobs", "watch", "job-1"}, /*terminal=*/true);
  EXPECT_EQ(result.code, kExitJobNotSucceeded);
  EXPECT_THAT(result.out, HasSubstr("\r\x1b[K"));
  EXPECT_EQ(result.err, "ptune: ABORTED: job job-1 failed: loss is NaN\n");
}

TEST_F(CliTest, WatchJsonPrintsOneLinePerMessage) {
  {
    absl::MutexLock lock(&server_.state.mu);
    server_.state.watch_stream = Stream(v1::JOB_STATE_CANCELLED);
  }
  CliResult result = Run({"jobs", "watch", "job-1", "--json"});
  EXPECT_EQ(result.code, kExitJobNotSucceeded);
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 4);
  EXPECT_THAT(result.out, HasSubstr("\"state\":\"JOB_STATE_CANCELLED\""));
}

TEST_F(CliTest, JobsListPassesTheStateAndPrintsATable) {
  {
    absl::MutexLock lock(&server_.state.mu);
    for (int i = 0; i < 3; ++i) {
      v1::Job job;
      job.set_id("job-" + std::to_string(i));
      job.set_state(v1::JOB_STATE_QUEUED);
      server_.state.jobs.push_back(job);
    }
  }
  CliResult result = Run({"jobs", "list", "--state", "queued"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\njob-2 "));
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 4);
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_EQ(server_.state.list_jobs_request.state(), v1::JOB_STATE_QUEUED);
}

TEST_F(CliTest, AdminCommands) {
  CliResult tenant = Run({"admin", "create-tenant", "acme", "--max_prompts",
                          "5", "--requests_per_second=2.5"});
  ASSERT_EQ(tenant.code, 0) << tenant.err;
  EXPECT_THAT(tenant.out, HasSubstr("max_prompts:         5\n"));
  CliResult key = Run({"admin", "create-key", "t-1"});
  ASSERT_EQ(key.code, 0) << key.err;
  EXPECT_THAT(key.out, HasSubstr("api_key: secret-1\n"));
  EXPECT_EQ(Run({"admin", "revoke-key", "t-1", "k-1"}).out,
            "revoked key k-1\n");
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_EQ(server_.state.create_tenant_request.name(), "acme");
  EXPECT_EQ(server_.state.create_tenant_request.quotas().max_prompts(), 5);
  EXPECT_DOUBLE_EQ(
      server_.state.create_tenant_request.quotas().requests_per_second(), 2.5);
  EXPECT_EQ(server_.state.last_id, "t-1/k-1");
}

TEST_F(CliTest, DatasetsUploadAndPromptsExport) {
  const std::string data = TempPath("up.jsonl");
  ASSERT_TRUE(WriteLocalFile(data, "{\"text\":\"a\",\"label\":\"b\"}\n").ok());
  CliResult upload = Run({"datasets", "upload", "--name", "d", "--task",
                          "classify", "--format", "jsonl", data});
  ASSERT_EQ(upload.code, 0) << upload.err;
  EXPECT_THAT(upload.out, HasSubstr("id:       ds-1\n"));
  {
    absl::MutexLock lock(&server_.state.mu);
    EXPECT_EQ(server_.state.upload_headers[0].format(),
              v1::DATASET_FORMAT_JSONL);
    v1::File* file = server_.state.export_response.add_files();
    file->set_name("adapter_config.json");
    file->set_content("{}");
  }
  const std::string dir = TempPath("export_dir");
  CliResult exported = Run({"prompts", "export", "p", "--out", dir});
  ASSERT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(exported.out, dir + "/adapter_config.json\n");
  EXPECT_EQ(*ReadLocalFile(dir + "/adapter_config.json"), "{}");
}

TEST_F(CliTest, SetQuotaSendsOnlyTheQuotasGiven) {
  EXPECT_EQ(Run({"admin", "set-quota", "t-1", "--burst", "-1"}).code,
            kExitInvalidArgument);
  CliResult result =
      Run({"admin", "set-quota", "t-1", "--max_concurrent_jobs", "2"});
  ASSERT_EQ(result.code, 0) << result.err;
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_THAT(server_.state.methods, ElementsAre("SetQuota"));
  const v1::Quotas& sent = server_.state.set_quota_request.quotas();
  EXPECT_EQ(server_.state.set_quota_request.tenant_id(), "t-1");
  EXPECT_EQ(sent.max_concurrent_jobs(), 2);
  EXPECT_EQ(sent.max_prompts(), 0);  // 0 = keep the current value.
  EXPECT_EQ(sent.burst(), 0);
}

TEST_F(CliTest, PromptsListFetchesEveryPage) {
  {
    absl::MutexLock lock(&server_.state.mu);
    for (const char* name : {"alpha", "beta", "gamma"}) {
      v1::Prompt prompt;
      prompt.set_name(name);
      prompt.set_task(v1::TASK_CLASSIFY);
      prompt.set_version(1);
      prompt.set_state(v1::PROMPT_STATE_READY);
      (*prompt.mutable_metrics())["valid_metric"] = 0.75;
      (*prompt.mutable_metrics())["per_type.PER.f1"] = 0.5;
      server_.state.prompts.push_back(prompt);
    }
  }
  CliResult result = Run({"prompts", "list"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "NAME   TASK      VERSION  STATE  LABELS  VALID\n"
            "alpha  classify  v1       ready  0       0.7500\n"
            "beta   classify  v1       ready  0       0.7500\n"
            "gamma  classify  v1       ready  0       0.7500\n");
  absl::MutexLock lock(&server_.state.mu);
  EXPECT_EQ(server_.state.methods.size(), 3u);
}

TEST(ExitCodeTest, DistinctClasses) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), kExitInvalidArgument);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("")), kExitAuth);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), kExitRetryable);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("")), kExitPrecondition);
  EXPECT_EQ(ExitCodeFor(absl::AbortedError("")), kExitJobNotSucceeded);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("")), kExitOther);
  EXPECT_EQ(ErrorLine(LocalError(absl::NotFoundError("cannot open x.tsv: No such file"))),
            "ptune: cannot open x.tsv: No such file");
  EXPECT_EQ(ErrorLine(absl::UnavailableError("queue full")),
            "ptune: UNAVAILABLE: queue full");
}

}  // namespace
}  // namespace ptune::client

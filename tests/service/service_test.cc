// Service tests on an in-process server (real backbone, engine, SQLite
// store, job runner, gRPC on loopback): the whole train → watch → use cycle,
// authentication, tenant isolation on every RPC, input validation, mixed-
// tenant batches, metrics, and restart.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/training/trainer.h"
#include "tests/service/service_fixture.h"
#include "tests/testing/test_paths.h"

namespace ptune::testing {
namespace {

using ::testing::HasSubstr;

std::string ExamplesDir() { return SourceDir() + "/client/examples"; }

void ExpectInvalid(const grpc::Status& status, const std::string& needle) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(needle));
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::filesystem::temp_directory_path() /
                           ("ptune-service-test-" + std::to_string(getpid())));
    service::Server::Options options;
    options.limits.max_texts = 8;
    options.training_concurrency = 2;
    server_ = InProcessServer::Start(*dir_, options).release();
    ASSERT_NE(server_, nullptr);
    alice_ = new TestTenant(server_->CreateTenant("alice"));
    bob_ = new TestTenant(server_->CreateTenant("bob"));

    // Alice trains a sentiment prompt and an NER prompt, Bob a sentiment
    // prompt of another length; the jobs share the executor.
    sentiment_job_ = new std::string(Train(alice_->key, "sentiment", v1::TASK_CLASSIFY,
                                           ReadTsvExamples(ExamplesDir() + "/sentiment.tsv"), 8));
    ner_job_ = new std::string(Train(alice_->key, "ner", v1::TASK_TAG,
                                     ReadConllExamples(ExamplesDir() + "/ner.conll"), 8));
    bob_job_ = new std::string(Train(bob_->key, "mood", v1::TASK_CLASSIFY,
                                     ReadTsvExamples(ExamplesDir() + "/sentiment.tsv"), 4));
  }

  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(*dir_);
  }

  static std::string Train(const std::string& key, const std::string& name, v1::Task task,
                           const v1::ExampleSet& examples, int length) {
    v1::TrainPromptRequest request;
    request.set_prompt_name(name);
    request.set_task(task);
    *request.mutable_train_examples() = examples;
    *request.mutable_valid_examples() = examples;
    request.mutable_spec()->set_length(length);
    request.mutable_options()->set_epochs(3);
    request.mutable_options()->set_batch_size(8);
    v1::TrainPromptResponse response;
    const grpc::Status status =
        server_->prompts().TrainPrompt(Call(key).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.job().state(), v1::JOB_STATE_QUEUED);
    return response.job().id();
  }

  static grpc::Status Classify(const std::string& key, const std::string& prompt,
                               const std::vector<std::string>& texts,
                               v1::ClassifyResponse* response) {
    v1::ClassifyRequest request;
    request.set_prompt_name(prompt);
    for (const auto& t : texts) request.add_texts(t);
    return server_->prompts().Classify(Call(key).get(), request, response);
  }

  static grpc::Status DeletePrompt(const std::string& key, const std::string& name,
                                   v1::DeletePromptResponse* response) {
    v1::DeletePromptRequest request;
    request.set_prompt_name(name);
    return server_->prompts().DeletePrompt(Call(key).get(), request, response);
  }

  static grpc::Status DeletePrompt(const std::string& key, const std::string& name) {
    v1::DeletePromptResponse ignored;
    return DeletePrompt(key, name, &ignored);
  }

  static std::string* dir_;
  static InProcessServer* server_;
  static TestTenant* alice_;
  static TestTenant* bob_;
  static std::string* sentiment_job_;
  static std::string* ner_job_;
  static std::string* bob_job_;
};

std::string* ServiceTest::dir_ = nullptr;
InProcessServer* ServiceTest::server_ = nullptr;
TestTenant* ServiceTest::alice_ = nullptr;
TestTenant* ServiceTest::bob_ = nullptr;
std::string* ServiceTest::sentiment_job_ = nullptr;
std::string* ServiceTest::ner_job_ = nullptr;
std::string* ServiceTest::bob_job_ = nullptr;

TEST_F(ServiceTest, JobsSucceedWithProgressAndMetrics) {
  for (const auto& [key, id] : {std::pair{alice_->key, *sentiment_job_},
                                std::pair{alice_->key, *ner_job_},
                                std::pair{bob_->key, *bob_job_}}) {
    const v1::Job job = WaitForJob(*server_, key, id);
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
    EXPECT_GE(job.progress().epoch(), 1);
    EXPECT_GT(job.progress().step(), 0);
    EXPECT_TRUE(job.metrics().contains("valid_metric")) << job.DebugString();
  }
  v1::GetPromptRequest get;
  get.set_prompt_name("sentiment");
  v1::Prompt prompt;
  ASSERT_TRUE(server_->prompts().GetPrompt(Call(alice_->key).get(), get, &prompt).ok());
  EXPECT_EQ(prompt.state(), v1::PROMPT_STATE_READY);
  EXPECT_EQ(prompt.version(), 1);
  EXPECT_EQ(prompt.spec().length(), 8);
  EXPECT_THAT(prompt.labels(), ::testing::ElementsAre("negative", "positive"));
  ASSERT_EQ(prompt.versions_size(), 1);
}

TEST_F(ServiceTest, ClassifyAnswersEveryTextWithProbabilities) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  v1::ClassifyResponse response;
  const grpc::Status status =
      Classify(alice_->key, "sentiment",
               {"what a wonderful , friendly place", "broken , late and rude"}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.version(), 1);
  for (const v1::Classification& r : response.results()) {
    ASSERT_EQ(r.scores_size(), 2);
    EXPECT_NEAR(r.scores(0).score() + r.scores(1).score(), 1.0, 1e-5);
    EXPECT_THAT(r.label(), ::testing::AnyOf("negative", "positive"));
  }
}

TEST_F(ServiceTest, TagEntitiesOffsetsPointIntoTheOriginalText) {
  const v1::Job job = WaitForJob(*server_, alice_->key, *ner_job_);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  v1::TagEntitiesRequest request;
  request.set_prompt_name("ner");
  const std::string text = "Zoë Müller flew from Berlin to Paris with Siemens .";
  request.add_texts(text);
  v1::TagEntitiesResponse response;
  const grpc::Status status =
      server_->prompts().TagEntities(Call(alice_->key).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 1);
  for (const v1::Entity& e : response.results(0).entities()) {
    ASSERT_LE(e.byte_end(), static_cast<int>(text.size()));
    EXPECT_EQ(text.substr(e.byte_start(), e.byte_end() - e.byte_start()), e.text());
    EXPECT_LT(e.start(), e.end());
    EXPECT_THAT(e.type(), ::testing::AnyOf("PER", "LOC", "ORG"));
  }
}

TEST_F(ServiceTest, UnauthenticatedAndWrongKeysAreRefused) {
  v1::ListPromptsRequest request;
  v1::ListPromptsResponse response;
  EXPECT_EQ(server_->prompts().ListPrompts(Call("").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_->prompts()
                .ListPrompts(Call("ptk_not-a-real-key").get(), request, &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ListTenantsResponse tenants;
  EXPECT_EQ(server_->admin()
                .ListTenants(Call(alice_->key).get(), v1::ListTenantsRequest(), &tenants)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(server_->prompts()
                .ListPrompts(Call(server_->admin_key()).get(), request, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServiceTest, HealthServiceAnswersWithoutKey) {
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServiceTest, AnotherTenantsObjectsAreNotFoundOnEveryRpc) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  auto& s = server_->prompts();
  const std::string& bob = bob_->key;
  auto expect_not_found = [](const grpc::Status& status, const char* rpc) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << rpc << ": " << status.error_message();
  };
  v1::Job job;
  v1::GetJobRequest get_job;
  get_job.set_job_id(*sentiment_job_);
  expect_not_found(s.GetJob(Call(bob).get(), get_job, &job), "GetJob");
  v1::CancelJobRequest cancel;
  cancel.set_job_id(*sentiment_job_);
  expect_not_found(s.CancelJob(Call(bob).get(), cancel, &job), "CancelJob");
  {
    auto context = Call(bob);
    v1::WatchJobRequest watch;
    watch.set_job_id(*sentiment_job_);
    auto reader = s.WatchJob(context.get(), watch);
    while (reader->Read(&job)) ADD_FAILURE() << "Bob read Alice's job";
    expect_not_found(reader->Finish(), "WatchJob");
  }
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(s.ListJobs(Call(bob).get(), v1::ListJobsRequest(), &jobs).ok());
  for (const v1::Job& j : jobs.jobs()) EXPECT_NE(j.id(), *sentiment_job_);
  v1::ClassifyResponse classified;
  expect_not_found(Classify(bob, "sentiment", {"hello"}, &classified), "Classify");
  v1::TagEntitiesRequest tag;
  tag.set_prompt_name("ner");
  tag.add_texts("hello");
  v1::TagEntitiesResponse tagged;
  expect_not_found(s.TagEntities(Call(bob).get(), tag, &tagged), "TagEntities");
  v1::GetPromptRequest get_prompt;
  get_prompt.set_prompt_name("sentiment");
  v1::Prompt prompt;
  expect_not_found(s.GetPrompt(Call(bob).get(), get_prompt, &prompt), "GetPrompt");
  v1::ListPromptsResponse prompts;
  ASSERT_TRUE(s.ListPrompts(Call(bob).get(), v1::ListPromptsRequest(), &prompts).ok());
  for (const v1::Prompt& p : prompts.prompts()) EXPECT_NE(p.name(), "sentiment");
  v1::ExportPromptRequest export_request;
  export_request.set_prompt_name("sentiment");
  v1::ExportPromptResponse exported;
  expect_not_found(s.ExportPrompt(Call(bob).get(), export_request, &exported),
                   "ExportPrompt");
  expect_not_found(DeletePrompt(bob, "sentiment"), "DeletePrompt");
  // Training over Alice's prompt name makes Bob's own prompt, not a version
  // of Alice's; init from Alice's prompt is NOT_FOUND.
  v1::TrainPromptRequest train;
  train.set_prompt_name("bobs");
  train.set_task(v1::TASK_CLASSIFY);
  *train.mutable_train_examples() = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  train.mutable_spec()->set_init(v1::PROMPT_INIT_PROMPT);
  train.mutable_spec()->set_init_prompt("sentiment");
  v1::TrainPromptResponse trained;
  expect_not_found(s.TrainPrompt(Call(bob).get(), train, &trained), "TrainPrompt(init)");
  // Alice's prompt is untouched.
  ASSERT_TRUE(s.GetPrompt(Call(alice_->key).get(), get_prompt, &prompt).ok());
}

TEST_F(ServiceTest, BadInputsGetInvalidArgumentNamingTheField) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  WaitForJob(*server_, alice_->key, *ner_job_);  // "ner" must be ready to be refused as a tag prompt
  v1::ClassifyResponse r;
  ExpectInvalid(Classify(alice_->key, "sentiment", {}, &r), "texts");
  ExpectInvalid(Classify(alice_->key, "sentiment", std::vector<std::string>(9, "x"), &r),
                 "limit is 8");
  // Invalid UTF-8 in a proto3 string field never reaches the service:
  // protobuf refuses to parse the request and gRPC C++ answers UNIMPLEMENTED
  // (ptune.proto documents exactly this).
  EXPECT_EQ(
      Classify(alice_->key, "sentiment", {"ok", std::string("bad \xff utf8")}, &r).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);
  ExpectInvalid(Classify(alice_->key, "bad name!", {"x"}, &r), "prompt_name");
  ExpectInvalid(Classify(alice_->key, "ner", {"x"}, &r), "tag prompt");

  v1::TrainPromptRequest train;
  train.set_prompt_name("t1");
  train.set_task(v1::TASK_CLASSIFY);
  *train.mutable_train_examples() = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  v1::TrainPromptResponse trained;
  auto try_train = [&](v1::TrainPromptRequest request) {
    return server_->prompts().TrainPrompt(Call(alice_->key).get(), request, &trained);
  };
  {
    v1::TrainPromptRequest bad = train;
    bad.mutable_spec()->set_length(500);
    ExpectInvalid(try_train(bad), "spec.length");
  }
  {
    v1::TrainPromptRequest bad = train;
    bad.add_labels("positive");
    bad.add_labels("neutral");
    ExpectInvalid(try_train(bad), "label \"negative\"");
  }
  {
    v1::TrainPromptRequest bad = train;
    bad.set_task(v1::TASK_UNSPECIFIED);
    ExpectInvalid(try_train(bad), "task");
  }
  {
    v1::TrainPromptRequest bad = train;
    bad.mutable_train_examples()->mutable_examples()->DeleteSubrange(2, 46);
    ExpectInvalid(try_train(bad), "at least 4");
  }
  {
    v1::TrainPromptRequest bad;
    bad.set_prompt_name("t2");
    bad.set_task(v1::TASK_TAG);
    *bad.mutable_train_examples() = ReadConllExamples(ExamplesDir() + "/ner.conll");
    bad.mutable_train_examples()->mutable_examples(0)->set_tags(0, "X-PER");
    ExpectInvalid(try_train(bad), "X-PER");
  }
  {
    v1::TrainPromptRequest bad = train;
    bad.mutable_options()->set_epochs(1000);
    ExpectInvalid(try_train(bad), "options.epochs");
  }
}

// Hardening (issue 14): every limit on what a head or training data may be
// is enforced at submit time, whether declared or derived from the data.
TEST_F(ServiceTest, HeadAndTrainingDataLimitsAreEnforcedAtSubmit) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  v1::TrainPromptResponse trained;
  auto try_train = [&](const v1::TrainPromptRequest& request) {
    return server_->prompts().TrainPrompt(Call(alice_->key).get(), request, &trained);
  };
  v1::TrainPromptRequest train;
  train.set_prompt_name("limits");
  train.set_task(v1::TASK_CLASSIFY);
  *train.mutable_train_examples() = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  {  // 300 labels derived from the data: more classes than --max_labels.
    v1::TrainPromptRequest bad = train;
    bad.mutable_train_examples()->clear_examples();
    for (int i = 0; i < 300; ++i) {
      v1::Example* e = bad.mutable_train_examples()->add_examples();
      e->set_text("text " + std::to_string(i));
      e->set_label("l" + std::to_string(i));
    }
    ExpectInvalid(try_train(bad), "300 labels; the limit is 256 (--max_labels)");
  }
  {  // Tagging: 200 entity types would make a 401-tag head.
    v1::TrainPromptRequest bad;
    bad.set_prompt_name("limits");
    bad.set_task(v1::TASK_TAG);
    for (int i = 0; i < 200; ++i) {
      v1::Example* e = bad.mutable_train_examples()->add_examples();
      e->set_text("w" + std::to_string(i));
      e->add_tokens("w" + std::to_string(i));
      e->add_tags("B-T" + std::to_string(i));
    }
    ExpectInvalid(try_train(bad), "401 tags; the limit is 256");
  }
  {
    v1::TrainPromptRequest bad = train;
    bad.add_labels("positive");
    bad.add_labels("positive");
    bad.add_labels("negative");
    ExpectInvalid(try_train(bad), "duplicate");
  }
  {  // A tagger with nothing to tag would train and serve nothing.
    v1::TrainPromptRequest bad;
    bad.set_prompt_name("limits");
    bad.set_task(v1::TASK_TAG);
    for (int i = 0; i < 4; ++i) {
      v1::Example* e = bad.mutable_train_examples()->add_examples();
      e->set_text("nothing here");
      e->add_tokens("nothing");
      e->add_tokens("here");
      e->add_tags("O");
      e->add_tags("O");
    }
    ExpectInvalid(try_train(bad), "at least one entity type");
  }
  {  // Training data obeys the serving limit on text size.
    v1::TrainPromptRequest bad = train;
    bad.mutable_train_examples()->mutable_examples(0)->set_text(std::string(20000, 'a'));
    ExpectInvalid(try_train(bad), "the limit is 16384 (--max_text_bytes)");
  }
  {  // A name keeps its task.
    v1::TrainPromptRequest bad;
    bad.set_prompt_name("sentiment");
    bad.set_task(v1::TASK_TAG);
    *bad.mutable_train_examples() = ReadConllExamples(ExamplesDir() + "/ner.conll");
    ExpectInvalid(try_train(bad), "is a classify prompt");
  }
}

// UploadDataset checks the header and the storage quota before it buffers
// data, and stops a stream as soon as it passes what it may send.
TEST_F(ServiceTest, UploadChecksTheHeaderAndQuotaFirst) {
  const TestTenant small = server_->CreateTenant("small-uploader");
  {
    v1::SetQuotaRequest quota;
    quota.set_tenant_id(small.id);
    quota.mutable_quotas()->set_max_stored_bytes(2000);
    v1::Tenant updated;
    ASSERT_TRUE(server_->admin().SetQuota(Call(server_->admin_key()).get(), quota, &updated).ok());
  }
  auto upload = [&](const std::string& name, const std::vector<std::string>& chunks) {
    v1::Dataset dataset;
    auto context = Call(small.key);
    auto writer = server_->prompts().UploadDataset(context.get(), &dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_task(v1::TASK_CLASSIFY);
    header.mutable_header()->set_format(v1::DATASET_FORMAT_TSV);
    bool open = writer->Write(header);
    for (const std::string& chunk : chunks) {
      if (!open) break;
      v1::UploadDatasetRequest message;
      message.set_chunk(chunk);
      open = writer->Write(message);
    }
    writer->WritesDone();
    return std::make_pair(writer->Finish(), dataset);
  };
  const std::string rows = "text\tlabel\ngood\tpos\nbad\tneg\ngreat\tpos\nawful\tneg\n";
  {
    const auto [status, dataset] = upload("fine", {rows});
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(dataset.example_count(), 4);
    // Listed, deletable, then gone (its bytes back in the quota).
    v1::ListDatasetsResponse listed;
    ASSERT_TRUE(server_->prompts()
                    .ListDatasets(Call(small.key).get(), v1::ListDatasetsRequest(), &listed)
                    .ok());
    ASSERT_EQ(listed.datasets_size(), 1);
    EXPECT_EQ(listed.datasets(0).id(), dataset.id());
    v1::DeleteDatasetRequest remove;
    remove.set_dataset_id(dataset.id());
    v1::DeleteDatasetResponse removed;
    EXPECT_TRUE(
        server_->prompts().DeleteDataset(Call(small.key).get(), remove, &removed).ok());
    EXPECT_EQ(server_->prompts().DeleteDataset(Call(small.key).get(), remove, &removed)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
    // Another tenant's dataset is NOT_FOUND too.
    const auto [again, kept] = upload("kept", {rows});
    ASSERT_TRUE(again.ok());
    remove.set_dataset_id(kept.id());
    EXPECT_EQ(server_->prompts().DeleteDataset(Call(alice_->key).get(), remove, &removed)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    const auto [status, dataset] = upload("bad name!", {rows});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("header.name"));
  }
  {  // 100 chunks of 1 KB against a 2,000-byte quota: refused at the 2nd.
    const auto [status, dataset] =
        upload("big", std::vector<std::string>(100, std::string(1000, 'x')));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("storage quota"));
  }
}

TEST_F(ServiceTest, MixedTenantBatchesGiveTheSameAnswersAsSingleCalls) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  WaitForJob(*server_, bob_->key, *bob_job_);
  const std::vector<std::string> texts = {"a lovely , sunny day", "the worst film ever",
                                          "it was fine i guess", "great staff"};
  // Alone, one text per call, one after another.
  std::vector<v1::ClassifyResponse> alone_a(texts.size()), alone_b(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(Classify(alice_->key, "sentiment", {texts[i]}, &alone_a[i]).ok());
    ASSERT_TRUE(Classify(bob_->key, "mood", {texts[i]}, &alone_b[i]).ok());
  }
  // Concurrently from both tenants, so that batches mix prompts.
  for (int round = 0; round < 3; ++round) {
    std::vector<v1::ClassifyResponse> mixed_a(texts.size()), mixed_b(texts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < texts.size(); ++i) {
      threads.emplace_back([&, i] { Classify(alice_->key, "sentiment", {texts[i]}, &mixed_a[i]); });
      threads.emplace_back([&, i] { Classify(bob_->key, "mood", {texts[i]}, &mixed_b[i]); });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_EQ(mixed_a[i].results_size(), 1);
      ASSERT_EQ(mixed_b[i].results_size(), 1);
      for (int k = 0; k < 2; ++k) {
        EXPECT_NEAR(mixed_a[i].results(0).scores(k).score(),
                    alone_a[i].results(0).scores(k).score(), 1e-5);
        EXPECT_NEAR(mixed_b[i].results(0).scores(k).score(),
                    alone_b[i].results(0).scores(k).score(), 1e-5);
      }
    }
  }
}

TEST_F(ServiceTest, RateLimitGivesResourceExhausted) {
  const TestTenant carol = server_->CreateTenant("carol");
  v1::SetQuotaRequest quota;
  quota.set_tenant_id(carol.id);
  quota.mutable_quotas()->set_requests_per_second(0.01);
  quota.mutable_quotas()->set_burst(2);
  v1::Tenant tenant;
  ASSERT_TRUE(server_->admin().SetQuota(Call(server_->admin_key()).get(), quota, &tenant).ok());
  v1::ListPromptsResponse response;
  grpc::StatusCode last = grpc::StatusCode::OK;
  for (int i = 0; i < 3; ++i) {
    last = server_->prompts()
               .ListPrompts(Call(carol.key).get(), v1::ListPromptsRequest(), &response)
               .error_code();
  }
  EXPECT_EQ(last, grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Counted by reason, and carol's calls by her tenant id.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto got = http.Get("/metrics");
  ASSERT_TRUE(got);
  EXPECT_THAT(got->body, ::testing::ContainsRegex(
                             "ptune_rejections_total\\{reason=\"rate_limit\"\\} [1-9]"));
  EXPECT_THAT(got->body, HasSubstr("ptune_tenant_requests_total{tenant=\"" + carol.id + "\"} 3"));
}

TEST_F(ServiceTest, RevokedKeyNoLongerAuthenticates) {
  const TestTenant dave = server_->CreateTenant("dave");
  v1::ListPromptsResponse response;
  ASSERT_TRUE(server_->prompts()
                  .ListPrompts(Call(dave.key).get(), v1::ListPromptsRequest(), &response)
                  .ok());
  // Find the key id: the tenant has exactly one.
  v1::CreateApiKeyRequest second;
  second.set_tenant_id(dave.id);
  v1::CreateApiKeyResponse created;
  ASSERT_TRUE(server_->admin().CreateApiKey(Call(server_->admin_key()).get(), second, &created).ok());
  v1::RevokeApiKeyRequest revoke;
  revoke.set_tenant_id(dave.id);
  revoke.set_key_id(created.key_id());
  v1::RevokeApiKeyResponse revoked;
  ASSERT_TRUE(server_->admin().RevokeApiKey(Call(server_->admin_key()).get(), revoke, &revoked).ok());
  EXPECT_EQ(server_->prompts()
                .ListPrompts(Call(created.api_key()).get(), v1::ListPromptsRequest(), &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(server_->prompts()
                  .ListPrompts(Call(dave.key).get(), v1::ListPromptsRequest(), &response)
                  .ok());
}

TEST_F(ServiceTest, ExportThenImportServesTheSameScores) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  v1::ExportPromptRequest export_request;
  export_request.set_prompt_name("sentiment");
  v1::ExportPromptResponse exported;
  grpc::Status status =
      server_->prompts().ExportPrompt(Call(alice_->key).get(), export_request, &exported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(exported.files_size(), 3);
  v1::ImportPromptRequest import_request;
  import_request.set_prompt_name("sentiment-copy");
  *import_request.mutable_files() = exported.files();
  v1::Prompt imported;
  status = server_->prompts().ImportPrompt(Call(alice_->key).get(), import_request, &imported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(imported.state(), v1::PROMPT_STATE_READY);
  v1::ClassifyResponse original, copy;
  ASSERT_TRUE(Classify(alice_->key, "sentiment", {"nice people"}, &original).ok());
  ASSERT_TRUE(Classify(alice_->key, "sentiment-copy", {"nice people"}, &copy).ok());
  EXPECT_NEAR(original.results(0).score(), copy.results(0).score(), 1e-5);
  v1::DeletePromptResponse deleted;
  ASSERT_TRUE(DeletePrompt(alice_->key, "sentiment-copy", &deleted).ok());
  EXPECT_EQ(deleted.deleted_versions(), 1);
  EXPECT_EQ(Classify(alice_->key, "sentiment-copy", {"x"}, &copy).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// EvaluatePrompt scores a prompt on labeled data: the report matches what
// Classify answers for the same texts (the engine test holds it equal to
// the offline evaluation), for inline examples and a stored dataset.
TEST_F(ServiceTest, EvaluatePromptReportsWhatClassifyAnswers) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  WaitForJob(*server_, alice_->key, *ner_job_);
  const v1::ExampleSet reviews = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  v1::EvaluatePromptRequest request;
  request.set_prompt_name("sentiment");
  *request.mutable_examples() = reviews;
  v1::EvaluatePromptResponse report;
  grpc::Status status =
      server_->prompts().EvaluatePrompt(Call(alice_->key).get(), request, &report);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(report.version(), 1);
  EXPECT_EQ(report.example_count(), reviews.examples_size());
  ASSERT_TRUE(report.has_classification());
  const v1::ClassificationMetrics& metrics = report.classification();

  // What Classify says about the same texts, in calls of --max_texts (8).
  std::vector<std::string> predicted;
  for (int begin = 0; begin < reviews.examples_size(); begin += 8) {
    std::vector<std::string> texts;
    for (int i = begin; i < std::min(begin + 8, reviews.examples_size()); ++i) {
      texts.push_back(reviews.examples(i).text());
    }
    v1::ClassifyResponse answer;
    ASSERT_TRUE(Classify(alice_->key, "sentiment", texts, &answer).ok());
    for (const v1::Classification& c : answer.results()) predicted.push_back(c.label());
  }
  std::vector<std::string> labels;
  for (const v1::LabelMetrics& label : metrics.labels()) labels.push_back(label.label());
  ASSERT_EQ(labels.size(), 2u);
  const int n = static_cast<int>(labels.size());
  ASSERT_EQ(metrics.confusion_size(), n * n);
  int correct = 0;
  std::vector<int64_t> confusion(n * n, 0);
  for (int i = 0; i < reviews.examples_size(); ++i) {
    const auto gold = std::find(labels.begin(), labels.end(), reviews.examples(i).label());
    const auto pred = std::find(labels.begin(), labels.end(), predicted[i]);
    ASSERT_NE(gold, labels.end());
    ASSERT_NE(pred, labels.end());
    ++confusion[(gold - labels.begin()) * n + (pred - labels.begin())];
    correct += gold == pred ? 1 : 0;
  }
  EXPECT_DOUBLE_EQ(metrics.accuracy(), static_cast<double>(correct) / reviews.examples_size());
  EXPECT_EQ(std::vector<int64_t>(metrics.confusion().begin(), metrics.confusion().end()),
            confusion);
  for (int l = 0; l < n; ++l) {
    int64_t support = 0, as_label = 0;
    for (int p = 0; p < n; ++p) support += confusion[l * n + p];
    for (int g = 0; g < n; ++g) as_label += confusion[g * n + l];
    EXPECT_EQ(metrics.labels(l).support(), support);
    EXPECT_EQ(metrics.labels(l).predicted(), as_label);
  }

  // A stored dataset scores the same.
  const v1::Dataset dataset =
      UploadFile(*server_, alice_->key, "reviews-eval", v1::TASK_CLASSIFY,
                 v1::DATASET_FORMAT_TSV, ExamplesDir() + "/sentiment.tsv");
  ASSERT_FALSE(dataset.id().empty());
  request.set_dataset_id(dataset.id());
  v1::EvaluatePromptResponse stored;
  status = server_->prompts().EvaluatePrompt(Call(alice_->key).get(), request, &stored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.classification().accuracy(), metrics.accuracy());

  // Tagging: entity scores per type.
  v1::EvaluatePromptRequest tag;
  tag.set_prompt_name("ner");
  *tag.mutable_examples() = ReadConllExamples(ExamplesDir() + "/ner.conll");
  status = server_->prompts().EvaluatePrompt(Call(alice_->key).get(), tag, &report);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(report.has_tagging());
  EXPECT_GT(report.tagging().gold(), 0);
  EXPECT_GT(report.tagging().types_size(), 0);
  EXPECT_GE(report.tagging().f1(), 0.0);

  // Clear errors.
  v1::EvaluatePromptRequest bad = request;
  bad.clear_dataset_id();
  v1::EvaluatePromptResponse unused;
  ExpectInvalid(server_->prompts().EvaluatePrompt(Call(alice_->key).get(), bad, &unused),
                "examples or dataset_id is required");
  *bad.mutable_examples() = reviews;
  bad.mutable_examples()->mutable_examples(2)->set_label("meh");
  ExpectInvalid(server_->prompts().EvaluatePrompt(Call(alice_->key).get(), bad, &unused),
                "example 2 has label 'meh'");
  *bad.mutable_examples() = reviews;
  bad.add_ensemble()->set_name("ner");
  ExpectInvalid(server_->prompts().EvaluatePrompt(Call(alice_->key).get(), bad, &unused),
                "ensemble: prompt ner is a tag prompt");
  v1::EvaluatePromptRequest wrong_task = tag;
  wrong_task.set_prompt_name("sentiment");
  ExpectInvalid(server_->prompts().EvaluatePrompt(Call(alice_->key).get(), wrong_task, &unused),
                "examples");
  bad.clear_ensemble();
  bad.set_prompt_name("mood");  // Bob's
  status = server_->prompts().EvaluatePrompt(Call(alice_->key).get(), bad, &unused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
}

// TrainPrompt's optional test data: the kept prompt is scored once training
// ends and the figures are stored with the version, equal to what
// EvaluatePrompt says about the same version and data.
TEST_F(ServiceTest, TrainPromptScoresItsTestData) {
  const v1::ExampleSet reviews = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  v1::TrainPromptRequest request;
  request.set_prompt_name("sentiment-tested");
  request.set_task(v1::TASK_CLASSIFY);
  *request.mutable_train_examples() = reviews;
  *request.mutable_test_examples() = reviews;
  request.mutable_spec()->set_length(4);
  request.mutable_options()->set_epochs(1);
  request.mutable_options()->set_batch_size(8);
  // A test label outside the label set is refused before anything is queued.
  v1::TrainPromptRequest bad = request;
  bad.mutable_test_examples()->mutable_examples(0)->set_label("meh");
  v1::TrainPromptResponse response;
  ExpectInvalid(server_->prompts().TrainPrompt(Call(alice_->key).get(), bad, &response),
                "label \"meh\" of the test data");
  grpc::Status status = server_->prompts().TrainPrompt(Call(alice_->key).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Job job = WaitForJob(*server_, alice_->key, response.job().id());
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
  ASSERT_TRUE(job.metrics().contains("test.accuracy"));
  EXPECT_TRUE(job.metrics().contains("test.macro_f1"));
  EXPECT_EQ(job.metrics().at("test_examples"), reviews.examples_size());
  // Short texts: max_tokens from the data is the default 128, stored with
  // the version.
  EXPECT_EQ(job.metrics().at("max_tokens"), 128);

  v1::EvaluatePromptRequest evaluate;
  evaluate.set_prompt_name("sentiment-tested");
  *evaluate.mutable_examples() = reviews;
  v1::EvaluatePromptResponse report;
  status = server_->prompts().EvaluatePrompt(Call(alice_->key).get(), evaluate, &report);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(report.classification().accuracy(), job.metrics().at("test.accuracy"));
  EXPECT_EQ(report.classification().macro_f1(), job.metrics().at("test.macro_f1"));
  ASSERT_TRUE(DeletePrompt(alice_->key, "sentiment-tested").ok());
}

// Unset epochs come from the training set's size (training::DefaultEpochs,
// as ptune-inspect's): a small set gets the most; early stopping may end
// sooner. search_epochs is then bounded by the proto's limit only.
TEST_F(ServiceTest, UnsetEpochsComeFromTheTrainingSetSize) {
  v1::TrainPromptRequest request;
  request.set_prompt_name("sentiment-default-epochs");
  request.set_task(v1::TASK_CLASSIFY);
  *request.mutable_train_examples() = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  request.mutable_spec()->set_length(2);
  request.mutable_options()->set_batch_size(16);
  v1::TrainPromptRequest bad = request;
  bad.mutable_options()->set_search_epochs(51);
  v1::TrainPromptResponse response;
  ExpectInvalid(server_->prompts().TrainPrompt(Call(alice_->key).get(), bad, &response),
                "options.search_epochs");
  grpc::Status status = server_->prompts().TrainPrompt(Call(alice_->key).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Job job = WaitForJob(*server_, alice_->key, response.job().id());
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
  const int train_examples = static_cast<int>(job.metrics().at("train_examples"));
  EXPECT_EQ(job.progress().epochs(), training::DefaultEpochs(train_examples));
  EXPECT_EQ(job.progress().epochs(), training::kMaxDefaultEpochs);  // a few dozen reviews
  ASSERT_TRUE(DeletePrompt(alice_->key, "sentiment-default-epochs").ok());
}

// Prompt search: every length x template candidate trains for
// search_epochs, the best continues, and the job reports g() of each.
TEST_F(ServiceTest, PromptSearchReportsEveryCandidate) {
  const v1::ExampleSet reviews = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  v1::TrainPromptRequest request;
  request.set_prompt_name("sentiment-searched");
  request.set_task(v1::TASK_CLASSIFY);
  *request.mutable_train_examples() = reviews;
  *request.mutable_valid_examples() = reviews;
  request.mutable_spec()->add_length_candidates(2);
  request.mutable_spec()->add_length_candidates(4);
  request.mutable_spec()->add_template_candidates("Review: {text}");
  request.mutable_spec()->add_template_candidates("{text} All in all .");
  request.mutable_options()->set_epochs(2);
  request.mutable_options()->set_search_epochs(1);
  request.mutable_options()->set_batch_size(8);

  v1::TrainPromptResponse response;
  const auto refused = [&](const v1::TrainPromptRequest& bad, const std::string& needle) {
    ExpectInvalid(server_->prompts().TrainPrompt(Call(alice_->key).get(), bad, &response),
                  needle);
  };
  v1::TrainPromptRequest bad = request;
  bad.mutable_options()->set_search_epochs(3);
  refused(bad, "options.search_epochs");
  bad = request;
  for (int i = 0; i < 7; ++i) bad.mutable_spec()->add_template_candidates("{text} .");
  refused(bad, "at most 16");
  bad = request;
  bad.mutable_spec()->add_template_candidates("no text slot");
  refused(bad, "search candidate (length 2, template \"no text slot\")");
  bad = request;
  bad.mutable_spec()->add_verbalizer_candidates()->add_words("bad");
  refused(bad, "a verbalizer needs pooling mask");  // and one word per label

  grpc::Status status = server_->prompts().TrainPrompt(Call(alice_->key).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Job job = WaitForJob(*server_, alice_->key, response.job().id());
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
  ASSERT_EQ(job.candidates_size(), 4);
  int chosen = -1;
  double best = -1;
  for (int i = 0; i < job.candidates_size(); ++i) {
    const v1::SearchCandidate& c = job.candidates(i);
    EXPECT_EQ(c.length(), i < 2 ? 2 : 4);
    EXPECT_EQ(c.template_text(), i % 2 == 0 ? "Review: {text}" : "{text} All in all .");
    if (c.chosen()) {
      EXPECT_EQ(chosen, -1) << "two candidates chosen";
      chosen = i;
    }
    best = std::max(best, c.valid_metric());
  }
  ASSERT_GE(chosen, 0);
  EXPECT_EQ(job.candidates(chosen).valid_metric(), best);
  // The version is the chosen candidate, trained on to options.epochs.
  v1::GetPromptRequest get;
  get.set_prompt_name("sentiment-searched");
  v1::Prompt prompt;
  ASSERT_TRUE(server_->prompts().GetPrompt(Call(alice_->key).get(), get, &prompt).ok());
  EXPECT_EQ(prompt.spec().length(), job.candidates(chosen).length());
  EXPECT_EQ(prompt.spec().template_text(), job.candidates(chosen).template_text());
  EXPECT_EQ(job.metrics().at("epochs"), 2);
  // The last progress is the winner's continuation: its epoch 2 of 2.
  EXPECT_EQ(job.progress().epochs(), 2);
  EXPECT_EQ(job.progress().epoch(), 2);
  ASSERT_TRUE(DeletePrompt(alice_->key, "sentiment-searched").ok());
}

// Multi-task prompt pre-training: a classification prompt trained together
// with a tagging dataset (one shared prompt, a head per task), then a new
// tagging task started from that prompt.
TEST_F(ServiceTest, PromptPreTrainingSharesOnePromptAcrossTasks) {
  const v1::Dataset ner = UploadFile(*server_, alice_->key, "ner-aux", v1::TASK_TAG,
                                     v1::DATASET_FORMAT_CONLL, ExamplesDir() + "/ner.conll");
  ASSERT_FALSE(ner.id().empty());
  const v1::ExampleSet reviews = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  v1::TrainPromptRequest request;
  request.set_prompt_name("pretrained");
  request.set_task(v1::TASK_CLASSIFY);
  *request.mutable_train_examples() = reviews;
  *request.mutable_valid_examples() = reviews;
  request.mutable_spec()->set_length(4);
  request.mutable_options()->set_epochs(1);
  request.mutable_options()->set_batch_size(8);
  request.add_auxiliary_tasks()->set_dataset_id(ner.id());

  v1::TrainPromptResponse response;
  const auto call = [&](const v1::TrainPromptRequest& r) {
    return server_->prompts().TrainPrompt(Call(alice_->key).get(), r, &response);
  };
  v1::TrainPromptRequest bad = request;
  bad.mutable_auxiliary_tasks(0)->clear_dataset_id();
  ExpectInvalid(call(bad), "auxiliary_tasks[0].dataset_id is required");
  bad = request;
  bad.mutable_auxiliary_tasks(0)->add_labels("PER");  // the data has more types
  ExpectInvalid(call(bad), "auxiliary_tasks[0]: entity type");
  bad = request;
  for (int i = 0; i < 8; ++i) *bad.add_auxiliary_tasks() = request.auxiliary_tasks(0);
  ExpectInvalid(call(bad), "the limit is 8");
  bad = request;
  bad.mutable_auxiliary_tasks(0)->set_dataset_id("ds_missing");
  EXPECT_EQ(call(bad).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::Status status = call(request);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Job job = WaitForJob(*server_, alice_->key, response.job().id());
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
  EXPECT_EQ(job.metrics().at("auxiliary_examples"), ner.example_count());
  // An epoch passes over both sets.
  EXPECT_EQ(job.progress().total_steps(),
            (reviews.examples_size() + 7) / 8 + (ner.example_count() + 7) / 8);

  // A new task starts from the pre-trained prompt.
  v1::TrainPromptRequest transfer;
  transfer.set_prompt_name("ner-transferred");
  transfer.set_task(v1::TASK_TAG);
  *transfer.mutable_train_examples() = ReadConllExamples(ExamplesDir() + "/ner.conll");
  transfer.mutable_spec()->set_length(4);
  transfer.mutable_spec()->set_init(v1::PROMPT_INIT_PROMPT);
  transfer.mutable_spec()->set_init_prompt("pretrained");
  transfer.mutable_options()->set_epochs(1);
  status = call(transfer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Job transferred = WaitForJob(*server_, alice_->key, response.job().id());
  EXPECT_EQ(transferred.state(), v1::JOB_STATE_SUCCEEDED) << transferred.reason();
  for (const char* name : {"pretrained", "ner-transferred"}) {
    EXPECT_TRUE(DeletePrompt(alice_->key, name).ok());
  }
}

TEST_F(ServiceTest, ClassifyAndTagEntitiesTakeAnEnsemble) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  WaitForJob(*server_, alice_->key, *ner_job_);
  // A copy of "sentiment" (the same weights) as the second member: the mean
  // of two equal members is either one.
  v1::ExportPromptRequest export_request;
  export_request.set_prompt_name("sentiment");
  v1::ExportPromptResponse exported;
  ASSERT_TRUE(
      server_->prompts().ExportPrompt(Call(alice_->key).get(), export_request, &exported).ok());
  v1::ImportPromptRequest import_request;
  import_request.set_prompt_name("sentiment-twin");
  *import_request.mutable_files() = exported.files();
  v1::Prompt imported;
  ASSERT_TRUE(
      server_->prompts().ImportPrompt(Call(alice_->key).get(), import_request, &imported).ok());

  const auto classify = [&](std::vector<std::pair<std::string, int64_t>> members,
                            v1::ClassifyResponse* response) {
    v1::ClassifyRequest request;
    request.set_prompt_name("sentiment");
    request.add_texts("friendly staff and great food");
    request.add_texts("it broke after a day");
    for (const auto& [name, version] : members) {
      v1::PromptRef* ref = request.add_ensemble();
      ref->set_name(name);
      ref->set_version(version);
    }
    return server_->prompts().Classify(Call(alice_->key).get(), request, response);
  };
  v1::ClassifyResponse one, two;
  ASSERT_TRUE(classify({}, &one).ok());
  grpc::Status status = classify({{"sentiment-twin", 0}}, &two);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(two.ensemble_size(), 1);
  EXPECT_EQ(two.ensemble(0).name(), "sentiment-twin");
  EXPECT_EQ(two.ensemble(0).version(), 1);  // 0 resolved to the latest
  ASSERT_EQ(two.results_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(one.results(i).label(), two.results(i).label());
    EXPECT_NEAR(one.results(i).score(), two.results(i).score(), 1e-5);
  }
  // Clear errors: a tag prompt, another tenant's prompt, a repeated member,
  // a bad name, too many members.
  v1::ClassifyResponse unused;
  ExpectInvalid(classify({{"ner", 0}}, &unused), "ensemble: prompt ner is a tag prompt");
  status = classify({{"mood", 0}}, &unused);  // Bob's
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("ensemble:"));
  ExpectInvalid(classify({{"sentiment", 1}}, &unused), "appears twice");
  ExpectInvalid(classify({{"", 0}}, &unused), "ensemble:");
  ExpectInvalid(classify(std::vector<std::pair<std::string, int64_t>>(8, {"sentiment-twin", 0}),
                         &unused),
                "at most 7");

  // Tagging (a case-embedding prompt does not export, so the second member
  // is trained): per-token probabilities averaged, then decoded once (the
  // engine test checks the mean; here the RPC's shape).
  const v1::Job job = WaitForJob(
      *server_, alice_->key,
      Train(alice_->key, "ner-twin", v1::TASK_TAG,
            ReadConllExamples(ExamplesDir() + "/ner.conll"), 4));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.reason();
  v1::TagEntitiesRequest tag;
  tag.set_prompt_name("ner");
  const std::string text = "Maria Lopez flew from Berlin to work for Siemens .";
  tag.add_texts(text);
  tag.add_ensemble()->set_name("ner-twin");
  v1::TagEntitiesResponse both;
  status = server_->prompts().TagEntities(Call(alice_->key).get(), tag, &both);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(both.ensemble_size(), 1);
  EXPECT_EQ(both.ensemble(0).version(), 1);
  ASSERT_EQ(both.results_size(), 1);
  for (const v1::Entity& e : both.results(0).entities()) {
    EXPECT_EQ(text.substr(e.byte_start(), e.byte_end() - e.byte_start()), e.text());
    EXPECT_THAT(e.type(), ::testing::AnyOf("PER", "LOC", "ORG"));
  }
  tag.mutable_ensemble(0)->set_name("sentiment");
  ExpectInvalid(server_->prompts().TagEntities(Call(alice_->key).get(), tag, &both),
                "is a classify prompt");
  for (const char* name : {"sentiment-twin", "ner-twin"}) {
    ASSERT_TRUE(DeletePrompt(alice_->key, name).ok());
  }
}

TEST_F(ServiceTest, MetricsEndpointServesRequestCounters) {
  v1::ListPromptsResponse response;
  ASSERT_TRUE(server_->prompts()
                  .ListPrompts(Call(alice_->key).get(), v1::ListPromptsRequest(), &response)
                  .ok());
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto got = http.Get("/metrics");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_THAT(got->body, HasSubstr("ptune_requests_total{"));
  EXPECT_THAT(got->body, HasSubstr("method=\"ListPrompts\""));
  EXPECT_THAT(got->body, HasSubstr("ptune_request_duration_seconds_bucket"));
  EXPECT_THAT(got->body, HasSubstr("ptune_jobs{"));
}

// Last in the file: restarts the shared server.
TEST_F(ServiceTest, ZZPromptsStillServeAfterRestart) {
  WaitForJob(*server_, alice_->key, *sentiment_job_);
  v1::ClassifyResponse before, after;
  ASSERT_TRUE(Classify(alice_->key, "sentiment", {"friendly and fast"}, &before).ok());
  server_->Restart();
  const grpc::Status status = Classify(alice_->key, "sentiment", {"friendly and fast"}, &after);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NEAR(before.results(0).score(), after.results(0).score(), 1e-5);
}

// A graceful shutdown must not wait for watch streams of running jobs: it
// ends them (UNAVAILABLE) and stops the job at its next step, well within
// the grace period.
TEST(ServiceShutdownTest, OpenWatchDoesNotHoldTheGracePeriod) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("ptune-shutdown-test-" + std::to_string(getpid()));
  service::Server::Options options;
  std::unique_ptr<InProcessServer> server = InProcessServer::Start(dir, options);
  ASSERT_NE(server, nullptr);
  const TestTenant tenant = server->CreateTenant("erin");
  v1::TrainPromptRequest request;
  request.set_prompt_name("long");
  request.set_task(v1::TASK_CLASSIFY);
  *request.mutable_train_examples() = ReadTsvExamples(ExamplesDir() + "/sentiment.tsv");
  request.mutable_options()->set_epochs(50);
  request.mutable_options()->set_patience(50);
  request.mutable_options()->set_batch_size(4);
  v1::TrainPromptResponse trained;
  ASSERT_TRUE(server->prompts().TrainPrompt(Call(tenant.key).get(), request, &trained).ok());

  auto context = Call(tenant.key, 600);
  v1::WatchJobRequest watch;
  watch.set_job_id(trained.job().id());
  auto reader = server->prompts().WatchJob(context.get(), watch);
  v1::Job job;
  while (reader->Read(&job) && job.state() != v1::JOB_STATE_RUNNING) {
  }
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  // The fixture's grace is 2 s: a shutdown held by the stream takes >= 2 s.
  const absl::Time start = absl::Now();
  server->server().Shutdown();
  const absl::Duration took = absl::Now() - start;
  while (reader->Read(&job)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(took, absl::Seconds(1.5)) << "shutdown waited for the watch stream";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ptune::testing

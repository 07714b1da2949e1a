// Behaviour of the Store interface, exercised on real SQLite files.
#include "server/store/store.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A fresh folder per test for the database file.
std::string FreshDir() {
  static int counter = 0;
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/ptune_store_", getpid(), "_",
                   counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshDir() + "/ptune.db";
    Reopen();
    a_ = MakeTenant("acme");
    b_ = MakeTenant("bravo");
  }

  void Reopen() {
    store_.reset();
    auto store = OpenStore("sqlite://" + path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  Tenant MakeTenant(const std::string& name) {
    Tenant t;
    t.name = name;
    auto created = store_->CreateTenant(t);
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }

  PromptVersion NewPrompt(const Tenant& tenant, const std::string& name,
                          PromptState state) {
    PromptVersion p;
    p.tenant_id = tenant.id;
    p.name = name;
    p.task = "classify";
    p.state = state;
    p.spec_json = R"({"kind":"shallow"})";
    p.labels = {"neg", "pos"};
    p.artifact_safetensors = std::string("\0\1\2safet", 8);
    p.artifact_json = "{}";
    auto created = store_->CreatePromptVersion(p);
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }

  Job NewJob(const Tenant& tenant, const std::string& prompt = "p",
             int version = 0) {
    Job job;
    job.tenant_id = tenant.id;
    job.prompt_name = prompt;
    job.prompt_version = version;
    job.request_json = R"({"epochs":3})";
    auto created = store_->CreateJob(job);
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }

  std::string path_;
  std::unique_ptr<Store> store_;
  Tenant a_, b_;
};

TEST(OpenStoreTest, UrlForms) {
  const std::string dir = FreshDir();
  EXPECT_TRUE(OpenStore("sqlite::memory:").ok());
  EXPECT_TRUE(OpenStore("sqlite://" + dir + "/abs.db").ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/abs.db"));
  EXPECT_TRUE(OpenStore(dir + "/plain.db").ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/plain.db"));

  auto pg = OpenStore("postgres://db:5432/ptune");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(pg.status().message(), HasSubstr("PostgreSQL"));
  EXPECT_EQ(OpenStore("mysql://x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OpenStoreTest, RefusesAnEmptyExistingFileUnlessToldToInit) {
  const std::string path = ::testing::TempDir() + "/empty-" + std::to_string(getpid()) + ".db";
  { std::ofstream touch(path); }
  const auto refused = OpenStore("sqlite://" + path);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("--init_store"));
  EXPECT_TRUE(OpenStore("sqlite://" + path, /*init_empty_store=*/true).ok());
  EXPECT_TRUE(OpenStore("sqlite://" + path).ok());  // no longer empty
  std::filesystem::remove(path);
}

TEST(OpenStoreTest, RelativeUrlIsRelativeToWorkingDirectory) {
  const std::string dir = FreshDir();
  const auto old = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  auto store = OpenStore("sqlite://rel.db");
  std::filesystem::current_path(old);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(std::filesystem::exists(dir + "/rel.db"));
}

TEST(NewIdTest, PrefixAndRandomHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewId("job_");
    ASSERT_EQ(id.size(), 4 + 16u);
    EXPECT_EQ(id.substr(0, 4), "job_");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos);
    ids.insert(id);
  }
  EXPECT_THAT(ids, SizeIs(1000));
}

TEST_F(StoreTest, TenantCrud) {
  EXPECT_EQ(a_.id.substr(0, 4), "ten_");
  auto got = store_->GetTenant(a_.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "acme");
  EXPECT_EQ(got->quotas.max_concurrent_jobs, Quotas().max_concurrent_jobs);
  EXPECT_EQ(store_->GetTenantByName("bravo")->id, b_.id);

  Tenant dup;
  dup.name = "acme";
  EXPECT_EQ(store_->CreateTenant(dup).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateTenant(Tenant()).status().code(),
            absl::StatusCode::kInvalidArgument);

  Tenant changed = *got;
  changed.disabled = true;
  changed.quotas.max_prompts = 7;
  changed.quotas.requests_per_second = 2.5;
  ASSERT_TRUE(store_->UpdateTenant(changed).ok());
  got = store_->GetTenant(a_.id);
  EXPECT_TRUE(got->disabled);
  EXPECT_EQ(got->quotas.max_prompts, 7);
  EXPECT_DOUBLE_EQ(got->quotas.requests_per_second, 2.5);
  changed.quotas.burst = -1;
  EXPECT_EQ(store_->UpdateTenant(changed).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_THAT(*store_->ListTenants(), SizeIs(2));
  ASSERT_TRUE(store_->DeleteTenant(b_.id).ok());
  EXPECT_EQ(store_->GetTenant(b_.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteTenant(b_.id).code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ApiKeysLookupRevokeAndIsolation) {
  ApiKey key;
  key.tenant_id = a_.id;
  key.key_hash = std::string(64, 'a');
  key.display_prefix = "pt_abcd1";
  auto created = store_->CreateApiKey(key);
  ASSERT_TRUE(created.ok()) << created.status();

  auto lookup = store_->LookupApiKey(key.key_hash);
  ASSERT_TRUE(lookup.ok()) << lookup.status();
  EXPECT_EQ(lookup->key.id, created->id);
  EXPECT_EQ(lookup->tenant.id, a_.id);
  EXPECT_EQ(lookup->tenant.name, "acme");
  EXPECT_FALSE(lookup->key.revoked());
  EXPECT_EQ(store_->LookupApiKey(std::string(64, 'b')).status().code(),
            absl::StatusCode::kNotFound);

  EXPECT_EQ(store_->CreateApiKey(key).status().code(),
            absl::StatusCode::kAlreadyExists);

  // Tenant B can neither see nor revoke A's key.
  EXPECT_THAT(*store_->ListApiKeys(b_.id), IsEmpty());
  EXPECT_EQ(store_->RevokeApiKey(b_.id, created->id).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->LookupApiKey(key.key_hash).ok());

  ASSERT_TRUE(store_->RevokeApiKey(a_.id, created->id).ok());
  EXPECT_EQ(store_->LookupApiKey(key.key_hash).status().code(),
            absl::StatusCode::kNotFound);
  auto keys = store_->ListApiKeys(a_.id);
  ASSERT_THAT(*keys, SizeIs(1));
  EXPECT_TRUE((*keys)[0].revoked());
  EXPECT_EQ((*keys)[0].display_prefix, "pt_abcd1");

  ApiKey orphan = key;
  orphan.key_hash = std::string(64, 'c');
  orphan.tenant_id = "ten_missing";
  EXPECT_EQ(store_->CreateApiKey(orphan).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, DatasetCrudAndIsolation) {
  Dataset d;
  d.tenant_id = a_.id;
  d.name = "sst2-train";
  d.task = "classify";
  d.format = "jsonl";
  d.content = std::string("{\"text\":\"a\"}\n\0binary", 20);
  d.example_count = 1;
  auto created = store_->CreateDataset(d);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->size_bytes, 20);

  auto got = store_->GetDataset(a_.id, created->id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->content, d.content);
  EXPECT_EQ(got->format, "jsonl");

  auto listed = store_->ListDatasets(a_.id);
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_TRUE((*listed)[0].content.empty());
  EXPECT_EQ((*listed)[0].size_bytes, 20);

  EXPECT_EQ(store_->GetDataset(b_.id, created->id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->ListDatasets(b_.id), IsEmpty());
  EXPECT_EQ(store_->DeleteDataset(b_.id, created->id).code(),
            absl::StatusCode::kNotFound);

  d.task = "translate";
  EXPECT_EQ(store_->CreateDataset(d).status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->DeleteDataset(a_.id, created->id).ok());
  EXPECT_EQ(store_->GetDataset(a_.id, created->id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, PromptVersionsNumberAndLatestReady) {
  PromptVersion v1 = NewPrompt(a_, "sentiment", PromptState::kReady);
  PromptVersion v2 = NewPrompt(a_, "sentiment", PromptState::kReady);
  PromptVersion v3 = NewPrompt(a_, "sentiment", PromptState::kTraining);
  PromptVersion other = NewPrompt(a_, "ner", PromptState::kTraining);
  PromptVersion b1 = NewPrompt(b_, "sentiment", PromptState::kTraining);
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v3.version, 3);
  EXPECT_EQ(other.version, 1);
  EXPECT_EQ(b1.version, 1);  // numbering is per tenant

  // Without a version: the latest READY one (v2), not the training v3.
  auto latest = store_->GetPrompt(a_.id, "sentiment");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->labels, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(latest->artifact_safetensors, std::string("\0\1\2safet", 8));
  EXPECT_EQ(latest->size_bytes, 8 + 2);

  // Metadata only: the same row without its artifacts.
  auto meta = store_->GetPromptMetadata(a_.id, "sentiment");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version, 2);
  EXPECT_EQ(meta->labels, latest->labels);
  EXPECT_EQ(meta->size_bytes, latest->size_bytes);
  EXPECT_TRUE(meta->artifact_safetensors.empty());
  EXPECT_TRUE(meta->artifact_json.empty());
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "sentiment", 3)->state, PromptState::kTraining);
  EXPECT_EQ(store_->GetPromptMetadata(b_.id, "sentiment", 2).status().code(),
            absl::StatusCode::kNotFound);  // alpha's v2, not bravo's

  auto explicit_v3 = store_->GetPrompt(a_.id, "sentiment", 3);
  ASSERT_TRUE(explicit_v3.ok());
  EXPECT_EQ(explicit_v3->state, PromptState::kTraining);
  EXPECT_EQ(store_->GetPrompt(a_.id, "sentiment", 9).status().code(),
            absl::StatusCode::kNotFound);
  // No ready version of "ner" yet.
  EXPECT_EQ(store_->GetPrompt(a_.id, "ner").status().code(),
            absl::StatusCode::kNotFound);

  // v3 finishes: now it is the latest ready one.
  PromptVersion done = *explicit_v3;
  done.state = PromptState::kReady;
  done.metrics_json = R"({"accuracy":0.9})";
  done.labels = {"a", "b", "c"};
  ASSERT_TRUE(store_->UpdatePromptVersion(done).ok());
  latest = store_->GetPrompt(a_.id, "sentiment");
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(latest->metrics_json, R"({"accuracy":0.9})");
  EXPECT_THAT(latest->labels, ElementsAre("a", "b", "c"));

  auto listed = store_->ListPrompts(a_.id);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_EQ((*listed)[0].name, "ner");
  EXPECT_EQ((*listed)[0].latest_ready_version, 0);
  EXPECT_EQ((*listed)[1].name, "sentiment");
  EXPECT_EQ((*listed)[1].latest_version, 3);
  EXPECT_EQ((*listed)[1].latest_ready_version, 3);
  ASSERT_THAT((*listed)[1].versions, SizeIs(3));
  EXPECT_TRUE((*listed)[1].versions[0].artifact_safetensors.empty());
  // One name's summary equals its entry in the listing.
  auto one = store_->GetPromptSummary(a_.id, "sentiment");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->latest_version, 3);
  EXPECT_EQ(one->latest_ready_version, 3);
  ASSERT_THAT(one->versions, SizeIs(3));
  EXPECT_EQ(one->versions[2].metrics_json, (*listed)[1].versions[2].metrics_json);
  EXPECT_TRUE(one->versions[0].artifact_safetensors.empty());
  EXPECT_EQ(store_->GetPromptSummary(a_.id, "missing").status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_TRUE(store_->DeletePrompt(a_.id, "sentiment").ok());
  EXPECT_EQ(store_->GetPrompt(a_.id, "sentiment", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeletePrompt(a_.id, "sentiment").code(),
            absl::StatusCode::kNotFound);
  // After deleting every version numbering restarts at 1.
  EXPECT_EQ(NewPrompt(a_, "sentiment", PromptState::kReady).version, 1);
}

TEST_F(StoreTest, PromptIsolation) {
  NewPrompt(a_, "secret", PromptState::kReady);
  EXPECT_EQ(store_->GetPrompt(b_.id, "secret").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPrompt(b_.id, "secret", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->ListPrompts(b_.id), IsEmpty());
  EXPECT_EQ(store_->GetPromptSummary(b_.id, "secret").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeletePrompt(b_.id, "secret").code(),
            absl::StatusCode::kNotFound);
  PromptVersion hijack;
  hijack.tenant_id = b_.id;
  hijack.name = "secret";
  hijack.version = 1;
  hijack.task = "classify";
  EXPECT_EQ(store_->UpdatePromptVersion(hijack).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetPrompt(a_.id, "secret").ok());
}

TEST_F(StoreTest, JobCrudPagingAndIsolation) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(NewJob(a_).id);
  NewJob(b_);
  auto job = store_->GetJob(a_.id, ids[0]);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->request_json, R"({"epochs":3})");
  EXPECT_EQ(job->id.substr(0, 4), "job_");
  EXPECT_EQ(store_->GetJob(b_.id, ids[0]).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CancelJob(b_.id, ids[0], "x", absl::Now()).status().code(),
            absl::StatusCode::kNotFound);

  // Newest first, two per page; an insert between pages shifts nothing.
  auto page1 = store_->ListJobs(a_.id, std::nullopt, 2, "");
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_THAT(page1->jobs, SizeIs(2));
  EXPECT_EQ(page1->jobs[0].id, ids[4]);
  EXPECT_EQ(page1->jobs[1].id, ids[3]);
  NewJob(a_);
  auto page2 = store_->ListJobs(a_.id, std::nullopt, 2, page1->next_page_token);
  ASSERT_TRUE(page2.ok());
  ASSERT_THAT(page2->jobs, SizeIs(2));
  EXPECT_EQ(page2->jobs[0].id, ids[2]);
  EXPECT_EQ(page2->jobs[1].id, ids[1]);
  auto page3 = store_->ListJobs(a_.id, std::nullopt, 2, page2->next_page_token);
  ASSERT_THAT(page3->jobs, SizeIs(1));
  EXPECT_EQ(page3->jobs[0].id, ids[0]);
  EXPECT_TRUE(page3->next_page_token.empty());
  EXPECT_EQ(store_->ListJobs(a_.id, std::nullopt, 2, "garbage").status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->CancelJob(a_.id, ids[1], "no", absl::Now()).ok());
  auto cancelled = store_->ListJobs(a_.id, JobState::kCancelled, 10, "");
  ASSERT_THAT(cancelled->jobs, SizeIs(1));
  EXPECT_EQ(cancelled->jobs[0].id, ids[1]);
  EXPECT_THAT(store_->ListJobs(b_.id, JobState::kCancelled, 10, "")->jobs,
              IsEmpty());
}

TEST_F(StoreTest, JobLifecycleWritesPromptAtomically) {
  PromptVersion training = NewPrompt(a_, "p", PromptState::kTraining);
  Job job;
  job.tenant_id = a_.id;
  job.prompt_name = "p";
  job.prompt_version = training.version;
  job = *store_->CreateJob(job);

  // Progress only while running.
  EXPECT_EQ(store_->SaveJobProgress(a_.id, job.id, "{}", std::nullopt).code(),
            absl::StatusCode::kFailedPrecondition);
  auto started = store_->StartJob(a_.id, job.id, absl::Now());
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->state, JobState::kRunning);
  EXPECT_TRUE(started->started_at.has_value());
  EXPECT_EQ(store_->StartJob(a_.id, job.id, absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(store_->SaveJobProgress(a_.id, job.id, R"({"epoch":1})",
                                      std::string("ckpt1"))
                  .ok());
  ASSERT_TRUE(
      store_->SaveJobProgress(a_.id, job.id, R"({"epoch":2})", std::nullopt)
          .ok());
  auto got = store_->GetJob(a_.id, job.id);
  EXPECT_EQ(got->progress_json, R"({"epoch":2})");
  EXPECT_EQ(got->checkpoint, "ckpt1");
  EXPECT_EQ(store_->SaveJobProgress(b_.id, job.id, "{}", std::nullopt).code(),
            absl::StatusCode::kNotFound);

  PromptVersion result;
  result.state = PromptState::kReady;
  result.metrics_json = R"({"accuracy":0.5})";
  result.labels = {"x", "y"};
  result.artifact_safetensors = "weights";
  auto finished = store_->FinishJob(a_.id, job.id, JobState::kSucceeded, "",
                                    absl::Now(), &result);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->state, JobState::kSucceeded);
  auto prompt = store_->GetPrompt(a_.id, "p");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(prompt->version, training.version);
  EXPECT_EQ(prompt->artifact_safetensors, "weights");
  EXPECT_EQ(prompt->spec_json, training.spec_json);  // kept from submission
  EXPECT_EQ(prompt->job_id, job.id);
  EXPECT_EQ(store_->FinishJob(a_.id, job.id, JobState::kFailed, "late",
                              absl::Now())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, FailedAndCancelledJobsFailTheirPrompt) {
  PromptVersion p1 = NewPrompt(a_, "p", PromptState::kTraining);
  PromptVersion p2 = NewPrompt(a_, "p", PromptState::kTraining);
  Job queued = NewJob(a_, "p", p1.version);
  Job running = NewJob(a_, "p", p2.version);

  auto cancelled = store_->CancelJob(a_.id, queued.id, "user", absl::Now());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state, JobState::kCancelled);
  EXPECT_EQ(store_->GetPrompt(a_.id, "p", p1.version)->state,
            PromptState::kFailed);
  EXPECT_EQ(
      store_->CancelJob(a_.id, queued.id, "again", absl::Now()).status().code(),
      absl::StatusCode::kFailedPrecondition);

  // A queued cancelled job can never start.
  EXPECT_EQ(store_->StartJob(a_.id, queued.id, absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(store_->StartJob(a_.id, running.id, absl::Now()).ok());
  auto requested = store_->CancelJob(a_.id, running.id, "user", absl::Now());
  ASSERT_TRUE(requested.ok());
  EXPECT_EQ(requested->state, JobState::kRunning);
  EXPECT_TRUE(requested->cancel_requested);
  ASSERT_TRUE(store_->FinishJob(a_.id, running.id, JobState::kFailed, "boom",
                                absl::Now())
                  .ok());
  EXPECT_EQ(store_->GetJob(a_.id, running.id)->reason, "boom");
  EXPECT_EQ(store_->GetPrompt(a_.id, "p", p2.version)->state,
            PromptState::kFailed);
}

TEST_F(StoreTest, QueueHeadsAreOldestQueuedPerTenant) {
  Job a1 = NewJob(a_);
  Job a2 = NewJob(a_);
  Job b1 = NewJob(b_);
  NewJob(b_);
  ASSERT_TRUE(store_->StartJob(a_.id, a1.id, absl::Now()).ok());
  auto heads = store_->ListQueueHeads();
  ASSERT_TRUE(heads.ok()) << heads.status();
  std::set<std::string> ids;
  for (const Job& j : *heads) ids.insert(j.id);
  EXPECT_EQ(ids, (std::set<std::string>{a2.id, b1.id}));
  EXPECT_EQ(*store_->CountJobsInState(JobState::kRunning), 1);
  EXPECT_EQ(*store_->CountJobsInState(JobState::kQueued), 3);
  EXPECT_EQ(*store_->CountTenantJobsInState(a_.id, JobState::kRunning), 1);
  EXPECT_EQ(*store_->CountTenantJobsInState(b_.id, JobState::kRunning), 0);
}

TEST_F(StoreTest, RequeueAndRecoverKeepCheckpointAndPosition) {
  Job first = NewJob(a_);
  Job second = NewJob(a_);
  Job doomed = NewJob(b_);
  ASSERT_TRUE(store_->StartJob(a_.id, first.id, absl::Now()).ok());
  ASSERT_TRUE(store_->StartJob(b_.id, doomed.id, absl::Now()).ok());
  ASSERT_TRUE(store_->SaveJobProgress(a_.id, first.id, "{}", "state").ok());
  ASSERT_TRUE(store_->CancelJob(b_.id, doomed.id, "stop", absl::Now()).ok());

  auto recovered = store_->RecoverRunningJobs(absl::Now(), /*max_attempts=*/3);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, 2);
  auto again = store_->GetJob(a_.id, first.id);
  EXPECT_EQ(again->state, JobState::kQueued);
  EXPECT_EQ(again->attempts, 1);
  EXPECT_EQ(again->checkpoint, "state");
  EXPECT_EQ(store_->GetJob(b_.id, doomed.id)->state, JobState::kCancelled);
  // Still the head of its tenant's queue, ahead of the later job.
  auto heads = store_->ListQueueHeads();
  ASSERT_THAT(*heads, SizeIs(1));
  EXPECT_EQ((*heads)[0].id, first.id);
  EXPECT_NE((*heads)[0].id, second.id);

  ASSERT_TRUE(store_->StartJob(a_.id, first.id, absl::Now()).ok());
  auto requeued = store_->RequeueJob(a_.id, first.id, /*count_attempt=*/false);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->attempts, 1);
  EXPECT_EQ(requeued->state, JobState::kQueued);
  EXPECT_EQ(store_->RequeueJob(a_.id, first.id, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// A job whose runs keep getting cut short (the process dies under it) fails
// with the reason after max_attempts runs instead of being requeued forever.
TEST_F(StoreTest, RecoverFailsAJobAfterMaxAttempts) {
  Job job = NewJob(a_);
  for (int run = 1; run <= 3; ++run) {
    ASSERT_TRUE(store_->StartJob(a_.id, job.id, absl::Now()).ok()) << run;
    ASSERT_TRUE(store_->RecoverRunningJobs(absl::Now(), 3).ok());
    auto after = store_->GetJob(a_.id, job.id);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->attempts, run);
    if (run < 3) {
      EXPECT_EQ(after->state, JobState::kQueued) << run;
    } else {
      EXPECT_EQ(after->state, JobState::kFailed);
      EXPECT_THAT(after->reason, HasSubstr("each of this job's 3 runs"));
      EXPECT_THAT(after->reason, HasSubstr("--max_job_attempts=3"));
    }
  }
  EXPECT_EQ(*store_->CountJobsInState(JobState::kFailed), 1);
}

TEST_F(StoreTest, QuotaCounters) {
  EXPECT_EQ(*store_->CountPrompts(a_.id), 0);
  EXPECT_EQ(*store_->StoredBytes(a_.id), 0);
  NewPrompt(a_, "one", PromptState::kReady);  // 10 bytes of artifacts
  NewPrompt(a_, "one", PromptState::kReady);
  NewPrompt(a_, "two", PromptState::kReady);
  NewPrompt(b_, "three", PromptState::kReady);
  Dataset d;
  d.tenant_id = a_.id;
  d.name = "d";
  d.task = "tag";
  d.content = std::string(100, 'x');
  ASSERT_TRUE(store_->CreateDataset(d).ok());
  EXPECT_EQ(*store_->CountPrompts(a_.id), 2);
  EXPECT_EQ(*store_->CountPrompts(b_.id), 1);
  EXPECT_EQ(*store_->StoredBytes(a_.id), 3 * 10 + 100);
  EXPECT_EQ(*store_->StoredBytes(b_.id), 10);

  Job j1 = NewJob(a_);
  NewJob(a_);
  Job j3 = NewJob(a_);
  ASSERT_TRUE(store_->StartJob(a_.id, j1.id, absl::Now()).ok());
  ASSERT_TRUE(store_->CancelJob(a_.id, j3.id, "", absl::Now()).ok());
  EXPECT_EQ(*store_->CountActiveJobs(a_.id), 2);
  EXPECT_EQ(*store_->CountActiveJobs(b_.id), 0);
}

TEST_F(StoreTest, EverythingSurvivesReopen) {
  NewPrompt(a_, "kept", PromptState::kReady);
  Job job = NewJob(a_);
  ASSERT_TRUE(store_->StartJob(a_.id, job.id, absl::Now()).ok());
  ASSERT_TRUE(store_->SaveJobProgress(a_.id, job.id, "{\"epoch\":2}",
                                      std::string(1 << 20, '\x7f'))
                  .ok());
  Reopen();
  EXPECT_EQ(store_->GetTenantByName("acme")->id, a_.id);
  EXPECT_EQ(store_->GetPrompt(a_.id, "kept")->artifact_safetensors,
            std::string("\0\1\2safet", 8));
  auto got = store_->GetJob(a_.id, job.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kRunning);
  EXPECT_EQ(got->checkpoint.size(), 1u << 20);
  EXPECT_EQ(got->progress_json, "{\"epoch\":2}");
}

TEST_F(StoreTest, DeletingATenantDeletesWhatItOwns) {
  NewPrompt(a_, "p", PromptState::kReady);
  Job job = NewJob(a_);
  ASSERT_TRUE(store_->DeleteTenant(a_.id).ok());
  EXPECT_EQ(store_->GetJob(a_.id, job.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountPrompts(a_.id), 0);
}

}  // namespace
}  // namespace ptune::store

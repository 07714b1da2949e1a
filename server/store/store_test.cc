// The Store conformance suite: every test runs against both engines, a
// SQLite file and a real PostgreSQL server (test_store.h says where it comes
// from), so the two cannot drift apart.
#include "server/store/store.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/digest.h"
#include "server/store/test_store.h"

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

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = TestStoreUrl(GetParam());
    if (absl::IsUnavailable(url.status())) GTEST_SKIP() << url.status().message();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    Reopen();
    a_ = MakeTenant("acme");
    b_ = MakeTenant("bravo");
  }

  void Reopen() {
    store_.reset();
    auto store = OpenStore(url_);
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

  // A job that makes a new training version of `name`, submitted in one
  // transaction.
  Job Submit(const Tenant& tenant, const std::string& name,
             const std::string& dataset_bytes = "") {
    TrainingSubmission sub;
    if (!dataset_bytes.empty()) {
      Dataset d;
      d.tenant_id = tenant.id;
      d.name = name + ".train";
      d.task = "classify";
      d.format = "jsonl";
      d.content = dataset_bytes;
      sub.datasets.push_back(d);
    }
    sub.version.tenant_id = tenant.id;
    sub.version.name = name;
    sub.version.task = "classify";
    sub.version.spec_json = "{}";
    sub.job.tenant_id = tenant.id;
    sub.job.request_json = "{}";
    auto job = store_->SubmitTraining(sub);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : Job();
  }

  // Claims `job` (it must be next) and finishes it with artifacts `bytes`.
  PromptVersion Train(const Tenant& tenant, const std::string& name,
                      const std::string& bytes = "weights") {
    Job job = Submit(tenant, name);
    auto claimed = store_->ClaimJob("replica-t", absl::Seconds(30));
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
    EXPECT_EQ((*claimed)->id, job.id);
    PromptVersion result;
    result.state = PromptState::kReady;
    result.labels = {"neg", "pos"};
    result.metrics_json = R"({"accuracy":0.9})";
    result.artifact_safetensors = bytes;
    result.artifact_json = "{}";
    EXPECT_TRUE(store_->FinishJob(tenant.id, job.id, JobLease::Of(**claimed),
                                  JobState::kSucceeded, "", absl::Now(), &result)
                    .ok());
    return *store_->GetPrompt(tenant.id, name, job.prompt_version);
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

  std::string url_;
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

  // A server that is not there: UNAVAILABLE, naming the database and host,
  // never a password.
  auto pg = OpenStore("postgresql://ptune:s3cret@127.0.0.1:1/ptune?connect_timeout=2");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pg.status().message(), HasSubstr("PostgreSQL database 'ptune'"));
  EXPECT_THAT(pg.status().message(), ::testing::Not(HasSubstr("s3cret")));
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
  EXPECT_TRUE(OpenStore("sqlite://" + path, {.init_empty_store = true}).ok());
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

TEST(RedactedUrlTest, HidesPasswordsOnly) {
  EXPECT_EQ(RedactedUrl("postgresql://ptune:s3cret@db:5432/ptune?sslmode=require"),
            "postgresql://ptune:***@db:5432/ptune?sslmode=require");
  EXPECT_EQ(RedactedUrl("postgresql://ptune@db/ptune"), "postgresql://ptune@db/ptune");
  EXPECT_EQ(RedactedUrl("sqlite:///data/ptune.db"), "sqlite:///data/ptune.db");
  EXPECT_EQ(RedactedUrl("postgresql://db/ptune?options=a@b"), "postgresql://db/ptune?options=a@b");
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

TEST_P(StoreTest, TenantCrud) {
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

TEST_P(StoreTest, ApiKeysLookupRevokeAndIsolation) {
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

TEST_P(StoreTest, DatasetCrudAndIsolation) {
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

// Large datasets move in parts (4 MiB each): one more than two whole parts
// comes back byte for byte.
TEST_P(StoreTest, ALargeDatasetRoundTripsInParts) {
  Tenant big = a_;
  big.quotas.max_stored_bytes = int64_t{1} << 30;
  ASSERT_TRUE(store_->UpdateTenant(big).ok());
  Dataset d;
  d.tenant_id = a_.id;
  d.name = "large";
  d.task = "classify";
  d.format = "jsonl";
  d.content.resize((size_t{8} << 20) + 1);
  for (size_t i = 0; i < d.content.size(); ++i) d.content[i] = static_cast<char>(i * 131 % 251);
  auto created = store_->CreateDataset(d);
  ASSERT_TRUE(created.ok()) << created.status();
  auto got = store_->GetDataset(a_.id, created->id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size_bytes, static_cast<int64_t>(d.content.size()));
  EXPECT_TRUE(got->content == d.content);
  EXPECT_EQ(got->digest, Sha256Hex(d.content));
  EXPECT_EQ(*store_->StoredBytes(a_.id), static_cast<int64_t>(d.content.size()));
  ASSERT_TRUE(store_->DeleteDataset(a_.id, created->id).ok());
  EXPECT_EQ(*store_->StoredBytes(a_.id), 0);
}

TEST_P(StoreTest, PromptVersionsNumberAndLatestReady) {
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
  EXPECT_EQ(latest->digest, ArtifactDigest(std::string("\0\1\2safet", 8), "{}"));

  // Metadata only: the same row without its artifacts, digest included.
  auto meta = store_->GetPromptMetadata(a_.id, "sentiment");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version, 2);
  EXPECT_EQ(meta->labels, latest->labels);
  EXPECT_EQ(meta->size_bytes, latest->size_bytes);
  EXPECT_EQ(meta->digest, latest->digest);
  EXPECT_TRUE(meta->artifact_safetensors.empty());
  EXPECT_TRUE(meta->artifact_json.empty());
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "sentiment", 3)->state, PromptState::kTraining);
  EXPECT_EQ(store_->GetPromptMetadata(b_.id, "sentiment", 2).status().code(),
            absl::StatusCode::kNotFound);  // alpha's v2, not bravo's
  EXPECT_EQ(store_->GetPrompt(a_.id, "sentiment", 9).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPrompt(a_.id, "ner").status().code(), absl::StatusCode::kNotFound);

  auto listed = store_->ListPrompts(a_.id);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_EQ((*listed)[0].name, "ner");
  EXPECT_EQ((*listed)[0].latest_ready_version, 0);
  EXPECT_EQ((*listed)[1].name, "sentiment");
  EXPECT_EQ((*listed)[1].latest_version, 3);
  EXPECT_EQ((*listed)[1].latest_ready_version, 2);
  ASSERT_THAT((*listed)[1].versions, SizeIs(3));
  EXPECT_TRUE((*listed)[1].versions[0].artifact_safetensors.empty());
  auto one = store_->GetPromptSummary(a_.id, "sentiment");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->latest_version, 3);
  ASSERT_THAT(one->versions, SizeIs(3));
  EXPECT_EQ(store_->GetPromptSummary(a_.id, "missing").status().code(),
            absl::StatusCode::kNotFound);

  // A name keeps its task.
  PromptVersion tagger = v1;
  tagger.task = "tag";
  EXPECT_EQ(store_->CreatePromptVersion(tagger).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, VersionsAreNeverReusedAfterDelete) {
  const PromptVersion old = Train(a_, "sentiment", "old weights");
  NewPrompt(a_, "sentiment", PromptState::kReady);
  ASSERT_TRUE(store_->DeletePrompt(a_.id, "sentiment").ok());
  EXPECT_EQ(store_->GetPrompt(a_.id, "sentiment", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeletePrompt(a_.id, "sentiment").code(), absl::StatusCode::kNotFound);
  // Retrained under the same name: v3, so "sentiment@1" can never name the
  // new weights in anyone's cache.
  const PromptVersion fresh = Train(a_, "sentiment", "new weights");
  EXPECT_EQ(fresh.version, 3);
  EXPECT_NE(fresh.digest, old.digest);
  EXPECT_EQ(fresh.digest, ArtifactDigest("new weights", "{}"));
  // Also across a reopen (the counter is durable).
  Reopen();
  EXPECT_EQ(NewPrompt(a_, "sentiment", PromptState::kReady).version, 4);
}

TEST_P(StoreTest, PromptIsolation) {
  NewPrompt(a_, "secret", PromptState::kReady);
  EXPECT_EQ(store_->GetPrompt(b_.id, "secret").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPrompt(b_.id, "secret", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->ListPrompts(b_.id), IsEmpty());
  EXPECT_EQ(store_->GetPromptSummary(b_.id, "secret").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeletePrompt(b_.id, "secret").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetPrompt(a_.id, "secret").ok());
}

TEST_P(StoreTest, JobCrudPagingAndIsolation) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(NewJob(a_).id);
  NewJob(b_);
  auto job = store_->GetJob(a_.id, ids[0]);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->request_json, R"({"epochs":3})");
  EXPECT_EQ(job->id.substr(0, 4), "job_");
  EXPECT_EQ(store_->GetJob(b_.id, ids[0]).status().code(), absl::StatusCode::kNotFound);
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
  EXPECT_THAT(store_->ListJobs(b_.id, JobState::kCancelled, 10, "")->jobs, IsEmpty());
}

TEST_P(StoreTest, JobLifecycleUnderALease) {
  Job job = Submit(a_, "p");
  EXPECT_EQ(job.prompt_version, 1);
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "p", 1)->job_id, job.id);
  auto claimed = store_->ClaimJob("replica-a", absl::Seconds(30));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(claimed->has_value());
  const Job& running = **claimed;
  EXPECT_EQ(running.id, job.id);
  EXPECT_EQ(running.state, JobState::kRunning);
  EXPECT_EQ(running.lease_owner, "replica-a");
  EXPECT_EQ(running.lease_epoch, 1);
  ASSERT_TRUE(running.lease_expires_at.has_value());
  EXPECT_GT(*running.lease_expires_at, absl::Now() + absl::Seconds(20));
  EXPECT_FALSE(*store_->ClaimJob("replica-b", absl::Seconds(30)));  // nothing else queued

  const JobLease lease = JobLease::Of(running);
  const JobLease stranger{"replica-b", lease.epoch};
  ASSERT_TRUE(store_->SaveJobProgress(a_.id, job.id, lease, R"({"epoch":1})", "ckpt").ok());
  EXPECT_EQ(store_->SaveJobProgress(a_.id, job.id, stranger, "{}", std::nullopt).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->SaveJobProgress(b_.id, job.id, lease, "{}", std::nullopt).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RenewJobLease(a_.id, job.id, stranger, absl::Seconds(30)).status().code(),
            absl::StatusCode::kAborted);
  auto renewed = store_->RenewJobLease(a_.id, job.id, lease, absl::Seconds(30));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_FALSE(*renewed);
  auto got = store_->GetJob(a_.id, job.id);
  EXPECT_EQ(got->checkpoint, "ckpt");
  EXPECT_EQ(got->progress_json, R"({"epoch":1})");

  PromptVersion result;
  result.state = PromptState::kReady;
  result.labels = {"x", "y"};
  result.metrics_json = R"({"accuracy":0.8})";
  result.artifact_safetensors = "tensors";
  result.artifact_json = "{}";
  EXPECT_EQ(store_->FinishJob(a_.id, job.id, stranger, JobState::kSucceeded, "", absl::Now(),
                              &result)
                .status()
                .code(),
            absl::StatusCode::kAborted);
  auto finished =
      store_->FinishJob(a_.id, job.id, lease, JobState::kSucceeded, "", absl::Now(), &result);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->state, JobState::kSucceeded);
  auto prompt = store_->GetPrompt(a_.id, "p", 1);
  EXPECT_EQ(prompt->state, PromptState::kReady);
  EXPECT_EQ(prompt->spec_json, "{}");  // kept from the submission
  EXPECT_THAT(prompt->labels, ElementsAre("x", "y"));
  EXPECT_EQ(prompt->digest, ArtifactDigest("tensors", "{}"));
  // The lease ended with the job: late writes are refused.
  EXPECT_EQ(store_->FinishJob(a_.id, job.id, lease, JobState::kFailed, "late", absl::Now())
                .status()
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->RenewJobLease(a_.id, job.id, lease, absl::Seconds(30)).status().code(),
            absl::StatusCode::kAborted);
}

TEST_P(StoreTest, CancelReachesTheRunnerThroughItsHeartbeat) {
  Job queued = Submit(a_, "q");
  Job running = Submit(a_, "r");
  ASSERT_TRUE(store_->CancelJob(a_.id, queued.id, "no", absl::Now()).ok());
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "q", 1)->state, PromptState::kFailed);
  auto claimed = store_->ClaimJob("replica-a", absl::Seconds(30));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->id, running.id);
  // Served by another replica: only the flag changes...
  auto flagged = store_->CancelJob(a_.id, running.id, "stop", absl::Now());
  ASSERT_TRUE(flagged.ok());
  EXPECT_EQ(flagged->state, JobState::kRunning);
  EXPECT_TRUE(flagged->cancel_requested);
  // ... and the owner's next heartbeat learns it.
  EXPECT_TRUE(*store_->RenewJobLease(a_.id, running.id, JobLease::Of(**claimed), absl::Seconds(30)));
  ASSERT_TRUE(store_->FinishJob(a_.id, running.id, JobLease::Of(**claimed),
                                JobState::kCancelled, "stop", absl::Now())
                  .ok());
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "r", 1)->state, PromptState::kFailed);
  EXPECT_EQ(store_->CancelJob(a_.id, running.id, "again", absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreTest, ClaimsAreFifoPerTenantRoundRobinAndLimited) {
  Tenant one = b_;
  one.quotas.max_concurrent_jobs = 1;
  ASSERT_TRUE(store_->UpdateTenant(one).ok());
  const Job a1 = NewJob(a_), a2 = NewJob(a_), a3 = NewJob(a_);
  const Job b1 = NewJob(b_), b2 = NewJob(b_);
  std::vector<std::string> order;
  std::map<std::string, JobLease> leases;
  for (int i = 0; i < 5; ++i) {
    auto claimed = store_->ClaimJob(absl::StrCat("r", i), absl::Seconds(30));
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    if (!claimed->has_value()) break;
    order.push_back((*claimed)->id);
    leases[(*claimed)->id] = JobLease::Of(**claimed);
  }
  // Round-robin in tenant-id order from the start; b stops at its limit of
  // 1 and a at its default of 2, so a3 and b2 wait.
  if (a_.id < b_.id) {
    EXPECT_THAT(order, ElementsAre(a1.id, b1.id, a2.id));
  } else {
    EXPECT_THAT(order, ElementsAre(b1.id, a1.id, a2.id));
  }
  // A disabled tenant's jobs wait.
  Tenant off = a_;
  off.disabled = true;
  ASSERT_TRUE(store_->UpdateTenant(off).ok());
  ASSERT_TRUE(
      store_->FinishJob(a_.id, a1.id, leases[a1.id], JobState::kFailed, "x", absl::Now()).ok());
  EXPECT_FALSE(*store_->ClaimJob("r9", absl::Seconds(30)));
  ASSERT_TRUE(
      store_->FinishJob(b_.id, b1.id, leases[b1.id], JobState::kFailed, "x", absl::Now()).ok());
  EXPECT_EQ((**store_->ClaimJob("r9", absl::Seconds(30))).id, b2.id);
  (void)a3;
}

TEST_P(StoreTest, ConcurrentClaimersNeverShareAJob) {
  Tenant wide = a_;
  wide.quotas.max_concurrent_jobs = 100;
  ASSERT_TRUE(store_->UpdateTenant(wide).ok());
  for (int i = 0; i < 24; ++i) NewJob(a_);
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore(url_);  // its own connection, like a replica
      ASSERT_TRUE(store.ok()) << store.status();
      while (true) {
        auto job = (*store)->ClaimJob(absl::StrCat("replica-", t), absl::Seconds(30));
        ASSERT_TRUE(job.ok()) << job.status();
        if (!job->has_value()) return;
        std::lock_guard<std::mutex> lock(mu);
        claimed.push_back((*job)->id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(claimed, SizeIs(24));
  EXPECT_THAT(std::set<std::string>(claimed.begin(), claimed.end()), SizeIs(24));
}

TEST_P(StoreTest, ReclaimTakesExpiredLeasesAndFencesTheOldOwner) {
  const Job job = Submit(a_, "p");
  auto first = store_->ClaimJob("dead-replica", absl::Milliseconds(1500));
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE(store_->SaveJobProgress(a_.id, job.id, JobLease::Of(**first), "{}", "epoch-1").ok());
  EXPECT_EQ(*store_->ReclaimExpiredJobs(3), 0);  // still leased (a loaded machine too)
  absl::SleepFor(absl::Milliseconds(2000));
  EXPECT_EQ(*store_->ReclaimExpiredJobs(3), 1);
  auto requeued = store_->GetJob(a_.id, job.id);
  EXPECT_EQ(requeued->state, JobState::kQueued);
  EXPECT_EQ(requeued->attempts, 1);
  EXPECT_EQ(requeued->checkpoint, "epoch-1");
  auto second = store_->ClaimJob("live-replica", absl::Seconds(30));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->lease_epoch, 2);
  EXPECT_EQ((*second)->checkpoint, "epoch-1");  // resumes from the last checkpoint
  // The dead owner wakes up: every write it tries is refused.
  const JobLease stale = JobLease::Of(**first);
  EXPECT_EQ(store_->SaveJobProgress(a_.id, job.id, stale, "{}", "late").code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->RenewJobLease(a_.id, job.id, stale, absl::Seconds(30)).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->FinishJob(a_.id, job.id, stale, JobState::kFailed, "late", absl::Now())
                .status()
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->ReleaseJob(a_.id, job.id, stale).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetJob(a_.id, job.id)->checkpoint, "epoch-1");
  // Released by its owner (a drain): queued at once, attempts unchanged.
  auto released = store_->ReleaseJob(a_.id, job.id, JobLease::Of(**second));
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->state, JobState::kQueued);
  EXPECT_EQ(released->attempts, 1);
  EXPECT_TRUE(released->lease_owner.empty());
}

TEST_P(StoreTest, ReclaimFailsAJobAfterMaxAttemptsAndHonoursCancel) {
  const Job job = Submit(a_, "p");
  for (int run = 0; run < 3; ++run) {
    auto claimed = store_->ClaimJob("crashy", absl::Milliseconds(1));
    ASSERT_TRUE(claimed.ok() && claimed->has_value()) << run;
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_EQ(*store_->ReclaimExpiredJobs(3), 1);
  }
  auto failed = store_->GetJob(a_.id, job.id);
  EXPECT_EQ(failed->state, JobState::kFailed);
  EXPECT_EQ(failed->attempts, 3);
  EXPECT_THAT(failed->reason, HasSubstr("--max_job_attempts=3"));
  EXPECT_EQ(store_->GetPromptMetadata(a_.id, "p", 1)->state, PromptState::kFailed);

  const Job doomed = Submit(a_, "q");
  ASSERT_TRUE(store_->ClaimJob("crashy", absl::Milliseconds(1))->has_value());
  ASSERT_TRUE(store_->CancelJob(a_.id, doomed.id, "stop", absl::Now()).ok());
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(*store_->ReclaimExpiredJobs(3), 1);
  EXPECT_EQ(store_->GetJob(a_.id, doomed.id)->state, JobState::kCancelled);
}

TEST_P(StoreTest, AReplicaTakesBackItsPredecessorsJobsAtOnce) {
  Tenant wide = a_;
  wide.quotas.max_concurrent_jobs = 10;
  ASSERT_TRUE(store_->UpdateTenant(wide).ok());
  const Job mine = Submit(a_, "p");
  const Job sibling = Submit(a_, "q");
  ASSERT_TRUE(store_->ClaimJob("pod-a/1111", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->ClaimJob("pod-ab/2222", absl::Seconds(30))->has_value());
  // pod-a restarted as pod-a/3333: its old lease goes back now, long before
  // it expires; pod-ab (another replica whose name shares the prefix) keeps
  // its job.
  EXPECT_EQ(*store_->ReclaimPredecessorJobs("pod-a", "pod-a/3333", 3), 1);
  auto requeued = store_->GetJob(a_.id, mine.id);
  EXPECT_EQ(requeued->state, JobState::kQueued);
  EXPECT_EQ(requeued->attempts, 1);
  EXPECT_EQ(store_->GetJob(a_.id, sibling.id)->state, JobState::kRunning);
  EXPECT_EQ(*store_->ReclaimPredecessorJobs("pod-a", "pod-a/3333", 3), 0);
  auto again = store_->ClaimJob("pod-a/3333", absl::Seconds(30));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ(*store_->ReclaimPredecessorJobs("pod-a", "pod-a/3333", 3), 0);  // its own
}

TEST_P(StoreTest, SubmitTrainingIsAllOrNothing) {
  Tenant small = a_;
  small.quotas.max_stored_bytes = 1000;
  small.quotas.max_prompts = 2;
  ASSERT_TRUE(store_->UpdateTenant(small).ok());
  const Job ok = Submit(a_, "first", std::string(500, 'x'));
  EXPECT_EQ(*store_->StoredBytes(a_.id), 500);
  // Over the byte quota: no dataset, version or job is left behind.
  TrainingSubmission big;
  Dataset d;
  d.tenant_id = a_.id;
  d.name = "big";
  d.task = "classify";
  d.format = "jsonl";
  d.content = std::string(600, 'y');
  big.datasets.push_back(d);
  big.version.tenant_id = a_.id;
  big.version.name = "second";
  big.version.task = "classify";
  big.job.tenant_id = a_.id;
  auto refused = store_->SubmitTraining(big);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(*store_->ListDatasets(a_.id), SizeIs(1));
  EXPECT_EQ(store_->GetPromptSummary(a_.id, "second").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(store_->ListJobs(a_.id, std::nullopt, 10, "")->jobs, SizeIs(1));
  // A name with another task, and a third name over max_prompts.
  big.datasets.clear();
  big.version.name = "first";
  big.version.task = "tag";
  EXPECT_EQ(store_->SubmitTraining(big).status().code(), absl::StatusCode::kInvalidArgument);
  Submit(a_, "second");
  big.version.name = "third";
  big.version.task = "classify";
  EXPECT_EQ(store_->SubmitTraining(big).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(store_->ListJobs(a_.id, std::nullopt, 10, "")->jobs, SizeIs(2));
  (void)ok;
}

TEST_P(StoreTest, QuotasHoldUnderConcurrentWriters) {
  Tenant small = a_;
  small.quotas.max_stored_bytes = 10'000;
  small.quotas.max_prompts = 5;
  ASSERT_TRUE(store_->UpdateTenant(small).ok());
  std::atomic<int> stored{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore(url_);
      ASSERT_TRUE(store.ok()) << store.status();
      for (int i = 0; i < 5; ++i) {
        Dataset d;
        d.tenant_id = a_.id;
        d.name = absl::StrCat("d", t, "_", i);
        d.task = "classify";
        d.format = "jsonl";
        d.content = std::string(999, 'z');
        auto created = (*store)->CreateDataset(d);
        if (created.ok()) {
          ++stored;
        } else {
          EXPECT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted);
          ++refused;
        }
        PromptVersion p;
        p.tenant_id = a_.id;
        p.name = absl::StrCat("p", t, "_", i);
        p.task = "classify";
        p.labels = {"a"};
        (void)(*store)->CreatePromptVersion(p);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(stored.load(), 10);  // 10 x 999 bytes fit in 10,000; the 11th does not
  EXPECT_EQ(refused.load(), 10);
  EXPECT_LE(*store_->StoredBytes(a_.id), 10'000);
  EXPECT_EQ(*store_->CountPrompts(a_.id), 5);
}

TEST_P(StoreTest, FinishRefusesAResultOverTheStorageQuota) {
  Tenant small = a_;
  small.quotas.max_stored_bytes = 100;
  ASSERT_TRUE(store_->UpdateTenant(small).ok());
  const Job job = Submit(a_, "p");
  auto claimed = store_->ClaimJob("r", absl::Seconds(30));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  PromptVersion result;
  result.state = PromptState::kReady;
  result.artifact_safetensors = std::string(200, 'w');
  EXPECT_EQ(store_->FinishJob(a_.id, job.id, JobLease::Of(**claimed), JobState::kSucceeded, "",
                              absl::Now(), &result)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->GetJob(a_.id, job.id)->state, JobState::kRunning);  // nothing written
  EXPECT_EQ(*store_->StoredBytes(a_.id), 0);
}

TEST_P(StoreTest, QuotaCounters) {
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
  auto created = store_->CreateDataset(d);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->digest, Sha256Hex(d.content));
  EXPECT_EQ(*store_->CountPrompts(a_.id), 2);
  EXPECT_EQ(*store_->CountPrompts(b_.id), 1);
  EXPECT_EQ(*store_->StoredBytes(a_.id), 3 * 10 + 100);
  EXPECT_EQ(*store_->StoredBytes(b_.id), 10);
  NewJob(a_);
  EXPECT_EQ(*store_->CountJobsInState(JobState::kQueued), 1);
}

TEST_P(StoreTest, EverythingSurvivesReopen) {
  NewPrompt(a_, "kept", PromptState::kReady);
  Job job = NewJob(a_);
  auto claimed = store_->ClaimJob("r", absl::Seconds(30));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  ASSERT_TRUE(store_->SaveJobProgress(a_.id, job.id, JobLease::Of(**claimed),
                                      "{\"epoch\":2}", std::string(1 << 20, '\x7f'))
                  .ok());
  Reopen();
  EXPECT_EQ(store_->GetTenantByName("acme")->id, a_.id);
  EXPECT_EQ(store_->GetPrompt(a_.id, "kept")->artifact_safetensors,
            std::string("\0\1\2safet", 8));
  auto got = store_->GetJob(a_.id, job.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kRunning);
  EXPECT_EQ(got->lease_owner, "r");
  EXPECT_EQ(got->checkpoint.size(), 1u << 20);
  EXPECT_EQ(got->progress_json, "{\"epoch\":2}");
}

TEST_P(StoreTest, DeletingATenantDeletesWhatItOwns) {
  NewPrompt(a_, "p", PromptState::kReady);
  Job job = NewJob(a_);
  ASSERT_TRUE(store_->DeleteTenant(a_.id).ok());
  EXPECT_EQ(store_->GetJob(a_.id, job.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountPrompts(a_.id), 0);
}

TEST_P(StoreTest, RoundTripsAreCounted) {
  const int64_t before = store_->DatabaseRoundTrips();
  ASSERT_TRUE(store_->GetTenant(a_.id).ok());
  EXPECT_GT(store_->DatabaseRoundTrips(), before);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ptune::store

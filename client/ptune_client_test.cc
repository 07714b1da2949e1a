// PtuneClient against scripted PromptService/AdminService doubles on an
// in-process gRPC server (client/test_server.h).
#include "client/ptune_client.h"

#include <filesystem>
#include <string>
#include <vector>

#include "client/local_files.h"
#include "client/test_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::client {
namespace {

using ::ptune::client::testing::TestServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fresh folder under the test temp dir, removed at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::path(::testing::TempDir()) /
              ("ptune_client_" + name)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const {
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(PtuneClientTest, SendsBearerKeyOnEveryKindOfCall) {
  TestServer server;
  ClientOptions options;
  options.api_key = "key-123";
  auto client = server.Client(options);
  ASSERT_TRUE(client->GetJob("j").ok());
  ASSERT_TRUE(client->ListTenants().ok());
  ASSERT_TRUE(client->WatchJob("j", nullptr).status().code() ==
              absl::StatusCode::kInternal);  // Empty stream.
  TempDir dir("bearer");
  ASSERT_TRUE(WriteLocalFile(dir / "d.tsv", "text\tlabel\n").ok());
  ASSERT_TRUE(client->UploadDataset({}, dir / "d.tsv").ok());
  absl::MutexLock lock(&server.state.mu);
  EXPECT_THAT(server.state.methods, ElementsAre("GetJob", "ListTenants",
                                                "WatchJob", "UploadDataset"));
  EXPECT_THAT(server.state.authorizations,
              ElementsAre("Bearer key-123", "Bearer key-123", "Bearer key-123",
                          "Bearer key-123"));
}

TEST(PtuneClientTest, NoKeyNoHeader) {
  TestServer server;
  auto client = server.Client();
  ASSERT_TRUE(client->GetJob("j").ok());
  absl::MutexLock lock(&server.state.mu);
  EXPECT_THAT(server.state.authorizations, ElementsAre("<none>"));
}

TEST(PtuneClientTest, UnaryCallsCarryTheOptionsDeadline) {
  TestServer server;
  ClientOptions options;
  options.timeout = absl::Seconds(7);
  auto client = server.Client(options);
  ASSERT_TRUE(client->GetPrompt("p").ok());
  ASSERT_TRUE(client->WatchJob("j", nullptr).status().code() ==
              absl::StatusCode::kInternal);
  absl::MutexLock lock(&server.state.mu);
  ASSERT_EQ(server.state.deadlines.size(), 2u);
  // gRPC rounds the wire timeout up a little; 30 s (the default) must not pass.
  EXPECT_LE(server.state.deadlines[0], absl::Milliseconds(7500));
  EXPECT_GT(server.state.deadlines[0], absl::Seconds(5));
  // The watch lasts as long as the job: no deadline by default.
  EXPECT_GT(server.state.deadlines[1], absl::Hours(24 * 365));
}

class StatusMappingTest : public ::testing::TestWithParam<grpc::StatusCode> {};

TEST_P(StatusMappingTest, EveryCodeAndMessageSurvive) {
  TestServer server;
  const std::string message = "message for code " + std::to_string(GetParam());
  {
    absl::MutexLock lock(&server.state.mu);
    server.state.status = grpc::Status(GetParam(), message);
  }
  auto client = server.Client();
  absl::StatusOr<v1::Job> job = client->GetJob("j");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(static_cast<int>(job.status().code()),
            static_cast<int>(GetParam()));
  EXPECT_EQ(job.status().message(), message);
  // The admin service and streams go through the same conversion.
  absl::Status revoke = client->RevokeApiKey("t", "k");
  EXPECT_EQ(static_cast<int>(revoke.code()), static_cast<int>(GetParam()));
  absl::StatusOr<v1::Job> watched = client->WatchJob("j", nullptr);
  EXPECT_EQ(static_cast<int>(watched.status().code()),
            static_cast<int>(GetParam()));
  EXPECT_EQ(watched.status().message(), message);
}

INSTANTIATE_TEST_SUITE_P(
    AllErrorCodes, StatusMappingTest,
    ::testing::Values(
        grpc::StatusCode::CANCELLED, grpc::StatusCode::UNKNOWN,
        grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::DEADLINE_EXCEEDED,
        grpc::StatusCode::NOT_FOUND, grpc::StatusCode::ALREADY_EXISTS,
        grpc::StatusCode::PERMISSION_DENIED,
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::ABORTED,
        grpc::StatusCode::OUT_OF_RANGE, grpc::StatusCode::UNIMPLEMENTED,
        grpc::StatusCode::INTERNAL, grpc::StatusCode::UNAVAILABLE,
        grpc::StatusCode::DATA_LOSS, grpc::StatusCode::UNAUTHENTICATED));

// Bytes 0..255 repeated, with a period that does not divide the chunk size,
// so that a dropped, repeated or reordered chunk changes the result.
std::string PatternBytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7) % 251);
  return bytes;
}

TEST(PtuneClientTest, UploadSendsTheFileInOneMebibyteChunks) {
  TestServer server;
  TempDir dir("upload");
  const std::string bytes = PatternBytes(2 * kUploadChunkBytes + 12345);
  ASSERT_TRUE(WriteLocalFile(dir / "big.conll", bytes).ok());
  v1::UploadDatasetRequest::Header header;
  header.set_name("big");
  header.set_task(v1::TASK_TAG);
  header.set_format(v1::DATASET_FORMAT_CONLL);
  absl::StatusOr<v1::Dataset> dataset =
      server.Client()->UploadDataset(header, dir / "big.conll");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size_bytes(), static_cast<int64_t>(bytes.size()));
  absl::MutexLock lock(&server.state.mu);
  EXPECT_TRUE(server.state.uploaded_bytes == bytes);
  EXPECT_THAT(server.state.upload_chunk_sizes,
              ElementsAre(kUploadChunkBytes, kUploadChunkBytes, 12345));
  EXPECT_EQ(server.state.upload_messages_with_header, 1);
  ASSERT_EQ(server.state.upload_headers.size(), 1u);
  EXPECT_EQ(server.state.upload_headers[0].name(), "big");
  EXPECT_EQ(server.state.upload_headers[0].format(), v1::DATASET_FORMAT_CONLL);
}

TEST(PtuneClientTest, UploadOfExactlyOneChunkAndOfAnEmptyFile) {
  TestServer server;
  TempDir dir("upload_edges");
  ASSERT_TRUE(
      WriteLocalFile(dir / "one", PatternBytes(kUploadChunkBytes)).ok());
  ASSERT_TRUE(WriteLocalFile(dir / "empty", "").ok());
  auto client = server.Client();
  ASSERT_TRUE(client->UploadDataset({}, dir / "one").ok());
  {
    absl::MutexLock lock(&server.state.mu);
    EXPECT_THAT(server.state.upload_chunk_sizes,
                ElementsAre(kUploadChunkBytes));
    server.state.upload_chunk_sizes.clear();
  }
  ASSERT_TRUE(client->UploadDataset({}, dir / "empty").ok());
  absl::MutexLock lock(&server.state.mu);
  // The header still goes out, in one message with an empty chunk.
  EXPECT_THAT(server.state.upload_chunk_sizes, ElementsAre(0));
  EXPECT_EQ(server.state.upload_messages_with_header, 2);
}

TEST(PtuneClientTest, UploadOfAMissingFileIsNotFound) {
  TestServer server;
  absl::StatusOr<v1::Dataset> dataset =
      server.Client()->UploadDataset({}, "/nonexistent/file.tsv");
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), HasSubstr("/nonexistent/file.tsv"));
}

std::vector<v1::Job> ProgressJobs(int count) {
  std::vector<v1::Job> jobs;
  for (int i = 1; i <= count; ++i) {
    v1::Job job;
    job.set_id("j");
    job.set_state(i < count ? v1::JOB_STATE_RUNNING : v1::JOB_STATE_SUCCEEDED);
    job.mutable_progress()->set_step(i);
    job.mutable_progress()->set_total_steps(count);
    jobs.push_back(job);
  }
  return jobs;
}

TEST(PtuneClientTest, WatchDeliversEveryMessageAndReturnsTheLast) {
  TestServer server;
  {
    absl::MutexLock lock(&server.state.mu);
    server.state.watch_stream = ProgressJobs(50);
  }
  std::vector<int64_t> steps;
  absl::StatusOr<v1::Job> last = server.Client()->WatchJob(
      "j",
      [&steps](const v1::Job& job) { steps.push_back(job.progress().step()); });
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(steps.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(steps[i], i + 1);
  EXPECT_EQ(last->state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(last->progress().step(), 50);
}

TEST(PtuneClientTest, WatchReportsTheStreamsError) {
  TestServer server;
  {
    absl::MutexLock lock(&server.state.mu);
    server.state.watch_stream = ProgressJobs(3);
    server.state.watch_end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye");
  }
  int delivered = 0;
  absl::StatusOr<v1::Job> last = server.Client()->WatchJob(
      "j", [&delivered](const v1::Job&) { ++delivered; });
  EXPECT_EQ(delivered, 3);
  EXPECT_EQ(last.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(last.status().message(), "bye");
}

TEST(PtuneClientTest, ListAllJobsFollowsThePages) {
  TestServer server;
  {
    absl::MutexLock lock(&server.state.mu);
    for (int i = 0; i < 5; ++i) {
      v1::Job job;
      job.set_id("job-" + std::to_string(i));
      server.state.jobs.push_back(job);
    }
  }
  absl::StatusOr<std::vector<v1::Job>> jobs =
      server.Client()->ListAllJobs(v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  std::vector<std::string> ids;
  for (const v1::Job& job : *jobs) ids.push_back(job.id());
  EXPECT_THAT(ids, ElementsAre("job-0", "job-1", "job-2", "job-3", "job-4"));
  absl::MutexLock lock(&server.state.mu);
  EXPECT_EQ(server.state.methods.size(), 3u);  // Pages of 2, 2, 1.
  EXPECT_EQ(server.state.list_jobs_request.state(), v1::JOB_STATE_RUNNING);
}

TEST(PtuneClientTest, ExportThenImportRoundTripsTheFiles) {
  TestServer server;
  const std::string weights = PatternBytes(100000);
  {
    absl::MutexLock lock(&server.state.mu);
    auto* files = server.state.export_response.mutable_files();
    v1::File* config = files->Add();
    config->set_name("adapter_config.json");
    config->set_content("{\"peft_type\":\"PREFIX_TUNING\"}");
    v1::File* model = files->Add();
    model->set_name("adapter_model.safetensors");
    model->set_content(weights);
    v1::File* meta = files->Add();
    meta->set_name("ptune_export.json");
    meta->set_content("{\"labels\":[\"neg\",\"pos\"]}");
  }
  TempDir dir("export");
  auto client = server.Client();
  absl::StatusOr<std::vector<std::string>> written =
      client->ExportPromptToDir("sentiment", 3, dir / "adapter");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size(), 3u);
  EXPECT_EQ(*ReadLocalFile(dir / "adapter/adapter_model.safetensors"), weights);
  {
    absl::MutexLock lock(&server.state.mu);
    EXPECT_EQ(server.state.last_id, "sentiment");
    EXPECT_EQ(server.state.last_version, 3);
  }
  absl::StatusOr<v1::Prompt> imported =
      client->ImportPromptFromDir("copy", dir / "adapter", {"neg", "pos"});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->name(), "copy");
  absl::MutexLock lock(&server.state.mu);
  const v1::ImportPromptRequest& request = server.state.import_request;
  EXPECT_EQ(request.prompt_name(), "copy");
  EXPECT_THAT(request.labels(), ElementsAre("neg", "pos"));
  ASSERT_EQ(request.files_size(), 3);
  for (const v1::File& sent : server.state.export_response.files()) {
    bool found = false;
    for (const v1::File& received : request.files()) {
      if (received.name() == sent.name()) {
        found = true;
        EXPECT_TRUE(received.content() == sent.content()) << sent.name();
      }
    }
    EXPECT_TRUE(found) << sent.name();
  }
}

TEST(PtuneClientTest, ExportRefusesFileNamesThatLeaveTheFolder) {
  TestServer server;
  {
    absl::MutexLock lock(&server.state.mu);
    v1::File* file = server.state.export_response.add_files();
    file->set_name("../escaped");
    file->set_content("x");
  }
  TempDir dir("export_bad");
  absl::StatusOr<std::vector<std::string>> written =
      server.Client()->ExportPromptToDir("p", 0, dir / "out");
  EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "escaped"));
}

TEST(PtuneClientTest, ImportNeedsTheAdapterFiles) {
  TestServer server;
  TempDir dir("import_missing");
  ASSERT_TRUE(WriteLocalFile(dir / "adapter_config.json", "{}").ok());
  absl::StatusOr<v1::Prompt> imported =
      server.Client()->ImportPromptFromDir("p", dir.path(), {});
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(imported.status().message(),
              HasSubstr("adapter_model.safetensors"));
  absl::MutexLock lock(&server.state.mu);
  EXPECT_TRUE(server.state.methods.empty());
}

TEST(PtuneClientTest, EveryRpcReachesItsMethod) {
  TestServer server;
  auto client = server.Client();
  EXPECT_TRUE(client->TrainPrompt({}).ok());
  EXPECT_TRUE(client->CancelJob("j").ok());
  EXPECT_TRUE(client->Classify({}).ok());
  EXPECT_TRUE(client->TagEntities({}).ok());
  EXPECT_TRUE(client->ListAllPrompts().ok());
  EXPECT_TRUE(client->DeletePrompt("p").ok());
  EXPECT_TRUE(client->ImportPrompt({}).ok());
  EXPECT_TRUE(client->CreateTenant({}).ok());
  EXPECT_TRUE(client->CreateApiKey("t").ok());
  EXPECT_TRUE(client->RevokeApiKey("t", "k").ok());
  EXPECT_TRUE(client->SetQuota({}).ok());
  absl::MutexLock lock(&server.state.mu);
  EXPECT_THAT(
      server.state.methods,
      ElementsAre("TrainPrompt", "CancelJob", "Classify", "TagEntities",
                  "ListPrompts", "DeletePrompt", "ImportPrompt", "CreateTenant",
                  "CreateApiKey", "RevokeApiKey", "SetQuota"));
}

TEST(PtuneClientTest, CreateChecksItsOptions) {
  ClientOptions options;
  options.address = "";
  EXPECT_EQ(PtuneClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.address = "localhost:1";
  options.tls = true;
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(PtuneClient::Create(options).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PtuneClientTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.address = "127.0.0.1:1";  // Nothing listens on port 1.
  options.timeout = absl::Seconds(5);
  auto client = PtuneClient::Create(options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<v1::Job> job = (*client)->GetJob("j");
  EXPECT_EQ(job.status().code(), absl::StatusCode::kUnavailable)
      << job.status();
}

}  // namespace
}  // namespace ptune::client

#include "tests/service/service_fixture.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace ptune::testing {

std::unique_ptr<InProcessServer> InProcessServer::Start(const std::string& data_dir,
                                                        service::Server::Options options) {
  std::filesystem::create_directories(data_dir);
  std::unique_ptr<InProcessServer> s(new InProcessServer());
  s->admin_key_ = "test-admin-key-0123456789abcdef0123456789";
  const std::string key_file = data_dir + "/admin.key";
  std::ofstream(key_file) << s->admin_key_ << "\n";
  options.listen_address = "127.0.0.1:0";
  options.metrics_address = "127.0.0.1:0";
  options.backbone_dir = BackboneDir();
  options.device = "cpu";
  options.data_dir = data_dir;
  options.admin_key_file = key_file;
  options.shutdown_grace = absl::Seconds(2);
  s->options_ = options;
  auto server = service::Server::BuildAndStart(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  s->server_ = std::move(*server);
  s->Connect();
  return s;
}

InProcessServer::~InProcessServer() {
  if (server_ != nullptr) server_->Shutdown();
}

void InProcessServer::Connect() {
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                 grpc::InsecureChannelCredentials());
  prompts_ = v1::PromptService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
}

void InProcessServer::Restart() {
  server_->Shutdown();
  server_.reset();
  auto server = service::Server::BuildAndStart(options_);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  Connect();
}

TestTenant InProcessServer::CreateTenant(const std::string& name) {
  TestTenant tenant;
  v1::CreateTenantRequest create;
  create.set_name(name);
  v1::Tenant created;
  grpc::Status status = admin_->CreateTenant(Call(admin_key_).get(), create, &created);
  EXPECT_TRUE(status.ok()) << status.error_message();
  tenant.id = created.id();
  v1::CreateApiKeyRequest key_request;
  key_request.set_tenant_id(tenant.id);
  v1::CreateApiKeyResponse key;
  status = admin_->CreateApiKey(Call(admin_key_).get(), key_request, &key);
  EXPECT_TRUE(status.ok()) << status.error_message();
  tenant.key = key.api_key();
  return tenant;
}

std::unique_ptr<grpc::ClientContext> Call(const std::string& key, int timeout_s) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  return context;
}

v1::ExampleSet ReadTsvExamples(const std::string& path) {
  v1::ExampleSet set;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    if (cells.size() != 2) continue;
    v1::Example* e = set.add_examples();
    e->set_text(cells[0]);
    e->set_label(cells[1]);
  }
  return set;
}

v1::ExampleSet ReadConllExamples(const std::string& path) {
  v1::ExampleSet set;
  std::ifstream in(path);
  std::string line;
  v1::Example current;
  auto flush = [&] {
    if (current.tokens_size() > 0) *set.add_examples() = current;
    current.Clear();
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      flush();
      continue;
    }
    std::vector<std::string> cells = absl::StrSplit(line, ' ');
    current.add_tokens(cells.front());
    current.add_tags(cells.back());
  }
  flush();
  return set;
}

v1::Dataset UploadFile(InProcessServer& server, const std::string& key,
                       const std::string& name, v1::Task task, v1::DatasetFormat format,
                       const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  v1::Dataset dataset;
  auto context = Call(key);
  auto writer = server.prompts().UploadDataset(context.get(), &dataset);
  v1::UploadDatasetRequest message;
  message.mutable_header()->set_name(name);
  message.mutable_header()->set_task(task);
  message.mutable_header()->set_format(format);
  message.set_chunk(content.str());
  EXPECT_TRUE(writer->Write(message));
  writer->WritesDone();
  const grpc::Status uploaded = writer->Finish();
  EXPECT_TRUE(uploaded.ok()) << path << ": " << uploaded.error_message();
  return uploaded.ok() ? dataset : v1::Dataset();
}

v1::Job WaitForJob(InProcessServer& server, const std::string& key,
                   const std::string& job_id) {
  auto context = Call(key, 600);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto reader = server.prompts().WatchJob(context.get(), request);
  v1::Job job, last;
  while (reader->Read(&job)) last = job;
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return last;
}

}  // namespace ptune::testing

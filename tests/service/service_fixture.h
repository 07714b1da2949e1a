// An in-process ptune server for service tests: the real Server (backbone,
// engine, SQLite store in a temporary folder, job runner, gRPC on a loopback
// port, /metrics), plus helpers to create tenants and call it with a key.
#ifndef PTUNE_TESTS_SERVICE_SERVICE_FIXTURE_H_
#define PTUNE_TESTS_SERVICE_SERVICE_FIXTURE_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "ptune/v1/ptune.grpc.pb.h"
#include "server/service/server.h"

namespace ptune::testing {

// A tenant with its key, and stubs that send the key.
struct TestTenant {
  std::string id;
  std::string key;
};

class InProcessServer {
 public:
  // Starts a server over a fresh store in `data_dir` (created if missing).
  static std::unique_ptr<InProcessServer> Start(const std::string& data_dir,
                                                service::Server::Options options = {});
  ~InProcessServer();

  // Restarts the server on the same store (a clean shutdown first).
  void Restart();

  v1::PromptService::Stub& prompts() { return *prompts_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const std::string& admin_key() const { return admin_key_; }
  int metrics_port() const { return server_->metrics_port(); }
  service::Server& server() { return *server_; }

  // Creates a tenant and one key for it (through the Admin service).
  TestTenant CreateTenant(const std::string& name);

 private:
  InProcessServer() = default;
  void Connect();

  service::Server::Options options_;
  std::string admin_key_;
  std::unique_ptr<service::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PromptService::Stub> prompts_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// A client context carrying `key` as a bearer token and a deadline.
std::unique_ptr<grpc::ClientContext> Call(const std::string& key, int timeout_s = 60);

// The examples of a TSV file (text<TAB>label, header) / CoNLL file.
v1::ExampleSet ReadTsvExamples(const std::string& path);
v1::ExampleSet ReadConllExamples(const std::string& path);

// Uploads the file at `path` as a dataset of `key`'s tenant (UploadDataset,
// one chunk); a failed upload fails the calling test and returns an empty
// Dataset.
v1::Dataset UploadFile(InProcessServer& server, const std::string& key,
                       const std::string& name, v1::Task task, v1::DatasetFormat format,
                       const std::string& path);

// Waits for the job to end (WatchJob) and returns its last state.
v1::Job WaitForJob(InProcessServer& server, const std::string& key,
                   const std::string& job_id);

}  // namespace ptune::testing

#endif  // PTUNE_TESTS_SERVICE_SERVICE_FIXTURE_H_

#include "tests/e2e/harness.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ptune::e2e {

absl::StatusOr<std::unique_ptr<Harness>> Harness::Create(
    const HarnessOptions& options) {
  std::unique_ptr<Harness> harness(new Harness(options));
  std::string pattern =
      (std::filesystem::temp_directory_path() / "ptune-e2e-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  harness->dir_ = pattern;
  // 40 characters: above the server's 32-character minimum.
  harness->admin_key_ = absl::StrCat("e2e-admin-", getpid(), "-");
  harness->admin_key_.resize(40, 'k');
  std::ofstream(harness->dir_ + "/admin.key") << harness->admin_key_ << "\n";
  return harness;
}

Harness::~Harness() {
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status Harness::StartServer() {
  if (server_ != nullptr && server_->process().Running()) {
    return absl::FailedPreconditionError("a server already runs");
  }
  ServerProcess::Options options;
  options.binary = options_.server_binary;
  options.store_url =
      options_.store_url.empty() ? "sqlite://" + dir_ + "/ptune.db" : options_.store_url;
  options.admin_key_file = dir_ + "/admin.key";
  options.backbone_dir = options_.backbone_dir;
  options.log_dir = dir_;
  options.extra_flags = options_.server_flags;
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(options);
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Harness::StopServer(absl::Duration timeout) {
  if (server_ == nullptr) return absl::FailedPreconditionError("no server");
  return server_->Terminate(timeout);
}

void Harness::KillServer() {
  if (server_ != nullptr) server_->Kill();
}

std::vector<std::string> Harness::CliArgv(const std::string& key,
                                          std::vector<std::string> args) const {
  std::vector<std::string> argv = {options_.cli_binary};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--addr=" + (server_ != nullptr ? server_->address()
                                                 : std::string("127.0.0.1:1")));
  argv.push_back("--api_key=" + key);
  return argv;
}

CommandResult Harness::Cli(const std::string& key,
                           std::vector<std::string> args,
                           absl::Duration timeout) {
  return RunCommand(CliArgv(key, std::move(args)), dir_, timeout);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Harness::StartCli(
    const std::string& key, std::vector<std::string> args,
    const std::string& name) {
  const std::string base = absl::StrCat(dir_, "/", name);
  return Subprocess::Start(CliArgv(key, std::move(args)), base + ".out",
                           base + ".err");
}

absl::StatusOr<Tenant> Harness::CreateTenant(const std::string& name) {
  CommandResult created =
      Cli(admin_key_, {"admin", "create-tenant", name, "--json"});
  if (created.exit_code() != 0) {
    return absl::InternalError(
        absl::StrCat("admin create-tenant: ", created.DebugString()));
  }
  absl::StatusOr<nlohmann::json> tenant = OneJson(created.out);
  if (!tenant.ok()) return tenant.status();
  Tenant result;
  result.id = tenant->value("id", "");
  CommandResult key = Cli(admin_key_, {"admin", "create-key", result.id, "--json"});
  if (key.exit_code() != 0) {
    return absl::InternalError(
        absl::StrCat("admin create-key: ", key.DebugString()));
  }
  absl::StatusOr<nlohmann::json> key_json = OneJson(key.out);
  if (!key_json.ok()) return key_json.status();
  result.key = key_json->value("apiKey", "");
  if (result.id.empty() || result.key.empty()) {
    return absl::InternalError(absl::StrCat("no tenant id or key in ",
                                            created.out, key.out));
  }
  return result;
}

absl::StatusOr<std::vector<nlohmann::json>> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> objects;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr,
                                                  /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat("not JSON: ", line));
    }
    objects.push_back(std::move(parsed));
  }
  return objects;
}

absl::StatusOr<nlohmann::json> OneJson(const std::string& out) {
  absl::StatusOr<std::vector<nlohmann::json>> lines = JsonLines(out);
  if (!lines.ok()) return lines.status();
  if (lines->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected one JSON line, got ", lines->size(), ": ", out));
  }
  return std::move(lines->front());
}

}  // namespace ptune::e2e

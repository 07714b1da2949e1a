// TLS on the real server: with --tls_cert/--tls_key a TLS client that trusts
// the certificate gets through and a plaintext client does not; with
// --tls_client_ca a client without a certificate is refused (mTLS).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/service/service_fixture.h"

namespace ptune::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ptune-tls-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    // A self-signed certificate for localhost (also used as the client CA).
    const std::string command = absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ", dir_, "/key.pem -out ",
        dir_, "/cert.pem 2>/dev/null");
    if (std::system(command.c_str()) != 0) GTEST_SKIP() << "openssl is not available";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::shared_ptr<grpc::Channel> TlsChannel(int port, bool with_client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Slurp(dir_ + "/cert.pem");
    if (with_client_cert) {
      ssl.pem_private_key = Slurp(dir_ + "/key.pem");
      ssl.pem_cert_chain = Slurp(dir_ + "/cert.pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::SslCredentials(ssl), args);
  }

  static grpc::StatusCode ListTenants(const std::shared_ptr<grpc::Channel>& channel,
                                      const std::string& key) {
    auto stub = v1::AdminService::NewStub(channel);
    v1::ListTenantsResponse response;
    return stub->ListTenants(Call(key, 10).get(), v1::ListTenantsRequest(), &response)
        .error_code();
  }

  std::string dir_;
};

TEST_F(TlsTest, TlsClientsGetThroughAndPlaintextOnesDoNot) {
  service::Server::Options options;
  options.tls_cert_file = dir_ + "/cert.pem";
  options.tls_key_file = dir_ + "/key.pem";
  std::unique_ptr<InProcessServer> server = InProcessServer::Start(dir_ + "/data", options);
  ASSERT_NE(server, nullptr);
  const int port = server->server().grpc_port();
  EXPECT_EQ(ListTenants(TlsChannel(port, false), server->admin_key()), grpc::StatusCode::OK);
  EXPECT_EQ(ListTenants(server->channel(), server->admin_key()),  // plaintext
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutACertificate) {
  service::Server::Options options;
  options.tls_cert_file = dir_ + "/cert.pem";
  options.tls_key_file = dir_ + "/key.pem";
  options.tls_client_ca_file = dir_ + "/cert.pem";
  std::unique_ptr<InProcessServer> server = InProcessServer::Start(dir_ + "/data", options);
  ASSERT_NE(server, nullptr);
  const int port = server->server().grpc_port();
  EXPECT_EQ(ListTenants(TlsChannel(port, true), server->admin_key()), grpc::StatusCode::OK);
  EXPECT_EQ(ListTenants(TlsChannel(port, false), server->admin_key()),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace ptune::testing

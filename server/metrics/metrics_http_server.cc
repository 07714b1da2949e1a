#include "server/metrics/metrics_http_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"
#include "prometheus/text_serializer.h"

namespace ptune::metrics {
namespace {

// Scrapes come every few seconds from one or two Prometheus servers: two
// handler threads are plenty (httplib's default is at least eight).
constexpr size_t kHandlerThreads = 2;
constexpr absl::Duration kStartTimeout = absl::Seconds(5);

// httplib's default sets SO_REUSEPORT, which lets a second server bind a port
// already in use and silently split the scrapes between the two processes.
// SO_REUSEADDR alone still allows a quick restart over TIME_WAIT sockets.
void ReuseAddressOnly(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

absl::Status ParseHostPort(const std::string& address, std::string* host,
                           int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address,
                     "\" is not host:port (e.g. 0.0.0.0:9090)"));
  }
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address,
                     "\" has no valid port (0 to 65535; 0 picks a free one)"));
  }
  if (h.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\" has an empty host"));
  }
  *host = std::move(h);
  *port = p;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Create(
    const Options& options,
    std::shared_ptr<prometheus::Collectable> collectable) {
  if (collectable == nullptr) {
    return absl::InvalidArgumentError("metrics server needs a registry");
  }
  std::string host;
  int port = 0;
  absl::Status parsed = ParseHostPort(options.address, &host, &port);
  if (!parsed.ok()) return parsed;
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(std::move(host), port, std::move(collectable)));
}

MetricsHttpServer::MetricsHttpServer(
    std::string host, int port,
    std::shared_ptr<prometheus::Collectable> collectable)
    : host_(std::move(host)),
      requested_port_(port),
      collectable_(std::move(collectable)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start() {
  absl::MutexLock lock(&mu_);
  if (server_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics server already serving on port ", bound_port_));
  }
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] {
    return new httplib::ThreadPool(kHandlerThreads);
  };
  server->set_socket_options(ReuseAddressOnly);
  std::shared_ptr<prometheus::Collectable> collectable = collectable_;
  server->Get("/metrics", [collectable](const httplib::Request&,
                                        httplib::Response& response) {
    const prometheus::TextSerializer serializer;
    response.set_content(serializer.Serialize(collectable->Collect()),
                         "text/plain; version=0.0.4; charset=utf-8");
  });
  server->Get("/healthz",
              [](const httplib::Request&, httplib::Response& response) {
                response.set_content("ok", "text/plain");
              });

  errno = 0;
  int port = requested_port_;
  if (port == 0) {
    port = server->bind_to_any_port(host_);
  } else if (!server->bind_to_port(host_, port)) {
    port = -1;
  }
  if (port <= 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat(
        "metrics server cannot listen on ", host_, ":", requested_port_,
        error != 0 ? absl::StrCat(": ", std::strerror(error)) : "",
        " (is another process using the port?)"));
  }
  httplib::Server* raw = server.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() is a no-op until the listen loop has started, so wait for it; the
  // socket already accepts connections meanwhile.
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (!raw->is_running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  server_ = std::move(server);
  bound_port_ = port;
  if (!server_->is_running()) {
    server_->stop();
    return absl::InternalError(
        absl::StrCat("metrics server on port ", port, " did not start within ",
                     absl::FormatDuration(kStartTimeout)));
  }
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    server = std::move(server_);
    thread = std::move(thread_);
    bound_port_ = 0;
  }
  if (server == nullptr) return;
  server->stop();
  if (thread.joinable()) thread.join();
}

int MetricsHttpServer::port() const {
  absl::MutexLock lock(&mu_);
  return bound_port_;
}

}  // namespace ptune::metrics

#ifndef PTUNE_SERVER_METRICS_METRICS_HTTP_SERVER_H_
#define PTUNE_SERVER_METRICS_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace ptune::metrics {

// Serves a prometheus-cpp registry in the Prometheus text format at
// GET /metrics, and GET /healthz -> 200 "ok", on its own address, from one
// background thread (cpp-httplib). Not prometheus-cpp's civetweb Exposer: its
// 100 KiB thread stacks fail to start next to OpenBLAS (PLATFORM-NOTES.md).
//
// Thread-safety: Start/Stop/port may be called from any thread; the handler
// thread only reads the collectable, which must be thread-safe (a Registry
// is). Ownership: shares the collectable; owns the listening thread, which
// Stop() (or the destructor) joins.
class MetricsHttpServer {
 public:
  struct Options {
    // host:port to listen on; "[::1]:9090" for IPv6. Port 0 picks a free
    // port (see port()). The default exposes metrics to the cluster.
    std::string address = "0.0.0.0:9090";
  };

  // Validates the address; does not bind (Start does).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Create(
      const Options& options,
      std::shared_ptr<prometheus::Collectable> collectable);

  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds and starts serving. UNAVAILABLE when the address cannot be bound
  // (port in use, no such interface); FAILED_PRECONDITION if already started.
  // May be called again after Stop().
  absl::Status Start();

  // Stops serving and joins the thread. Idempotent.
  void Stop();

  // The bound port while started (the picked one when the option said 0);
  // 0 when not started.
  int port() const;

 private:
  MetricsHttpServer(std::string host, int port,
                    std::shared_ptr<prometheus::Collectable> collectable);

  const std::string host_;
  const int requested_port_;
  const std::shared_ptr<prometheus::Collectable> collectable_;

  mutable absl::Mutex mu_;
  std::unique_ptr<httplib::Server> server_ ABSL_GUARDED_BY(mu_);
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  int bound_port_ ABSL_GUARDED_BY(mu_) = 0;
};

// Splits "host:port" ("[v6]:port" for IPv6) into host and port; exposed for
// tests and for the service's flag validation.
absl::Status ParseHostPort(const std::string& address, std::string* host,
                           int* port);

}  // namespace ptune::metrics

#endif  // PTUNE_SERVER_METRICS_METRICS_HTTP_SERVER_H_

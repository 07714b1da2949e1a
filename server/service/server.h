// Server: one ptune process — the backbone, the engine (executor, prompt
// cache, training driver), the store, the job runner, authentication, the
// gRPC services (+ grpc.health.v1 and reflection) and the /metrics endpoint.
// Built from one Options struct (flags.h fills it from the command line).
//
//   ASSIGN_OR_RETURN(auto server, Server::BuildAndStart(options));
//   ...  // until SIGTERM
//   server->Drain(options.drain);  // NOT_SERVING, still serving
//   server->Shutdown();
//
// Thread-safety: Shutdown and the accessors may be called from any thread.
// Ownership: owns every component; destruction shuts down.
#ifndef PTUNE_SERVER_SERVICE_SERVER_H_
#define PTUNE_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/batching/scheduler_options.h"
#include "server/service/validation.h"
#include "server/store/records.h"

namespace ptune::service {

class Server {
 public:
  struct Options {
    // gRPC address. Port 0 picks a free port (see grpc_port()).
    std::string listen_address = "0.0.0.0:8500";
    // Prometheus /metrics address (own port); empty turns it off.
    std::string metrics_address = "0.0.0.0:9090";
    // Tenants with their own ptune_tenant_requests_total series.
    int metrics_max_tenants = 100;
    // Hugging Face folder of the backbone (config.json, model.safetensors,
    // vocab.txt). Every prompt is bound to this backbone's checksum.
    std::string backbone_dir;
    // "auto" (cuda when available), "cpu", "cuda", "cuda:N".
    std::string device = "auto";
    // "float32", or "float16"/"bfloat16" on CUDA (half the memory, ~2x
    // throughput, outputs differ by ~1e-3).
    std::string dtype = "float32";
    // "auto", "sdpa" (LibTorch 2.x) or "matmul" (Backbone::Options).
    std::string attention = "auto";
    // Where state lives: "sqlite:///abs/path.db" (default: <data_dir>/ptune.db),
    // or "postgresql://user@host:port/db" shared by several replicas.
    std::string store_url;
    // PostgreSQL connections of this replica.
    int store_pool_size = 8;
    // How long serving trusts its cached key/tenant/prompt-version lookups:
    // the bound for a key revocation or prompt deletion made on another
    // replica to reach this one (store::CachingStore).
    absl::Duration store_cache_ttl = absl::Seconds(2);
    // Training job leases: a replica that dies loses its jobs to another one
    // within this long (jobs::JobQueue::Options::lease).
    absl::Duration job_lease = absl::Seconds(30);
    // A stable name of this replica across restarts (jobs::JobQueue::Options
    // ::replica); empty: the host name for SQLite, none for PostgreSQL.
    std::string replica_id;
    // Create a fresh store over an existing but empty (0-byte) SQLite file
    // instead of refusing to start (store::OpenStore).
    bool init_store = false;
    // Folder for the default SQLite file and scratch files.
    std::string data_dir = ".";
    // File holding the admin key (>= 32 characters). Without it, the Admin
    // service answers UNAUTHENTICATED to everyone.
    std::string admin_key_file;
    // TLS: server certificate chain and key (PEM). Empty = plaintext (only
    // behind a mesh or on loopback). With client_ca_file, clients must
    // present a certificate signed by it (mTLS).
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    // Serving batches: see batching::BatchSchedulerOptions.
    batching::BatchSchedulerOptions batching;
    // Tenants with at most this many texts queued run inside (at a pause of)
    // a flooding tenant's forward (engine::EngineOptions::light_tenant_rows).
    int light_tenant_rows = 8;
    // engine::EngineOptions::cpu_max_forward_tokens.
    int cpu_max_forward_tokens = 256;
    // engine::EngineOptions::max_tokens.
    int max_tokens = 512;
    // engine::TrainingDriverOptions slices; -1 = ForDevice's default.
    int training_slice_rows = -1;
    int training_slice_tokens = -1;
    int eval_slice_rows = -1;
    // Device bytes for resident prompts (LRU).
    int64_t prompt_cache_bytes = int64_t{1} << 30;
    // Training jobs running at once on this replica.
    int training_concurrency = 2;
    // Runs a job gets before a job that keeps dying with the process fails.
    int max_job_attempts = 3;
    // Share of the executor's time training gets while serving has work.
    double training_share = 0.15;
    // Per-request limits (texts per call, bytes per text, dataset sizes).
    RequestLimits limits;
    // Quotas of tenants created without explicit ones.
    store::Quotas default_quotas;
    // Connections without a call for this long are closed (GOAWAY); zero
    // keeps them open.
    absl::Duration max_connection_idle = absl::Minutes(5);
    // Connections are closed (GOAWAY, then a 30 s grace for calls in flight)
    // after this long, so clients re-resolve and rebalance; zero: never.
    absl::Duration max_connection_age = absl::ZeroDuration();
    // After SIGTERM: how long the server keeps serving with its health
    // NOT_SERVING, so that load balancers stop sending it calls before it
    // stops accepting them (Drain).
    absl::Duration drain = absl::ZeroDuration();
    // How long Shutdown lets in-flight calls finish before cancelling them.
    absl::Duration shutdown_grace = absl::Seconds(20);
    // Health turns NOT_SERVING while one executor turn (a batch or a
    // training slice, normally milliseconds) lasts longer than this.
    absl::Duration executor_stall_timeout = absl::Seconds(30);
  };

  static absl::StatusOr<std::unique_ptr<Server>> BuildAndStart(const Options& options);
  ~Server();

  // Turns health NOT_SERVING (for good: the stall watchdog no longer
  // changes it), stops training (running jobs go back to the queue with
  // their last checkpoint, for another replica to take at once) and keeps
  // serving for `period`, so that clients and load balancers move to other
  // replicas while every call still succeeds.
  void Drain(absl::Duration period);

  // Stops accepting calls, lets in-flight calls finish within the grace
  // period, stops training jobs at their next step and hands them back to
  // the queue (another replica, or this one at its next start, resumes them
  // from their last checkpoint), drains the engine. Idempotent.
  void Shutdown();

  int grpc_port() const;
  int metrics_port() const;  // 0 when metrics are off

 private:
  struct Components;
  explicit Server(std::unique_ptr<Components> components);
  std::unique_ptr<Components> c_;
};

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_SERVER_H_

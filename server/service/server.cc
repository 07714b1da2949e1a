#include "server/service/server.h"

#include <atomic>
#include <fstream>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "absl/synchronization/notification.h"
#include "server/auth/authenticator.h"
#include "server/auth/rate_limiter.h"
#include "server/backbone/backbone.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/device/device_runtime.h"
#include "server/engine/engine.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/job_runner.h"
#include "server/logging/log.h"
#include "server/metrics/metrics_http_server.h"
#include "server/metrics/service_metrics.h"
#include "server/service/admin_service.h"
#include "server/service/health_watchdog.h"
#include "server/service/prompt_service.h"
#include "server/service/store_prompt_loader.h"
#include "server/service/training_job_executor.h"
#include "server/store/caching_store.h"
#include "server/store/store.h"

namespace ptune::service {
namespace {

// The store's keys as the authenticator's directory. Disabled tenants'
// keys do not authenticate.
class StoreKeyDirectory : public auth::KeyDirectory {
 public:
  explicit StoreKeyDirectory(store::Store* store) : store_(store) {}
  absl::StatusOr<std::string> TenantForKeyHash(std::string_view hash) override {
    ASSIGN_OR_RETURN(store::ApiKeyLookup found, store_->LookupApiKey(std::string(hash)));
    if (found.tenant.disabled) return absl::NotFoundError("tenant disabled");
    return found.tenant.id;
  }

 private:
  store::Store* const store_;
};

// Engine events into the Prometheus families.
class MetricsObserver : public engine::EngineObserver {
 public:
  explicit MetricsObserver(metrics::ServiceMetrics* metrics) : metrics_(metrics) {}
  void OnBatch(int rows, int64_t tokens, double padding_ratio,
               double forward_seconds) override {
    metrics_->RecordBatch(rows, tokens, padding_ratio, forward_seconds);
  }
  void OnQueueWait(double seconds) override { metrics_->RecordQueueWait(seconds); }
  void OnQueueDepth(int64_t depth) override { metrics_->SetQueueDepth(depth); }

 private:
  metrics::ServiceMetrics* const metrics_;
};

// The process's resident set (host memory), from /proc/self/statm.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const Server::Options& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (options.tls_cert_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl(
      options.tls_client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(std::string cert, common::ReadFile(options.tls_cert_file));
  ASSIGN_OR_RETURN(std::string key, common::ReadFile(options.tls_key_file));
  ssl.pem_key_cert_pairs.push_back({key, cert});
  if (!options.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, common::ReadFile(options.tls_client_ca_file));
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

struct Server::Components {
  Options options;
  std::unique_ptr<metrics::ServiceMetrics> metrics;
  std::unique_ptr<store::Store> store;
  std::shared_ptr<const backbone::Backbone> backbone;
  std::unique_ptr<StorePromptLoader> loader;
  std::unique_ptr<MetricsObserver> observer;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<jobs::JobQueue> queue;
  std::unique_ptr<TrainingJobExecutor> executor;
  std::unique_ptr<jobs::JobRunner> runner;
  std::unique_ptr<StoreKeyDirectory> keys;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<auth::RateLimiter> rate_limiter;
  std::unique_ptr<PromptServiceImpl> prompt_service;
  std::unique_ptr<AdminServiceImpl> admin_service;
  std::unique_ptr<grpc::Server> grpc;
  int grpc_port = 0;
  std::unique_ptr<metrics::MetricsHttpServer> http;
  std::unique_ptr<HealthWatchdog> watchdog;
  // Refreshes the gauges that are snapshots (cache, jobs by state).
  std::thread gauges;
  absl::Notification stop_gauges;
  std::atomic<bool> shut_down{false};
  std::atomic<bool> draining{false};
  // Stops the job runner (its jobs go back to the queue); started by Drain
  // or Shutdown, joined by Shutdown.
  std::thread stop_jobs;

  void StartStoppingJobs() {
    if (!stop_jobs.joinable()) stop_jobs = std::thread([this] { runner->Stop(); });
  }

  void RefreshGauges() {
    const engine::CacheStats cache = engine->cache_stats();
    metrics->SetPromptCacheTotals({.hits = static_cast<uint64_t>(cache.hits),
                                   .misses = static_cast<uint64_t>(cache.misses),
                                   .evictions = static_cast<uint64_t>(cache.evictions),
                                   .resident_prompts = cache.resident_prompts,
                                   .resident_bytes = cache.resident_bytes});
    absl::flat_hash_map<std::string, int64_t> counts;
    for (store::JobState state :
         {store::JobState::kQueued, store::JobState::kRunning, store::JobState::kSucceeded,
          store::JobState::kFailed, store::JobState::kCancelled}) {
      absl::StatusOr<int64_t> n = store->CountJobsInState(state);
      if (n.ok()) counts[std::string(store::JobStateName(state))] = *n;
    }
    metrics->SetJobs(counts);
    metrics->SetTrainingExamplesTotal(
        static_cast<uint64_t>(engine->executor_stats().training_examples));
    metrics->SetDeviceMemory("cpu", "resident", ResidentBytes());
    // The GPU's figures in CUDA builds (UNIMPLEMENTED elsewhere: skipped).
    const c10::Device gpu = backbone->device();
    if (gpu.is_cuda()) {
      const absl::StatusOr<device::DeviceMemory> memory = device::QueryDeviceMemory(gpu);
      if (memory.ok()) {
        metrics->SetDeviceMemory(gpu.str(), "allocated", memory->allocated);
        metrics->SetDeviceMemory(gpu.str(), "reserved", memory->reserved);
        metrics->SetDeviceMemory(gpu.str(), "total", memory->total);
      }
    }
  }
};

Server::Server(std::unique_ptr<Components> components) : c_(std::move(components)) {}

Server::~Server() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Server>> Server::BuildAndStart(const Options& options) {
  auto c = std::make_unique<Components>();
  c->options = options;
  if (options.backbone_dir.empty()) {
    return absl::InvalidArgumentError("--backbone_dir is required");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   Credentials(options));

  ASSIGN_OR_RETURN(std::unique_ptr<backbone::Backbone> backbone,
                   backbone::Backbone::Create({.dir = options.backbone_dir,
                                               .device = options.device,
                                               .dtype = options.dtype,
                                               .attention = options.attention}));
  c->backbone = std::move(backbone);
  c->metrics = std::make_unique<metrics::ServiceMetrics>(
      metrics::BuildInfo{.version = "0.1.0", .backbone = c->backbone->name()},
      options.metrics_max_tenants);

  const std::string store_url = options.store_url.empty()
                                    ? absl::StrCat("sqlite://", options.data_dir, "/ptune.db")
                                    : options.store_url;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<store::Store> opened,
                     store::OpenStore(store_url, {.init_empty_store = options.init_store,
                                                  .pool_size = options.store_pool_size}));
    c->store = std::make_unique<store::CachingStore>(std::move(opened),
                                                     options.store_cache_ttl);
  }

  c->loader = std::make_unique<StorePromptLoader>(c->store.get(), c->backbone);
  c->observer = std::make_unique<MetricsObserver>(c->metrics.get());
  engine::EngineOptions engine_options;
  engine_options.batching = options.batching;
  engine_options.light_tenant_rows = options.light_tenant_rows;
  engine_options.prompt_cache_bytes = options.prompt_cache_bytes;
  engine_options.training_share = options.training_share;
  engine_options.max_texts_per_request = options.limits.max_texts;
  engine_options.cpu_max_forward_tokens = options.cpu_max_forward_tokens;
  engine_options.max_tokens = options.max_tokens;
  engine::TrainingDriverOptions training =
      engine::TrainingDriverOptions::ForDevice(c->backbone->device());
  if (options.training_slice_rows >= 0) training.max_rows_per_slice = options.training_slice_rows;
  if (options.training_slice_tokens >= 0) {
    training.max_tokens_per_slice = options.training_slice_tokens;
  }
  if (options.eval_slice_rows >= 0) training.max_eval_rows_per_slice = options.eval_slice_rows;
  ASSIGN_OR_RETURN(c->engine, engine::Engine::Create(engine_options, c->backbone,
                                                     c->loader.get(), c->observer.get(),
                                                     training));

  // Jobs a crashed replica left running come back when their lease expires
  // (the runner's reclaim); those of this replica's own previous process
  // (same --replica_id) at once. A single server on a SQLite file is its
  // file's only process: its host name is a stable replica id.
  std::string replica = options.replica_id;
  if (replica.empty() && !absl::StartsWith(store_url, "postgres")) {
    replica = jobs::JobQueue::HostName();
  }
  ASSIGN_OR_RETURN(c->queue, jobs::JobQueue::Create(c->store.get(),
                                                    {.replica = replica,
                                                     .lease = options.job_lease,
                                                     .max_attempts = options.max_job_attempts}));
  ASSIGN_OR_RETURN(const int64_t taken_back, c->queue->ReclaimPredecessors());
  if (taken_back > 0) {
    logging::Log(logging::LogLevel::kInfo, "server",
                 "took back the training jobs this replica's previous process left running",
                 {{"count", std::to_string(taken_back)}, {"replica", replica}});
  }
  c->executor =
      std::make_unique<TrainingJobExecutor>(c->store.get(), c->engine.get(), c->backbone,
                                            options.limits.max_labels);
  jobs::JobRunner::Options runner_options;
  runner_options.concurrency = options.training_concurrency;
  runner_options.on_finished = [metrics = c->metrics.get()](const store::Job& ended) {
    const double seconds = ended.started_at && ended.finished_at
                               ? absl::ToDoubleSeconds(*ended.finished_at - *ended.started_at)
                               : 0;
    metrics->RecordJobFinished(std::string(store::JobStateName(ended.state)), seconds);
  };
  ASSIGN_OR_RETURN(c->runner, jobs::JobRunner::Create(c->queue.get(), c->executor.get(),
                                                      runner_options));

  c->keys = std::make_unique<StoreKeyDirectory>(c->store.get());
  c->authenticator = std::make_unique<auth::Authenticator>(c->keys.get());
  if (!options.admin_key_file.empty()) {
    RETURN_IF_ERROR(c->authenticator->LoadAdminKey(options.admin_key_file));
  }
  c->rate_limiter = std::make_unique<auth::RateLimiter>();

  ServiceDeps deps;
  deps.store = c->store.get();
  deps.engine = c->engine.get();
  deps.jobs = c->runner.get();
  deps.authenticator = c->authenticator.get();
  deps.rate_limiter = c->rate_limiter.get();
  deps.metrics = c->metrics.get();
  deps.backbone = c->backbone;
  deps.limits = options.limits;
  c->prompt_service = std::make_unique<PromptServiceImpl>(deps);
  c->admin_service = std::make_unique<AdminServiceImpl>(deps, options.default_quotas);

  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's health service is built in; referencing its generated message
  // links our copy of health.proto's descriptor, so reflection (grpcurl) can
  // describe grpc.health.v1.Health too.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &c->grpc_port);
  builder.RegisterService(c->prompt_service.get());
  builder.RegisterService(c->admin_service.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  if (options.max_connection_idle > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_IDLE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_idle)));
  }
  if (options.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age)));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30'000);
  }
  c->grpc = builder.BuildAndStart();
  if (c->grpc == nullptr || c->grpc_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, " (in use?)"));
  }
  RETURN_IF_ERROR(c->runner->Start());

  if (!options.metrics_address.empty()) {
    ASSIGN_OR_RETURN(c->http, metrics::MetricsHttpServer::Create(
                                  {.address = options.metrics_address},
                                  c->metrics->collectable()));
    RETURN_IF_ERROR(c->http->Start());
  }
  Components* raw = c.get();
  c->watchdog = std::make_unique<HealthWatchdog>(
      options.executor_stall_timeout,
      [raw] { return raw->engine->CurrentExecutorTurn(); },
      [raw](bool serving) {
        if (!raw->shut_down.load() && !raw->draining.load()) {
          raw->grpc->GetHealthCheckService()->SetServingStatus(serving);
        }
      });
  c->gauges = std::thread([raw] {
    do {
      raw->watchdog->Check();
      raw->RefreshGauges();
    } while (!raw->stop_gauges.WaitForNotificationWithTimeout(absl::Seconds(1)));
  });
  logging::Log(logging::LogLevel::kInfo, "server", "serving",
               {{"grpc_port", std::to_string(c->grpc_port)},
                {"backbone", c->backbone->name()},
                {"device", c->backbone->device().str()},
                {"store", store::RedactedUrl(store_url)}});
  return std::unique_ptr<Server>(new Server(std::move(c)));
}

void Server::Drain(absl::Duration period) {
  if (c_ == nullptr || c_->shut_down.load() || c_->draining.exchange(true)) return;
  c_->grpc->GetHealthCheckService()->SetServingStatus(false);
  // Training stops now, not after the drain: the jobs go back to the queue
  // with their last checkpoint, and another replica takes them at once.
  c_->StartStoppingJobs();
  logging::Log(logging::LogLevel::kInfo, "server", "draining",
               {{"drain_s", absl::StrCat(absl::ToDoubleSeconds(period))}});
  absl::SleepFor(period);
}

void Server::Shutdown() {
  if (c_ == nullptr || c_->shut_down.exchange(true)) return;
  // Watch streams never end by themselves while a job runs; end them so
  // that they do not hold the grace period.
  c_->prompt_service->EndWatches();
  // Running jobs stop at their next step and go back to the queue with
  // their last epoch checkpoint, while in-flight calls finish.
  c_->StartStoppingJobs();
  // New calls are refused at once; in-flight calls get the grace period.
  c_->grpc->Shutdown(std::chrono::system_clock::now() +
                     absl::ToChronoMilliseconds(c_->options.shutdown_grace));
  c_->stop_jobs.join();
  c_->engine->Shutdown();
  c_->stop_gauges.Notify();
  if (c_->gauges.joinable()) c_->gauges.join();
  if (c_->http != nullptr) c_->http->Stop();
  c_->grpc->Wait();
}

int Server::grpc_port() const { return c_->grpc_port; }

int Server::metrics_port() const { return c_->http == nullptr ? 0 : c_->http->port(); }

}  // namespace ptune::service

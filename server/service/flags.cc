#include "server/service/flags.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/logging/log.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:8500",
          "gRPC address (host:port). Port 0 picks a free port.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9090",
          "Prometheus /metrics address on its own port; empty turns metrics off.");
ABSL_FLAG(int, metrics_max_tenants, 100,
          "Tenants with their own ptune_tenant_requests_total series; later tenants count "
          "as tenant=\"other\" (bounds the series a server with many tenants exports).");
ABSL_FLAG(std::string, backbone_dir, "",
          "Hugging Face folder of the frozen backbone (config.json, model.safetensors, "
          "vocab.txt). Default: $PTUNE_BACKBONE_DIR. Prompts are bound to this "
          "backbone's weights checksum.");
ABSL_FLAG(std::string, device, "auto",
          "auto (cuda when available), cpu, cuda or cuda:N. One device per process.");
ABSL_FLAG(std::string, dtype, "float32",
          "float32, or float16/bfloat16 on CUDA: half the memory and about twice the "
          "throughput, outputs differ by ~1e-3. bfloat16 also runs on CPU (slow without "
          "bf16 units; it lets CI test the half-precision paths).");
ABSL_FLAG(std::string, attention, "auto",
          "Attention implementation: auto (the measured fastest: SDPA on LibTorch 2.x, "
          "the direct-BLAS kernel on 1.13's CPU float32; tests/bench/README.md section "
          "15), sdpa "
          "(scaled_dot_product_attention, LibTorch 2.x builds) or matmul. Outputs agree "
          "within float rounding; only speed differs.");
ABSL_FLAG(std::string, store, "",
          "State store URL: sqlite:///abs/path.db (one file, WAL, synchronous=FULL; one "
          "replica), or postgresql://user@host:port/db?sslmode=... (any number of "
          "replicas; the password comes from PGPASSFILE or ~/.pgpass, never the URL). "
          "Default: sqlite://<data_dir>/ptune.db.");
ABSL_FLAG(int, store_pool_size, 8, "PostgreSQL connections this replica keeps open.");
ABSL_FLAG(int, store_cache_ttl_ms, 2000,
          "How long serving trusts a cached API key, tenant or prompt-version lookup, so "
          "a warm Classify touches no database. A key revoked or a prompt deleted on "
          "another replica stops working here within this bound (at once on this one).");
ABSL_FLAG(std::string, log_level, "info",
          "Least severe log line written: info, warning or error. Every line is one JSON "
          "object on stderr.");
ABSL_FLAG(int, drain_s, 0,
          "After SIGTERM, keep serving this long with health NOT_SERVING before "
          "refusing new calls, so that load balancers and clients move away first and "
          "no call fails (Kubernetes: 10; terminationGracePeriodSeconds must exceed "
          "drain_s + shutdown_grace_s + 5).");
ABSL_FLAG(int, job_lease_s, 30,
          "Training job lease: the running replica renews it every 2 s (or a third of "
          "this); a replica that dies loses its jobs to another one after at most this "
          "long.");
ABSL_FLAG(std::string, replica_id, "",
          "A stable name of this replica across restarts (Kubernetes: the pod name). "
          "Job leases are <replica_id>/<random>, and at start the replica takes back at "
          "once the jobs its previous process left running. Never give two live "
          "processes the same one. Default: the host name with a SQLite store (one "
          "process per file); none with PostgreSQL (leases host/pid/random, taken over "
          "after --job_lease_s).");
ABSL_FLAG(bool, init_store, false,
          "Create a fresh store over an existing but empty (0-byte) SQLite file. Without "
          "it such a file (a botched restore) stops the start-up instead of silently "
          "starting with no tenants. A missing file is always created.");
ABSL_FLAG(std::string, data_dir, ".", "Folder for the default SQLite file.");
ABSL_FLAG(std::string, admin_key_file, "",
          "File with the admin key (>= 32 characters) for the Admin service. Without it "
          "nobody can create tenants or keys.");
ABSL_FLAG(std::string, tls_cert, "", "Server certificate chain (PEM); empty = plaintext.");
ABSL_FLAG(std::string, tls_key, "", "Server private key (PEM).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA (PEM) that client certificates must chain to: turns on mutual TLS.");
ABSL_FLAG(int, max_batch_size, 32,
          "Most texts in one forward. Larger raises throughput until the forward is "
          "compute-bound; beyond that only latency grows.");
ABSL_FLAG(int, max_batch_tokens, 8192,
          "Padded tokens (rows x longest row) in one forward: bounds activation memory "
          "and the time of one batch.");
ABSL_FLAG(int, batch_timeout_us, 2000,
          "How long a partial batch may wait for more texts. Larger fills batches "
          "(throughput) at the cost of up to this much latency at low load.");
ABSL_FLAG(int, max_queue, 1024,
          "Texts queued before calls get UNAVAILABLE. Larger absorbs bursts but lets "
          "queueing delay grow; smaller sheds load early so clients retry elsewhere.");
ABSL_FLAG(int, max_queue_per_tenant, 512,
          "Texts one tenant may have queued. A full queue is shared fairly anyway (a "
          "tenant under max_queue / active tenants is always admitted, pushing out the "
          "newest texts of the tenant holding the most); this caps one tenant's burst "
          "and so its backlog's queueing delay.");
ABSL_FLAG(int, light_tenant_rows, 8,
          "A tenant with at most this many texts queued, while another tenant's backlog "
          "fills the forward in progress, runs inside it, after its next attention or "
          "feed-forward block: it waits for one block, not the whole forward (light tenant p99 under a flood: "
          "1.0-1.6x idle, 5.4x with 0). 0 = never preempt.");
ABSL_FLAG(int, cpu_max_forward_tokens, 256,
          "CPU only: padded positions a serving forward aims for; bounds how long another "
          "tenant's text waits behind a flooding tenant's forward. <= 0 = --max_batch_tokens.");
ABSL_FLAG(int, training_slice_rows, -1,
          "Rows of one training forward/backward slice (a job's batch runs as slices, "
          "serving in between). -1 = the device's default (CPU 8, GPU 64); 0 = whole "
          "batches.");
ABSL_FLAG(int, training_slice_tokens, -1,
          "Text tokens of one training slice beyond its first row. -1 = the device's "
          "default (CPU 32: serving p99 within 1.5x of idle; GPU 4096); 0 = no limit.");
ABSL_FLAG(int, eval_slice_rows, -1,
          "Rows of one validation/evaluation batch per executor turn. -1 = the device's "
          "default (CPU 16, GPU 256).");
ABSL_FLAG(int64_t, prompt_cache_bytes, int64_t{1} << 30,
          "Device bytes of resident prompts (LRU). Larger keeps more tenants warm at the "
          "cost of memory taken from activations.");
ABSL_FLAG(int, training_concurrency, 2,
          "Training jobs running at once. More lets more tenants progress (and share "
          "forward/backward passes) but each job runs slower.");
ABSL_FLAG(double, training_share, 0.15,
          "Fraction of the executor's time training gets while serving has traffic "
          "(without traffic, all of it). Higher finishes jobs sooner; more requests then "
          "wait behind a training slice (p99 at 50% load on 2 CPU cores: 1.0-1.2x idle at "
          "0.15, 2.1-2.3x at 0.3).");
ABSL_FLAG(int, max_texts, 256, "Texts per Classify/TagEntities call.");
ABSL_FLAG(int, max_tokens, 512,
          "The most text tokens one row is read with ([CLS]/[SEP] included): bounds a row's "
          "cost. Each prompt reads texts as it was trained (its options.max_tokens; 128 "
          "unless the training data was longer), never beyond this.");
ABSL_FLAG(int64_t, max_text_bytes, 16384,
          "Bytes per text; the tokenizer truncates long texts anyway, this bounds request "
          "memory.");
ABSL_FLAG(int64_t, max_dataset_bytes, int64_t{256} << 20, "Bytes per uploaded dataset.");
ABSL_FLAG(int, max_concurrent_uploads, 4,
          "UploadDataset streams in progress at once (2 per tenant): each holds up to "
          "~4x --max_dataset_bytes of memory while it is parsed.");
ABSL_FLAG(int, max_concurrent_exports, 8,
          "ExportPrompt responses in progress at once (2 per tenant); a response stays "
          "in memory until its client has read it, so this bounds unread exports.");
ABSL_FLAG(int, max_concurrent_evaluations, 4,
          "EvaluatePrompt calls in progress at once (2 per tenant): each holds its parsed "
          "data and takes turns on the device with training.");
ABSL_FLAG(int, max_connection_idle_s, 300,
          "Close client connections that carried no call for this long (gRPC "
          "GOAWAY; clients reconnect transparently). 0 keeps them open.");
ABSL_FLAG(int, max_connection_age_s, 0,
          "Close every client connection after this long (gRPC GOAWAY after its calls "
          "end, 30 s grace), so that clients re-resolve DNS and spread over replicas "
          "that came up since they connected. 0 keeps connections. 300 suits N replicas.");
ABSL_FLAG(int, max_labels, 256,
          "Classes of one head: classification labels, or tags of a tagging head "
          "(O + 2 per entity type). Enforced when training (declared or derived from "
          "the data) and importing. A row's head and tag decoding cost grows linearly "
          "with it.");
ABSL_FLAG(int, shutdown_grace_s, 20,
          "Seconds in-flight calls get to finish after SIGTERM; keep it below the "
          "Kubernetes terminationGracePeriodSeconds.");

ABSL_FLAG(int, executor_stall_s, 30,
          "Health turns NOT_SERVING while one device-executor turn (a batch or a training "
          "slice, normally milliseconds) lasts longer than this many seconds, so that load "
          "balancers and readiness probes route around a stuck replica.");
ABSL_FLAG(int, max_job_attempts, 3,
          "Runs a training job gets: a job whose run was cut short this many times (its "
          "replica died: out of memory, a crash; its lease expired) fails with that reason "
          "instead of being requeued forever.");

namespace ptune::service {

absl::StatusOr<Server::Options> ServerOptionsFromFlags() {
  Server::Options o;
  o.listen_address = absl::GetFlag(FLAGS_listen);
  o.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  o.metrics_max_tenants = absl::GetFlag(FLAGS_metrics_max_tenants);
  if (o.metrics_max_tenants < 0) {
    return absl::InvalidArgumentError("--metrics_max_tenants must be >= 0");
  }
  o.backbone_dir = absl::GetFlag(FLAGS_backbone_dir);
  if (o.backbone_dir.empty()) {
    if (const char* env = std::getenv("PTUNE_BACKBONE_DIR")) o.backbone_dir = env;
  }
  o.device = absl::GetFlag(FLAGS_device);
  o.dtype = absl::GetFlag(FLAGS_dtype);
  o.attention = absl::GetFlag(FLAGS_attention);
  o.store_url = absl::GetFlag(FLAGS_store);
  o.init_store = absl::GetFlag(FLAGS_init_store);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.admin_key_file = absl::GetFlag(FLAGS_admin_key_file);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  o.batching.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  o.batching.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  o.batching.batch_timeout = absl::Microseconds(absl::GetFlag(FLAGS_batch_timeout_us));
  o.batching.max_queue_size = absl::GetFlag(FLAGS_max_queue);
  o.batching.max_queue_per_tenant = absl::GetFlag(FLAGS_max_queue_per_tenant);
  RETURN_IF_ERROR(o.batching.Validate());
  o.cpu_max_forward_tokens = absl::GetFlag(FLAGS_cpu_max_forward_tokens);
  o.training_slice_rows = absl::GetFlag(FLAGS_training_slice_rows);
  o.training_slice_tokens = absl::GetFlag(FLAGS_training_slice_tokens);
  o.eval_slice_rows = absl::GetFlag(FLAGS_eval_slice_rows);
  if (o.training_slice_rows < -1 || o.training_slice_tokens < -1 || o.eval_slice_rows < -1) {
    return absl::InvalidArgumentError(
        "--training_slice_rows, --training_slice_tokens and --eval_slice_rows must be >= -1 "
        "(-1 = the device's default)");
  }
  o.light_tenant_rows = absl::GetFlag(FLAGS_light_tenant_rows);
  if (o.light_tenant_rows < 0) {
    return absl::InvalidArgumentError("--light_tenant_rows must be >= 0");
  }
  o.prompt_cache_bytes = absl::GetFlag(FLAGS_prompt_cache_bytes);
  if (o.prompt_cache_bytes <= 0) {
    return absl::InvalidArgumentError("--prompt_cache_bytes must be > 0");
  }
  o.training_concurrency = absl::GetFlag(FLAGS_training_concurrency);
  if (o.training_concurrency < 1 || o.training_concurrency > 64) {
    return absl::InvalidArgumentError("--training_concurrency must be in 1..64");
  }
  o.training_share = absl::GetFlag(FLAGS_training_share);
  if (!(o.training_share > 0 && o.training_share < 1)) {
    return absl::InvalidArgumentError("--training_share must be in (0, 1)");
  }
  o.limits.max_texts = absl::GetFlag(FLAGS_max_texts);
  o.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  if (o.max_tokens < 3) return absl::InvalidArgumentError("--max_tokens must be at least 3");
  o.limits.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  o.limits.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  o.limits.max_labels = absl::GetFlag(FLAGS_max_labels);
  o.limits.max_concurrent_uploads = absl::GetFlag(FLAGS_max_concurrent_uploads);
  o.limits.max_concurrent_exports = absl::GetFlag(FLAGS_max_concurrent_exports);
  o.limits.max_concurrent_evaluations = absl::GetFlag(FLAGS_max_concurrent_evaluations);
  if (o.limits.max_concurrent_uploads < 1 || o.limits.max_concurrent_exports < 1 ||
      o.limits.max_concurrent_evaluations < 1) {
    return absl::InvalidArgumentError(
        "--max_concurrent_uploads, --max_concurrent_exports and "
        "--max_concurrent_evaluations must be >= 1");
  }
  o.max_connection_idle = absl::Seconds(absl::GetFlag(FLAGS_max_connection_idle_s));
  if (absl::GetFlag(FLAGS_max_connection_age_s) < 0) {
    return absl::InvalidArgumentError("--max_connection_age_s must be >= 0");
  }
  o.max_connection_age = absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_s));
  if (o.limits.max_labels < 3 || o.limits.max_labels > 65536) {
    return absl::InvalidArgumentError("--max_labels must be in 3..65536");
  }
  if (o.batching.max_queue_per_tenant < o.limits.max_texts ||
      o.batching.max_queue_size < o.limits.max_texts) {
    // A request is queued whole: a full-size one could never be admitted.
    return absl::InvalidArgumentError(
        "--max_queue and --max_queue_per_tenant must be at least --max_texts");
  }
  if (o.limits.max_texts < 1 || o.limits.max_text_bytes < 1 ||
      o.limits.max_dataset_bytes < 1) {
    return absl::InvalidArgumentError("--max_texts, --max_text_bytes and "
                                      "--max_dataset_bytes must be positive");
  }
  o.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s));
  if (absl::GetFlag(FLAGS_executor_stall_s) < 1) {
    return absl::InvalidArgumentError("--executor_stall_s must be >= 1");
  }
  o.executor_stall_timeout = absl::Seconds(absl::GetFlag(FLAGS_executor_stall_s));
  o.store_pool_size = absl::GetFlag(FLAGS_store_pool_size);
  if (o.store_pool_size < 1 || o.store_pool_size > 256) {
    return absl::InvalidArgumentError("--store_pool_size must be in 1..256");
  }
  if (absl::GetFlag(FLAGS_store_cache_ttl_ms) < 0) {
    return absl::InvalidArgumentError("--store_cache_ttl_ms must be >= 0");
  }
  o.store_cache_ttl = absl::Milliseconds(absl::GetFlag(FLAGS_store_cache_ttl_ms));
  if (absl::GetFlag(FLAGS_job_lease_s) < 3) {
    return absl::InvalidArgumentError("--job_lease_s must be >= 3");
  }
  o.job_lease = absl::Seconds(absl::GetFlag(FLAGS_job_lease_s));
  o.replica_id = absl::GetFlag(FLAGS_replica_id);
  if (absl::GetFlag(FLAGS_drain_s) < 0 || absl::GetFlag(FLAGS_drain_s) > 600) {
    return absl::InvalidArgumentError("--drain_s must be in 0..600");
  }
  o.drain = absl::Seconds(absl::GetFlag(FLAGS_drain_s));
  o.max_job_attempts = absl::GetFlag(FLAGS_max_job_attempts);
  if (o.max_job_attempts < 1) {
    return absl::InvalidArgumentError("--max_job_attempts must be >= 1");
  }
  return o;
}

absl::StatusOr<logging::LogLevel> LogLevelFromFlags() {
  logging::LogLevel level;
  if (!logging::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return absl::InvalidArgumentError("--log_level must be info, warning or error");
  }
  return level;
}

}  // namespace ptune::service

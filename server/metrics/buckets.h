// Histogram bucket boundaries of every ptune histogram, in one place so that
// dashboards, alert thresholds and the code agree (as text-embeddings-inference
// does in router/src/prometheus.rs). Changing a boundary changes the meaning of
// stored series: do it here only, and update deploy/prometheus/rules.yaml if a
// threshold there relied on it.
#ifndef PTUNE_SERVER_METRICS_BUCKETS_H_
#define PTUNE_SERVER_METRICS_BUCKETS_H_

#include "prometheus/histogram.h"

namespace ptune::metrics::buckets {

using Boundaries = prometheus::Histogram::BucketBoundaries;

// End-to-end RPC latency, seconds: 1 ms (a cached Classify on a GPU) to 30 s
// (a large batch on a busy CPU replica).
Boundaries RequestSeconds();

// Time a task waited in the batch queue, seconds: sub-millisecond (idle
// server) to 5 s (saturated queue); batch_timeout is usually a few ms.
Boundaries QueueWaitSeconds();

// One backbone forward of a batch, seconds.
Boundaries ForwardSeconds();

// Rows per batch, 1 to 256 (max_batch_size is at most that), finer where
// most batches are (a CPU forward holds a few rows, --cpu_max_forward_tokens).
// histogram_quantile interpolates inside a bucket, so a p50 of 1-row batches
// reads 0.5: the dashboard shows the exact mean beside the p90.
Boundaries BatchRows();

// Real tokens per batch (padding excluded), 8 (one short text) to 32768 (a
// full --max_batch_tokens GPU batch).
Boundaries BatchTokens();

// How long a server stream lived (WatchJob follows a job to its end),
// seconds: 1 s to a day. Kept apart from RequestSeconds so that streams do
// not stretch the unary latency panels.
Boundaries StreamSeconds();

// A training job's run time from its start to its end, seconds.
Boundaries JobSeconds();

// Share of padding tokens in a batch, 0 (none) to 1.
Boundaries PaddingRatio();

}  // namespace ptune::metrics::buckets

#endif  // PTUNE_SERVER_METRICS_BUCKETS_H_

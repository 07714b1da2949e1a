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

// Rows per batch: powers of two up to 256 (max_batch_size is at most that).
Boundaries BatchRows();

// Tokens per batch (rows x padded length): powers of two, 64 to 32768.
Boundaries BatchTokens();

// Share of padding tokens in a batch, 0 (none) to 1.
Boundaries PaddingRatio();

}  // namespace ptune::metrics::buckets

#endif  // PTUNE_SERVER_METRICS_BUCKETS_H_

package kprodprom

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures New.
type Option func(*config)

type config struct {
	namespace      string
	constLabels    prometheus.Labels
	latencyBuckets []float64
}

// Default bucket boundaries.
var (
	// defaultLatencyBuckets (seconds) span 0.5 ms to 10 s: a record acknowledged
	// from a broker next door, up to one held back by retries.
	defaultLatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// batchBytesBuckets double from 256 B to 1 MiB (max.request.size's default).
	batchBytesBuckets = prometheus.ExponentialBuckets(256, 2, 13)
	// batchRecordsBuckets double from 1 record to 16384.
	batchRecordsBuckets = prometheus.ExponentialBuckets(1, 2, 15)
)

func defaultConfig() config {
	return config{namespace: "kprod", latencyBuckets: defaultLatencyBuckets}
}

// WithNamespace sets the prefix of every metric name (default "kprod"; an
// empty namespace leaves the names unprefixed). It must be a valid metric
// name part ([a-zA-Z_:][a-zA-Z0-9_:]*): with another one, registering the
// Metrics fails.
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithConstLabels adds labels with fixed values to every metric, to tell
// producers apart when several export to one registry (a service name, a
// cluster name). The names must not be one of the metrics' own labels
// (topic, broker, api).
func WithConstLabels(l prometheus.Labels) Option {
	return func(c *config) {
		c.constLabels = make(prometheus.Labels, len(l))
		for k, v := range l {
			c.constLabels[k] = v
		}
	}
}

// WithLatencyBuckets sets the bucket upper bounds, in seconds, of the two
// latency histograms (kprod_send_ack_latency_seconds and
// kprod_request_latency_seconds). They must be in increasing order: New
// panics otherwise, as prometheus.NewHistogram does. An empty list keeps the
// default, 0.5 ms to 10 s.
func WithLatencyBuckets(b []float64) Option {
	return func(c *config) {
		if len(b) > 0 {
			c.latencyBuckets = slices.Clone(b)
		}
	}
}

package kprodprom

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/kprod/kprod/producer"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics turns a producer's hooks into Prometheus metrics. It is at once
// the hooks to install (producer.WithHooks) and the prometheus.Collector to
// register. One Metrics may serve several producers: its counters and
// histograms then add up what they all did, and the gauges of Watch sum the
// watched producers.
//
// Its methods are safe for concurrent use.
type Metrics struct {
	// The vectors; set by New, read-only after.
	recordsSent, recordsFailed, recordBytes *prometheus.CounterVec
	recordsRetried                          *prometheus.CounterVec
	batchesWritten, batchRawBytes           *prometheus.CounterVec
	batchBytes, batchRecords, ackLatency    *prometheus.HistogramVec
	pidResets                               prometheus.Counter
	reqLatency                              *prometheus.HistogramVec
	reqErrors                               *prometheus.CounterVec
	reqThrottle                             *prometheus.CounterVec
	reqInFlight                             *prometheus.GaugeVec

	collectors []prometheus.Collector // the above, for Describe and Collect

	// Descriptions of what Watch reads at scrape time.
	bufInUse, bufAvailable, produceInFlight, callbackPanics *prometheus.Desc

	// Pre-resolved children, so a hook call after the first for its topic
	// (or broker and API) looks up no label and allocates nothing.
	topics   cowMap[string, *topicMetrics]
	requests cowMap[requestKey, *requestMetrics]

	watchMu sync.Mutex
	watched atomic.Pointer[[]interface{ Metrics() producer.Metrics }] // copy on write under watchMu
}

// topicMetrics are the children of the per-topic vectors for one topic.
type topicMetrics struct {
	sent, failed, bytes, retried, batches, rawBytes prometheus.Counter
	ackLatency, batchBytes, batchRecords            prometheus.Observer
}

type requestKey struct {
	broker int32
	api    string
}

// requestMetrics are the children for one broker and API.
type requestMetrics struct {
	latency  prometheus.Observer
	errors   prometheus.Counter
	inFlight prometheus.Gauge
	throttle prometheus.Counter
}

// Compile-time checks of what New's result is.
var (
	_ producer.AckHook        = (*Metrics)(nil)
	_ producer.BatchHook      = (*Metrics)(nil)
	_ producer.RequestHook    = (*Metrics)(nil)
	_ producer.RetryHook      = (*Metrics)(nil)
	_ producer.ProducerIDHook = (*Metrics)(nil)
	_ prometheus.Collector    = (*Metrics)(nil)
)

// New returns the metrics, ready to be installed with producer.WithHooks
// and registered with a prometheus.Registerer. See the package
// documentation for the metrics and their labels.
func New(opts ...Option) *Metrics {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	// The vectors check buckets only when their first child is made: check
	// here, so a bad option fails at New rather than at the first record.
	for i := 1; i < len(cfg.latencyBuckets); i++ {
		if !(cfg.latencyBuckets[i-1] < cfg.latencyBuckets[i]) {
			panic(fmt.Sprintf("kprodprom: latency buckets must be in increasing order: %v", cfg.latencyBuckets))
		}
	}
	ns, cl := cfg.namespace, cfg.constLabels
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, ConstLabels: cl, Buckets: buckets}, labels)
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, cl)
	}
	m := &Metrics{
		recordsSent:    counter("records_sent_total", "Records acknowledged by the brokers.", "topic"),
		recordsFailed:  counter("records_failed_total", "Records answered with an error (refused by Send, or not delivered).", "topic"),
		recordBytes:    counter("record_bytes_sent_total", "Encoded size of the acknowledged records before compression: key, value, headers and framing.", "topic"),
		recordsRetried: counter("records_retried_total", "Records in batches sent again after a retriable error.", "topic"),
		batchesWritten: counter("batches_written_total", "Batches acknowledged by the brokers.", "topic"),
		batchRawBytes:  counter("batch_uncompressed_bytes_total", "Bytes of the acknowledged batches before compression.", "topic"),
		batchBytes:     histogram("batch_bytes", "Size of each acknowledged batch as written: compressed, with its header.", batchBytesBuckets, "topic"),
		batchRecords:   histogram("batch_records", "Records in each acknowledged batch.", batchRecordsBuckets, "topic"),
		ackLatency:     histogram("send_ack_latency_seconds", "Time from Send to the acknowledgement of each acknowledged record.", cfg.latencyBuckets, "topic"),
		pidResets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "producer_id_resets_total", ConstLabels: cl,
			Help: "Times the producer left its producer id or epoch for a new one to recover from an error."}),
		reqLatency:  histogram("request_latency_seconds", "Time from writing a request to a broker to its answer (or failure).", cfg.latencyBuckets, "broker", "api"),
		reqErrors:   counter("request_errors_total", "Requests that failed: timed out, connection lost, or not written.", "broker", "api"),
		reqThrottle: counter("request_throttle_seconds_total", "Quota throttle time the brokers stated in their responses.", "broker"),
		reqInFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "requests_in_flight", ConstLabels: cl,
			Help: "Requests of every kind written to a broker and not yet answered."}, []string{"broker"}),

		bufInUse:        desc("buffer_bytes_in_use", "Bytes of buffer.memory held by records not yet acknowledged (watched producers)."),
		bufAvailable:    desc("buffer_bytes_available", "Bytes of buffer.memory free for new records (watched producers)."),
		produceInFlight: desc("produce_requests_in_flight", "Produce requests written and not yet answered (watched producers)."),
		callbackPanics:  desc("callback_panics_total", "Panics recovered from callbacks, interceptors and hooks (watched producers)."),
	}
	m.collectors = []prometheus.Collector{
		m.recordsSent, m.recordsFailed, m.recordBytes, m.recordsRetried,
		m.batchesWritten, m.batchRawBytes, m.batchBytes, m.batchRecords, m.ackLatency,
		m.pidResets, m.reqLatency, m.reqErrors, m.reqThrottle, m.reqInFlight,
	}
	return m
}

// Watch makes every scrape read p's Metrics for the gauges
// kprod_buffer_bytes_in_use, kprod_buffer_bytes_available and
// kprod_produce_requests_in_flight and the counter
// kprod_callback_panics_total. Watching several producers sums them. The
// Metrics keeps p until it is garbage itself; a closed producer reports an
// empty buffer and keeps its counts. A nil p is ignored.
func (m *Metrics) Watch(p interface{ Metrics() producer.Metrics }) {
	if p == nil {
		return
	}
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	var next []interface{ Metrics() producer.Metrics }
	if cur := m.watched.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, p)
	m.watched.Store(&next)
}

// Describe sends the descriptions of every metric; part of prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
	ch <- m.bufInUse
	ch <- m.bufAvailable
	ch <- m.produceInFlight
	ch <- m.callbackPanics
}

// Collect sends the current value of every metric; part of prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
	ws := m.watched.Load()
	if ws == nil {
		return
	}
	var inUse, avail, inFlight, panics int64
	for _, p := range *ws {
		s := p.Metrics()
		inUse += s.BufferBytesInUse
		avail += s.BufferBytesAvailable
		inFlight += s.RequestsInFlight
		panics += s.CallbackPanics
	}
	ch <- prometheus.MustNewConstMetric(m.bufInUse, prometheus.GaugeValue, float64(inUse))
	ch <- prometheus.MustNewConstMetric(m.bufAvailable, prometheus.GaugeValue, float64(avail))
	ch <- prometheus.MustNewConstMetric(m.produceInFlight, prometheus.GaugeValue, float64(inFlight))
	ch <- prometheus.MustNewConstMetric(m.callbackPanics, prometheus.CounterValue, float64(panics))
}

// topic returns the children of topic, resolving them on its first use.
func (m *Metrics) topic(topic string) *topicMetrics {
	if t, ok := m.topics.get(topic); ok {
		return t
	}
	return m.topicSlow(topic)
}

func (m *Metrics) topicSlow(topic string) *topicMetrics {
	if !validTopic(topic) {
		// Records refused for their topic name share one series, so a
		// stream of bad names cannot grow the label set without bound.
		topic = invalidTopicLabel
		if t, ok := m.topics.get(topic); ok {
			return t
		}
	}
	return m.topics.getOrAdd(topic, m.newTopic)
}

// invalidTopicLabel is the topic label of records whose topic is not a
// valid Kafka topic name (no topic can be named so).
const invalidTopicLabel = "<invalid>"

func (m *Metrics) newTopic(topic string) *topicMetrics {
	return &topicMetrics{
		sent:         m.recordsSent.WithLabelValues(topic),
		failed:       m.recordsFailed.WithLabelValues(topic),
		bytes:        m.recordBytes.WithLabelValues(topic),
		retried:      m.recordsRetried.WithLabelValues(topic),
		batches:      m.batchesWritten.WithLabelValues(topic),
		rawBytes:     m.batchRawBytes.WithLabelValues(topic),
		ackLatency:   m.ackLatency.WithLabelValues(topic),
		batchBytes:   m.batchBytes.WithLabelValues(topic),
		batchRecords: m.batchRecords.WithLabelValues(topic),
	}
}

// request returns the children of one broker and API.
func (m *Metrics) request(broker int32, api string) *requestMetrics {
	k := requestKey{broker, api}
	if r, ok := m.requests.get(k); ok {
		return r
	}
	return m.requests.getOrAdd(k, m.newRequest)
}

func (m *Metrics) newRequest(k requestKey) *requestMetrics {
	b := strconv.Itoa(int(k.broker))
	api := k.api
	if !utf8.ValidString(api) {
		api = "unknown"
	}
	return &requestMetrics{
		latency:  m.reqLatency.WithLabelValues(b, api),
		errors:   m.reqErrors.WithLabelValues(b, api),
		inFlight: m.reqInFlight.WithLabelValues(b),
		throttle: m.reqThrottle.WithLabelValues(b),
	}
}

// validTopic applies Kafka's rules for topic names (which also keeps the
// label value valid UTF-8).
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// cowMap is a map read without locks or allocation and written by copying
// under a mutex: for keys that are few and seen again and again (topics,
// brokers), not for keys that keep changing.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *cowMap[K, V]) get(k K) (V, bool) {
	if p := c.m.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// getOrAdd returns k's value, making it with mk and storing it if k is new.
func (c *cowMap[K, V]) getOrAdd(k K, mk func(K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.m.Load()
	if cur != nil {
		if v, ok := (*cur)[k]; ok {
			return v
		}
	}
	next := make(map[K]V, 1)
	if cur != nil {
		next = make(map[K]V, len(*cur)+1)
		for kk, vv := range *cur {
			next[kk] = vv
		}
	}
	v := mk(k)
	next[k] = v
	c.m.Store(&next)
	return v
}

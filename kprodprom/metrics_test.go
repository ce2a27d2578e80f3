package kprodprom_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/kprodprom"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// testCtx bounds a test's waits.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newProducer connects a producer with m installed and watched to c, and
// closes it with the test.
func newProducer(t testing.TB, c *producertest.Cluster, m *kprodprom.Metrics, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	opts = append([]producer.Opt{producer.WithBrokers(c.Addrs()...), producer.WithHooks(m),
		producer.WithRetryBackoff(10*time.Millisecond, 100*time.Millisecond)}, opts...)
	p, err := producer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// families gathers reg by metric name.
func families(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// find returns the series of name whose labels include want ("k=v" each);
// nil when there is none.
func find(fams map[string]*dto.MetricFamily, name string, want ...string) *dto.Metric {
	mf := fams[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is the value of a counter or gauge series; it fails the test when
// the series is missing.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := find(fams, name, labels...)
	switch {
	case m == nil:
		t.Fatalf("no series %s%v", name, labels)
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s%v is neither a counter nor a gauge", name, labels)
	return 0
}

// hist is the histogram series of name with labels; it fails the test
// when the series is missing.
func hist(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Histogram {
	t.Helper()
	m := find(fams, name, labels...)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram %s%v", name, labels)
	}
	return m.Histogram
}

// sum adds the counter or gauge values of every series of name.
func sum(fams map[string]*dto.MetricFamily, name string) float64 {
	s := 0.0
	for _, m := range fams[name].GetMetric() {
		s += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return s
}

// TestMetricsMatchWhatTheProducerDid sends records to two topics from
// several goroutines, one topic failing its first produce requests with a
// retriable error, plus one record too large to send; then every metric
// must agree with what the callbacks saw and with the producer's own
// counters.
func TestMetricsMatchWhatTheProducerDid(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("steady", 3), producertest.WithTopic("faulty", 2))
	m := kprodprom.New()
	sizes := &sizeHook{t: t, bytes: map[string]int64{}}
	p := newProducer(t, c, m, producer.WithLinger(2*time.Millisecond), producer.WithBatchSize(4<<10), producer.WithHooks(sizes))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ctx := testCtx(t, 60*time.Second)

	// Warm metadata first so the fault meets produce requests, not a
	// producer still waiting for its first metadata.
	for _, topic := range []string{"steady", "faulty"} {
		if _, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: []byte("warm")}); err != nil {
			t.Fatal(err)
		}
	}
	fault := c.FailNextProduce("faulty", 3, kerr.NotLeaderForPartition)

	const senders, perSender = 4, 300
	topics := []string{"steady", "faulty"}
	var acked, failed [2]atomic.Int64
	acked[0].Store(1) // the warm-up records
	acked[1].Store(1)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range perSender {
				ti := i % 2
				rec := &producer.Record{Topic: topics[ti], Key: fmt.Appendf(nil, "k%d-%d", g, i), Value: make([]byte, 50+i%100)}
				if i%7 == 0 {
					rec.Headers = []producer.Header{{Key: "h", Value: []byte("header")}}
				}
				p.Send(ctx, rec, func(_ producer.RecordMetadata, err error) {
					if err != nil {
						failed[ti].Add(1)
						return
					}
					acked[ti].Add(1)
				})
			}
		})
	}
	wg.Wait()
	if err := fault.Wait(ctx, 3); err != nil {
		t.Fatalf("the fault struck %d times: %v", fault.Hits(), err)
	}
	_, err := p.SendSync(ctx, &producer.Record{Topic: "steady", Value: make([]byte, 2<<20)})
	if !errors.Is(err, producer.ErrRecordTooLarge) {
		t.Fatalf("a 2 MiB record: %v, want ErrRecordTooLarge", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for ti, topic := range topics {
		if n := failed[ti].Load(); n != 0 {
			t.Fatalf("%d records to %s failed", n, topic)
		}
		if n := acked[ti].Load(); n != 1+senders*perSender/2 {
			t.Fatalf("%d records to %s acknowledged, want %d", n, topic, 1+senders*perSender/2)
		}
	}

	// Requests in flight: every produce request was answered before its
	// records were, but a metadata refresh may be under way; it ends soon.
	var fams map[string]*dto.MetricFamily
	for {
		fams = families(t, reg)
		if sum(fams, "kprod_requests_in_flight") == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("requests in flight after Flush: %v", fams["kprod_requests_in_flight"])
		}
		time.Sleep(10 * time.Millisecond)
	}

	var batches float64
	for ti, topic := range topics {
		lt := "topic=" + topic
		want := float64(acked[ti].Load())
		if got := value(t, fams, "kprod_records_sent_total", lt); got != want {
			t.Errorf("records_sent_total{%s} = %v, callbacks acknowledged %v", topic, got, want)
		}
		if got, want := value(t, fams, "kprod_record_bytes_sent_total", lt), float64(sizes.sum(topic)); got != want {
			t.Errorf("record_bytes_sent_total{%s} = %v, the acknowledged records' sizes add up to %v", topic, got, want)
		}
		if got := hist(t, fams, "kprod_send_ack_latency_seconds", lt).GetSampleCount(); float64(got) != want {
			t.Errorf("send_ack_latency_seconds{%s} has %d samples, want %v", topic, got, want)
		}
		br := hist(t, fams, "kprod_batch_records", lt)
		if br.GetSampleSum() != want {
			t.Errorf("batch_records{%s} adds up to %v records, want %v", topic, br.GetSampleSum(), want)
		}
		bb := hist(t, fams, "kprod_batch_bytes", lt)
		written := value(t, fams, "kprod_batches_written_total", lt)
		if float64(br.GetSampleCount()) != written || float64(bb.GetSampleCount()) != written || written == 0 {
			t.Errorf("%s: %d batch_records samples, %d batch_bytes samples, %v batches_written", topic, br.GetSampleCount(), bb.GetSampleCount(), written)
		}
		if raw := value(t, fams, "kprod_batch_uncompressed_bytes_total", lt); raw < float64(sizes.sum(topic)) {
			t.Errorf("%s: batch_uncompressed_bytes_total %v below the records' own %v bytes", topic, raw, sizes.sum(topic))
		}
		batches += written
	}
	if got := value(t, fams, "kprod_records_failed_total", "topic=steady"); got != 1 {
		t.Errorf("records_failed_total{steady} = %v, want 1 (the record too large)", got)
	}
	if got := value(t, fams, "kprod_records_failed_total", "topic=faulty"); got != 0 {
		t.Errorf("records_failed_total{faulty} = %v, want 0", got)
	}
	if got := value(t, fams, "kprod_records_retried_total", "topic=faulty"); got <= 0 {
		t.Errorf("records_retried_total{faulty} = %v, want > 0", got)
	}
	if got := value(t, fams, "kprod_records_retried_total", "topic=steady"); got != 0 {
		t.Errorf("records_retried_total{steady} = %v, want 0", got)
	}

	// The producer's own counters tell the same story.
	pm := p.Metrics()
	if got := sum(fams, "kprod_records_sent_total"); got != float64(pm.RecordsSent) {
		t.Errorf("records_sent_total adds up to %v, the producer counted %d", got, pm.RecordsSent)
	}
	if got := sum(fams, "kprod_records_failed_total"); got != float64(pm.RecordsFailed) {
		t.Errorf("records_failed_total adds up to %v, the producer counted %d", got, pm.RecordsFailed)
	}
	if got := sum(fams, "kprod_records_retried_total"); got != float64(pm.RecordsRetried) {
		t.Errorf("records_retried_total adds up to %v, the producer counted %d", got, pm.RecordsRetried)
	}
	if batches > float64(pm.BatchesSent) {
		t.Errorf("%v batches written, the producer sent only %d", batches, pm.BatchesSent)
	}

	// Requests: produce requests seen with latency; the faulty topic's
	// errors were answers, not failed requests.
	var produces uint64
	for _, s := range fams["kprod_request_latency_seconds"].GetMetric() {
		for _, lp := range s.GetLabel() {
			if lp.GetName() == "api" && lp.GetValue() == "Produce" {
				produces += s.GetHistogram().GetSampleCount()
			}
		}
	}
	if produces == 0 || produces < uint64(pm.RequestsSent) {
		t.Errorf("request_latency_seconds{api=Produce} has %d samples, the producer sent %d produce requests", produces, pm.RequestsSent)
	}
	if find(fams, "kprod_request_latency_seconds", "api=Metadata") == nil {
		t.Errorf("no Metadata request latency")
	}
	if got := sum(fams, "kprod_request_errors_total"); got != 0 {
		t.Errorf("request_errors_total adds up to %v on a healthy cluster", got)
	}

	// What Watch reads at scrape time.
	if got := value(t, fams, "kprod_produce_requests_in_flight"); got != 0 {
		t.Errorf("produce_requests_in_flight = %v after Flush", got)
	}
	inUse := value(t, fams, "kprod_buffer_bytes_in_use")
	avail := value(t, fams, "kprod_buffer_bytes_available")
	if inUse < 0 || avail <= 0 || inUse+avail != 32<<20 {
		t.Errorf("buffer gauges: %v in use + %v available, want 32 MiB (buffer.memory's default)", inUse, avail)
	}
	if got := value(t, fams, "kprod_callback_panics_total"); got != 0 {
		t.Errorf("callback_panics_total = %v", got)
	}
	if got := value(t, fams, "kprod_producer_id_resets_total"); got != 0 {
		t.Errorf("producer_id_resets_total = %v", got)
	}

	t.Logf("%v batches written, %v records retried, %d produce requests, %v records failed",
		batches, sum(fams, "kprod_records_retried_total"), produces, sum(fams, "kprod_records_failed_total"))

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
	}
}

// TestRecordRefusedForItsTopicName: records with invalid topic names share
// one series, so bad names cannot grow the label set.
func TestRecordRefusedForItsTopicName(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("ok", 1), producertest.NumBrokers(1))
	m := kprodprom.New()
	p := newProducer(t, c, m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ctx := testCtx(t, 30*time.Second)
	for _, topic := range []string{"", "bad topic", "bad/topic", "\xff", strings.Repeat("x", 250)} {
		if _, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: []byte("v")}); !errors.Is(err, producer.ErrInvalidRecord) {
			t.Fatalf("topic %q: %v, want ErrInvalidRecord", topic, err)
		}
	}
	fams := families(t, reg)
	if got := value(t, fams, "kprod_records_failed_total", "topic=<invalid>"); got != 5 {
		t.Errorf("records_failed_total{<invalid>} = %v, want 5", got)
	}
	if n := len(fams["kprod_records_failed_total"].GetMetric()); n != 1 {
		t.Errorf("%d series of records_failed_total, want 1", n)
	}
	if got := value(t, fams, "kprod_callback_panics_total"); got != 0 {
		t.Errorf("callback_panics_total = %v: a hook panicked", got)
	}
}

// TestRequestHooks drives the request, retry and producer id hooks
// directly: errors, throttle, in-flight balance and the bootstrap node ids.
func TestRequestHooks(t *testing.T) {
	m := kprodprom.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	m.OnRequestSent(producer.RequestSent{Broker: -1, Addr: "127.0.0.1:1", API: "Metadata", Bytes: 40})
	m.OnRequestSent(producer.RequestSent{Broker: 2, Addr: "127.0.0.1:2", API: "Produce", Bytes: 4000})
	m.OnRequestSent(producer.RequestSent{Broker: 2, Addr: "127.0.0.1:2", API: "Produce", Bytes: 4000})

	fams := families(t, reg)
	if got := value(t, fams, "kprod_requests_in_flight", "broker=2"); got != 2 {
		t.Errorf("requests_in_flight{2} = %v, want 2", got)
	}
	if got := value(t, fams, "kprod_requests_in_flight", "broker=-1"); got != 1 {
		t.Errorf("requests_in_flight{-1} = %v, want 1", got)
	}

	m.OnRequestAnswered(producer.RequestAnswered{Broker: -1, API: "Metadata", Latency: 3 * time.Millisecond})
	m.OnRequestAnswered(producer.RequestAnswered{Broker: 2, API: "Produce", Latency: 20 * time.Millisecond, Throttle: 1500 * time.Millisecond})
	m.OnRequestAnswered(producer.RequestAnswered{Broker: 2, API: "Produce", Latency: 30 * time.Second, Err: errors.New("connection lost")})
	m.OnRetry(producer.Retry{Topic: "t", Records: 7, Attempt: 1})
	m.OnProducerIDReset(producer.ProducerIDReset{ProducerID: 5, PrevProducerID: 5, Epoch: 2, PrevEpoch: 1})

	fams = families(t, reg)
	if got := sum(fams, "kprod_requests_in_flight"); got != 0 {
		t.Errorf("requests_in_flight adds up to %v after every answer", got)
	}
	if got := value(t, fams, "kprod_request_errors_total", "broker=2", "api=Produce"); got != 1 {
		t.Errorf("request_errors_total{2,Produce} = %v, want 1", got)
	}
	if got := value(t, fams, "kprod_request_errors_total", "broker=-1", "api=Metadata"); got != 0 {
		t.Errorf("request_errors_total{-1,Metadata} = %v, want 0", got)
	}
	if got := value(t, fams, "kprod_request_throttle_seconds_total", "broker=2"); got != 1.5 {
		t.Errorf("request_throttle_seconds_total{2} = %v, want 1.5", got)
	}
	h := hist(t, fams, "kprod_request_latency_seconds", "broker=2", "api=Produce")
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-30.02) > 1e-9 {
		t.Errorf("request_latency_seconds{2,Produce}: %d samples adding up to %v, want 2 and 30.02", h.GetSampleCount(), h.GetSampleSum())
	}
	if got := value(t, fams, "kprod_records_retried_total", "topic=t"); got != 7 {
		t.Errorf("records_retried_total{t} = %v, want 7", got)
	}
	if got := value(t, fams, "kprod_producer_id_resets_total"); got != 1 {
		t.Errorf("producer_id_resets_total = %v, want 1", got)
	}
	// Nothing watched: no gauges read from a producer.
	if fams["kprod_buffer_bytes_in_use"] != nil {
		t.Errorf("buffer_bytes_in_use exported with no producer watched")
	}
}

// fakeSource is what Watch reads, without a producer.
type fakeSource producer.Metrics

func (f *fakeSource) Metrics() producer.Metrics { return producer.Metrics(*f) }

func TestWatchSumsProducers(t *testing.T) {
	m := kprodprom.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	m.Watch(nil)
	m.Watch(&fakeSource{BufferBytesInUse: 100, BufferBytesAvailable: 900, RequestsInFlight: 2, CallbackPanics: 1})
	m.Watch(&fakeSource{BufferBytesInUse: 10, BufferBytesAvailable: 90, RequestsInFlight: 3})
	fams := families(t, reg)
	for name, want := range map[string]float64{
		"kprod_buffer_bytes_in_use":        110,
		"kprod_buffer_bytes_available":     990,
		"kprod_produce_requests_in_flight": 5,
		"kprod_callback_panics_total":      1,
	} {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := fams["kprod_callback_panics_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("callback_panics_total is a %v", got)
	}
}

func TestOptions(t *testing.T) {
	labels := prometheus.Labels{"service": "billing"}
	m := kprodprom.New(kprodprom.WithNamespace("billing_kafka"), kprodprom.WithConstLabels(labels),
		kprodprom.WithLatencyBuckets([]float64{0.001, 0.01, 0.1}), nil)
	labels["service"] = "changed later" // the option took a copy
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	m.OnAck(context.Background(), producer.Ack{Metadata: producer.RecordMetadata{Topic: "t"}, Latency: 5 * time.Millisecond})
	fams := families(t, reg)
	if fams["kprod_records_sent_total"] != nil {
		t.Fatalf("default namespace used")
	}
	if got := value(t, fams, "billing_kafka_records_sent_total", "topic=t", "service=billing"); got != 1 {
		t.Errorf("billing_kafka_records_sent_total = %v", got)
	}
	h := hist(t, fams, "billing_kafka_send_ack_latency_seconds", "topic=t", "service=billing")
	if n := len(h.GetBucket()); n != 3 {
		t.Errorf("%d latency buckets, want 3", n)
	}
	if got := h.GetBucket()[1].GetCumulativeCount(); got != 1 {
		t.Errorf("a 5 ms latency is not in the 10 ms bucket: %v", h.GetBucket())
	}

	// An empty namespace leaves the names bare.
	bare := kprodprom.New(kprodprom.WithNamespace(""))
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(bare)
	bare.OnProducerIDReset(producer.ProducerIDReset{})
	if fams := families(t, reg); fams["producer_id_resets_total"] == nil {
		t.Errorf("no producer_id_resets_total without a namespace: %v", fams)
	}

	// Buckets out of order are a programming mistake, caught at New.
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("New with decreasing buckets did not panic")
			}
		}()
		kprodprom.New(kprodprom.WithLatencyBuckets([]float64{1, 0.5}))
	}()
}

// TestOnAckAllocatesNothing pins the per-record cost: once a topic has
// been seen, OnAck allocates nothing, for an acknowledged record or a
// failed one.
func TestOnAckAllocatesNothing(t *testing.T) {
	m := kprodprom.New()
	ctx := context.Background()
	rec := &producer.Record{Topic: "orders", Key: []byte("k"), Value: make([]byte, 100), Headers: []producer.Header{{Key: "h", Value: []byte("v")}}}
	acked := producer.Ack{Record: rec, Metadata: producer.RecordMetadata{Topic: "orders", Partition: 1, Offset: 10}, Latency: time.Millisecond, Size: 120}
	failed := acked
	failed.Err = errors.New("boom")
	m.OnAck(ctx, acked)
	if n := testing.AllocsPerRun(1000, func() {
		m.OnAck(ctx, acked)
		m.OnAck(ctx, failed)
	}); n != 0 {
		t.Errorf("OnAck allocates %v times per record", n)
	}
	bw := producer.BatchWritten{Topic: "orders", Records: 10, Bytes: 1000, UncompressedBytes: 1200}
	rs := producer.RequestSent{Broker: 1, API: "Produce"}
	ra := producer.RequestAnswered{Broker: 1, API: "Produce", Latency: time.Millisecond}
	m.OnRequestSent(rs)
	m.OnRequestAnswered(ra)
	if n := testing.AllocsPerRun(1000, func() {
		m.OnBatchWritten(bw)
		m.OnRequestSent(rs)
		m.OnRequestAnswered(ra)
	}); n != 0 {
		t.Errorf("the batch and request hooks allocate %v times per call", n)
	}
}

// TestConcurrentNewTopics: many goroutines meeting new topics at once
// resolve each topic's series once and lose no count (run with -race).
func TestConcurrentNewTopics(t *testing.T) {
	m := kprodprom.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	const goroutines, topics, each = 8, 20, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range topics * each {
				topic := fmt.Sprintf("t%d", (i+g)%topics)
				m.OnAck(context.Background(), producer.Ack{Metadata: producer.RecordMetadata{Topic: topic}, Latency: time.Millisecond})
				if i%10 == 0 {
					if _, err := reg.Gather(); err != nil { // scrapes race with the hooks
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	fams := families(t, reg)
	if n := len(fams["kprod_records_sent_total"].GetMetric()); n != topics {
		t.Fatalf("%d series, want %d", n, topics)
	}
	for i := range topics {
		if got := value(t, fams, "kprod_records_sent_total", fmt.Sprintf("topic=t%d", i)); got != goroutines*each {
			t.Errorf("t%d: %v, want %d", i, got, goroutines*each)
		}
	}
}

// TestBrokerAnswersResetAndFail: an UNKNOWN_PRODUCER_ID answer makes the
// idempotent producer take a new epoch and send the record again; an
// INVALID_RECORD answer fails the record. Both show, as the producer
// itself counts them.
func TestBrokerAnswersResetAndFail(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("ledger", 1), producertest.NumBrokers(1))
	m := kprodprom.New()
	p := newProducer(t, c, m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ctx := testCtx(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "ledger", Value: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	c.FailNextProduce("ledger", 1, kerr.UnknownProducerID)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "ledger", Value: []byte("resent")}); err != nil {
		t.Fatalf("record resent under a new epoch: %v", err)
	}
	c.FailNextProduce("ledger", 1, kerr.InvalidRecord)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "ledger", Value: []byte("refused")}); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("refused record: %v, want InvalidRecord", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fams := families(t, reg)
	pm := p.Metrics()
	if pm.ProducerIDResets == 0 {
		t.Fatalf("the producer took no new epoch")
	}
	if got := value(t, fams, "kprod_producer_id_resets_total"); got != float64(pm.ProducerIDResets) {
		t.Errorf("producer_id_resets_total = %v, the producer counted %d", got, pm.ProducerIDResets)
	}
	if got := value(t, fams, "kprod_records_failed_total", "topic=ledger"); got != 1 {
		t.Errorf("records_failed_total{ledger} = %v, want 1", got)
	}
	if got := value(t, fams, "kprod_records_sent_total", "topic=ledger"); got != 2 {
		t.Errorf("records_sent_total{ledger} = %v, want 2", got)
	}
}

// sizeHook adds up the Size of the acknowledged records per topic, and
// checks each covers at least the record's key, value and header bytes.
type sizeHook struct {
	t     *testing.T
	mu    sync.Mutex
	bytes map[string]int64
}

func (h *sizeHook) OnAck(_ context.Context, a producer.Ack) {
	if a.Err != nil {
		return
	}
	least := len(a.Record.Key) + len(a.Record.Value)
	for _, hd := range a.Record.Headers {
		least += len(hd.Key) + len(hd.Value)
	}
	if a.Size < least {
		h.t.Errorf("Size %d of a record of %d bytes", a.Size, least)
	}
	h.mu.Lock()
	h.bytes[a.Metadata.Topic] += int64(a.Size)
	h.mu.Unlock()
}

func (h *sizeHook) sum(topic string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes[topic]
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// lockedBuffer is the span output, written by the exporter's goroutine and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestObservedService runs the service on an embedded cluster, posts events
// to two topics, and checks what an operator would look at: the per-topic
// counters and histograms on /metrics move with the traffic, and the trace
// id that went into each record's traceparent header is in the span
// exporter's output, in the trace the caller started.
func TestObservedService(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("events", 3), producertest.WithTopic("audit", 2))
	spans := new(lockedBuffer)
	addrc := make(chan string, 1)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{brokers: c.Addrs(), addr: "127.0.0.1:0", topics: []string{"events", "audit"},
			grace: 10 * time.Second, spans: spans, ready: func(a string) { addrc <- a }})
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("service ended before serving: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("service did not start serving")
	}
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("service did not shut down")
		}
	}()

	post(t, base, "events", 20, "")
	post(t, base, "audit", 5, "")
	// A record's answer reaches the HTTP client a moment before the hooks
	// count it: scrape until the last one shows, as a dashboard would.
	first := scrapeUntil(t, base, `kprod_send_ack_latency_seconds_count{topic="audit"}`, 5)
	want := map[string]float64{
		`kprod_records_sent_total{topic="events"}`:             20,
		`kprod_records_sent_total{topic="audit"}`:              5,
		`kprod_send_ack_latency_seconds_count{topic="events"}`: 20,
		`kprod_send_ack_latency_seconds_count{topic="audit"}`:  5,
	}
	for name, v := range want {
		if got := first[name]; got != v {
			t.Errorf("first scrape: %s = %v; want %v", name, got, v)
		}
	}
	for _, name := range []string{`kprod_batch_bytes_count{topic="events"}`, `kprod_buffer_bytes_available`} {
		if first[name] <= 0 {
			t.Errorf("first scrape: %s = %v; want it above 0", name, first[name])
		}
	}

	// A caller that sends its own trace context: the record must carry the
	// same trace.
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	ids := post(t, base, "events", 10, "00-"+callerTrace+"-00f067aa0ba902b7-01")
	for _, id := range ids {
		if id != callerTrace {
			t.Fatalf("answer names trace %s; the caller's was %s", id, callerTrace)
		}
	}
	second := scrapeUntil(t, base, `kprod_send_ack_latency_seconds_count{topic="events"}`, 30)
	if got := second[`kprod_records_sent_total{topic="events"}`]; got != 30 {
		t.Errorf("second scrape: records sent to events %v; want 30 (the counter must move)", got)
	}
	if a, b := first[`kprod_send_ack_latency_seconds_count{topic="events"}`], second[`kprod_send_ack_latency_seconds_count{topic="events"}`]; b != a+10 {
		t.Errorf("send→ack histogram count went from %v to %v; want +10", a, b)
	}
	if a, b := first[`kprod_batch_bytes_count{topic="events"}`], second[`kprod_batch_bytes_count{topic="events"}`]; b <= a {
		t.Errorf("batch size histogram did not move: %v then %v", a, b)
	}

	// Shut down: the tracer provider writes the spans still batched.
	stop()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	done <- nil // for the deferred wait

	rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs, err := c.Records(rctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 30 {
		t.Fatalf("%d records in events; want 30", len(recs))
	}
	out := spans.String()
	withCaller := 0
	for _, r := range recs {
		tp := header(r.Headers, "traceparent")
		parts := strings.Split(tp, "-")
		if len(parts) != 4 {
			t.Fatalf("record at %d/%d has traceparent %q", r.Partition, r.Offset, tp)
		}
		traceID, spanID := parts[1], parts[2]
		if traceID == callerTrace {
			withCaller++
		}
		if !strings.Contains(out, `"TraceID":"`+traceID+`"`) || !strings.Contains(out, `"SpanID":"`+spanID+`"`) {
			t.Fatalf("the span %s of trace %s, injected into a record, is not in the exporter's output", spanID, traceID)
		}
	}
	if withCaller != 10 {
		t.Fatalf("%d records carry the caller's trace; want 10", withCaller)
	}
	if !strings.Contains(out, `"Name":"send events"`) {
		t.Fatal(`no "send events" span in the exporter's output`)
	}
}

// post writes n events to topic, each with traceparent when it is not
// empty, and returns the trace ids the answers name.
func post(t *testing.T, base, topic string, n int, traceparent string) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		req, err := http.NewRequest(http.MethodPost, base+"/events?topic="+topic, strings.NewReader(fmt.Sprintf("%s-%d", topic, i)))
		if err != nil {
			t.Fatal(err)
		}
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a accepted
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || err != nil {
			t.Fatalf("POST %s: %s (%v)", topic, resp.Status, err)
		}
		ids = append(ids, a.TraceID)
	}
	return ids
}

// scrapeUntil scrapes until name reaches want, for up to 10 s, and returns
// that scrape.
func scrapeUntil(t *testing.T, base, name string, want float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrape(t, base)
		if got[name] >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sample matches one line of Prometheus' text format.
var sample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

// scrape reads /metrics into name{labels} → value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s (%v)", resp.Status, err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		m := sample.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		got[m[1]] = v
	}
	return got
}

// header is the value of the record header key, or "".
func header(hs []producer.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

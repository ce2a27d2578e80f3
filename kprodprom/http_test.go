package kprodprom_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kprod/kprod/kprodprom"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// TestScrapeOverHTTP serves the registry as a service would and finds
// every metric in the text exposition a Prometheus server reads.
func TestScrapeOverHTTP(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("events", 2), producertest.NumBrokers(1))
	m := kprodprom.New(kprodprom.WithConstLabels(prometheus.Labels{"service": "checkout"}))
	p := newProducer(t, c, m)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	ctx := testCtx(t, 30*time.Second)
	for range 10 {
		if _, err := p.SendSync(ctx, &producer.Record{Topic: "events", Value: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	// SendSync returns when the record's Future resolves, which may be just
	// before its ack hooks run; Flush returns after them.
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m.OnRetry(producer.Retry{Topic: "events", Records: 1}) // so the retry series exists too

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	text := string(body)
	for _, want := range []string{
		`# TYPE kprod_records_sent_total counter`,
		`kprod_records_sent_total{service="checkout",topic="events"} 10`,
		`kprod_records_failed_total{service="checkout",topic="events"} 0`,
		`kprod_record_bytes_sent_total{service="checkout",topic="events"} 120`,
		`kprod_records_retried_total{service="checkout",topic="events"} 1`,
		`# TYPE kprod_send_ack_latency_seconds histogram`,
		`kprod_send_ack_latency_seconds_count{service="checkout",topic="events"} 10`,
		`kprod_batch_bytes_bucket{service="checkout",topic="events",le="256"}`,
		`kprod_batch_records_count{service="checkout",topic="events"} 10`,
		`kprod_batches_written_total{service="checkout",topic="events"} 10`,
		`kprod_batch_uncompressed_bytes_total{`,
		`kprod_producer_id_resets_total{service="checkout"} 0`,
		`# TYPE kprod_request_latency_seconds histogram`,
		`kprod_request_latency_seconds_bucket{api="Produce",broker="0",service="checkout",le="0.0005"}`,
		`kprod_request_errors_total{api="Produce",broker="0",service="checkout"} 0`,
		`kprod_request_throttle_seconds_total{broker="0",service="checkout"} 0`,
		`# TYPE kprod_requests_in_flight gauge`,
		`kprod_requests_in_flight{broker="0",service="checkout"}`,
		`# TYPE kprod_buffer_bytes_in_use gauge`,
		`kprod_buffer_bytes_in_use{service="checkout"} `,
		`kprod_buffer_bytes_available{service="checkout"} `,
		`kprod_produce_requests_in_flight{service="checkout"} 0`,
		`# TYPE kprod_callback_panics_total counter`,
		`kprod_callback_panics_total{service="checkout"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
}

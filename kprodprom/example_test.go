package kprodprom_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kprod/kprod/kprodprom"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// The whole wiring: the metrics are the producer's hooks, watch the
// producer, and are served for Prometheus to scrape. The embedded cluster
// stands in for Kafka and httptest for the service's HTTP server.
func Example() {
	c, err := producertest.StartCluster(producertest.WithTopic("orders", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	m := kprodprom.New()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithHooks(m))
	if err != nil {
		log.Fatal(err)
	}
	m.Watch(p)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	// A service: http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if _, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Key: []byte(id), Value: []byte("paid")}); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}

	resp, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		l := lines.Text()
		if strings.HasPrefix(l, "kprod_records_") || strings.HasPrefix(l, "kprod_record_bytes") ||
			strings.HasPrefix(l, "kprod_send_ack_latency_seconds_count") || strings.HasPrefix(l, "kprod_buffer_bytes_in_use") {
			fmt.Println(l)
		}
	}
	// Output:
	// kprod_buffer_bytes_in_use 0
	// kprod_record_bytes_sent_total{topic="orders"} 42
	// kprod_records_failed_total{topic="orders"} 0
	// kprod_records_retried_total{topic="orders"} 0
	// kprod_records_sent_total{topic="orders"} 3
	// kprod_send_ack_latency_seconds_count{topic="orders"} 3
}

// Two producers in one process, each with its own Metrics, told apart in
// one registry by a constant label.
func ExampleWithConstLabels() {
	c, err := producertest.StartCluster(producertest.WithTopic("audit", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	reg := prometheus.NewRegistry()
	for i, role := range []string{"billing", "shipping"} {
		m := kprodprom.New(kprodprom.WithConstLabels(prometheus.Labels{"producer": role}))
		reg.MustRegister(m)
		p, err := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithHooks(m))
		if err != nil {
			log.Fatal(err)
		}
		for range i + 1 {
			if _, err := p.SendSync(ctx, &producer.Record{Topic: "audit", Value: []byte(role)}); err != nil {
				log.Fatal(err)
			}
		}
		p.Close(ctx)
	}

	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kprod_records_sent_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			var labels []string
			for _, lp := range s.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			fmt.Println(strings.Join(labels, " "), s.GetCounter().GetValue())
		}
	}
	// Output:
	// producer=billing topic=audit 1
	// producer=shipping topic=audit 2
}

// Options: a namespace of the service's own and latency buckets for a
// cluster far away.
func ExampleNew() {
	m := kprodprom.New(
		kprodprom.WithNamespace("checkout_kafka"),
		kprodprom.WithLatencyBuckets(prometheus.ExponentialBucketsRange(0.005, 30, 12)),
	)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	// The hooks are plain methods: a producer calls them; here the example does.
	m.OnAck(context.Background(), producer.Ack{
		Metadata: producer.RecordMetadata{Topic: "carts", Offset: 41}, Latency: 12 * time.Millisecond, Size: 10})

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "_sent_total") {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output:
	// checkout_kafka_record_bytes_sent_total 10
	// checkout_kafka_records_sent_total 1
}

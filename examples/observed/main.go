package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/kprodprom"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

func main() {
	var cfg config
	brokers := flag.String("brokers", "", "comma-separated host:port list; empty starts an embedded cluster")
	topics := flag.String("topics", "events,audit", "comma-separated topics the service may write to; the first is the default")
	flag.StringVar(&cfg.addr, "addr", "localhost:8080", "address to serve HTTP on")
	flag.DurationVar(&cfg.grace, "shutdown-timeout", 10*time.Second, "how long shutdown may take")
	flag.Parse()
	if *brokers != "" {
		cfg.brokers = strings.Split(*brokers, ",")
	}
	cfg.topics = strings.Split(*topics, ",")
	cfg.spans = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// config is what the service needs to run.
type config struct {
	brokers []string // empty: an embedded cluster
	addr    string
	topics  []string
	grace   time.Duration // shutdown deadline
	spans   io.Writer     // where finished spans go, as JSON
	log     *log.Logger   // nil: standard error

	ready func(addr string) // called once the server listens (tests)
}

// run serves until ctx ends, then shuts down within cfg.grace: the HTTP
// server, then the producer, then the tracer provider (which writes the
// spans still batched).
func run(ctx context.Context, cfg config) error {
	if cfg.log == nil {
		cfg.log = log.New(os.Stderr, "", log.LstdFlags)
	}
	if len(cfg.topics) == 0 || cfg.topics[0] == "" {
		return errors.New("no topics")
	}
	brokers := cfg.brokers
	if len(brokers) == 0 {
		var opts []producertest.ClusterOpt
		for _, t := range cfg.topics {
			opts = append(opts, producertest.WithTopic(t, 3))
		}
		c, err := producertest.StartCluster(opts...)
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = c.Addrs()
		cfg.log.Printf("embedded cluster at %s", strings.Join(brokers, ","))
	}

	// Tracing: spans batched to a JSON exporter; W3C trace context in
	// HTTP and record headers.
	exp, err := stdouttrace.New(stdouttrace.WithWriter(cfg.spans))
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	prop := propagation.TraceContext{}
	tracer := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp), kprodotel.WithPropagator(prop))

	// Metrics: the Prometheus collector sees every record through the hooks
	// and reads the buffer gauges from the producer at each scrape.
	metrics := kprodprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	p, err := producer.New(producer.WithBrokers(brokers...), producer.WithClientID("observed-service"),
		producer.WithHooks(tracer, metrics))
	if err != nil {
		return err
	}
	metrics.Watch(p)

	mux := http.NewServeMux()
	mux.Handle("/events", &handler{p: p, topics: cfg.topics, tracer: tp.Tracer("observed-service"), prop: prop})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = p.Close(context.Background())
		return err
	}
	cfg.log.Printf("serving on http://%s/events and /metrics", ln.Addr())
	if cfg.ready != nil {
		cfg.ready(ln.Addr().String())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	errs := []error{serveErr}
	if serveErr == nil {
		errs = append(errs, srv.Shutdown(sctx))
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, p.Close(sctx), tp.Shutdown(sctx))
	return errors.Join(errs...)
}

// handler writes one record per POST and answers once it is acknowledged.
type handler struct {
	p      producer.Client
	topics []string
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// accepted is the body of a 202 answer.
type accepted struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	TraceID   string `json:"trace_id"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	topic := r.URL.Query().Get("topic")
	if topic == "" {
		topic = h.topics[0]
	}
	if !slices.Contains(h.topics, topic) {
		http.Error(w, fmt.Sprintf("unknown topic %q", topic), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The request's span continues the caller's trace, if it sent one; the
	// record's send span (kprodotel) becomes its child.
	ctx := h.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := h.tracer.Start(ctx, "POST /events", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := h.p.Send(ctx, &producer.Record{Topic: topic, Value: body}, nil).Get(ctx)
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, producer.ErrInvalidRecord) || errors.Is(err, producer.ErrRecordTooLarge) {
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(accepted{Topic: md.Topic, Partition: md.Partition, Offset: md.Offset,
		TraceID: span.SpanContext().TraceID().String()})
}

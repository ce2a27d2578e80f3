package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

func main() {
	var cfg config
	brokers := flag.String("brokers", "", "comma-separated host:port list; empty starts an embedded cluster")
	flag.StringVar(&cfg.addr, "addr", "localhost:8080", "address to serve HTTP on")
	flag.StringVar(&cfg.topic, "topic", "events", "topic to write to")
	flag.DurationVar(&cfg.grace, "shutdown-timeout", 10*time.Second, "how long shutdown may take")
	flag.DurationVar(&cfg.timeout, "ack-timeout", 10*time.Second, "how long a request waits for its acknowledgement")
	flag.Parse()
	if *brokers != "" {
		cfg.brokers = strings.Split(*brokers, ",")
	}
	cfg.log = log.Default()
	if err := run(cfg); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// config is what the service needs to run.
type config struct {
	brokers []string // empty: an embedded cluster
	addr    string
	topic   string
	grace   time.Duration // shutdown deadline
	timeout time.Duration // per-request acknowledgement timeout
	log     *log.Logger

	producerOpts []producer.Opt    // added after the service's own (tests)
	ready        func(addr string) // called once the server listens (tests)
}

// run serves until SIGTERM or SIGINT, then shuts down within cfg.grace.
func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return runContext(ctx, cfg)
}

// runContext serves until ctx ends, then shuts down within cfg.grace.
func runContext(ctx context.Context, cfg config) error {
	if cfg.log == nil {
		cfg.log = log.New(os.Stderr, "", log.LstdFlags)
	}
	brokers := cfg.brokers
	if len(brokers) == 0 {
		c, err := producertest.StartCluster(producertest.WithTopic(cfg.topic, 3))
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = c.Addrs()
		cfg.log.Printf("embedded cluster at %s, topic %q with 3 partitions", strings.Join(brokers, ","), cfg.topic)
	}
	p, err := producer.New(append([]producer.Opt{producer.WithBrokers(brokers...), producer.WithClientID("events-service")}, cfg.producerOpts...)...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = p.Close(context.Background())
		return err
	}
	cfg.log.Printf("serving on http://%s/events", ln.Addr())
	if cfg.ready != nil {
		cfg.ready(ln.Addr().String())
	}
	return serve(ctx, ln, &Handler{Producer: p, Topic: cfg.topic, Timeout: cfg.timeout}, p, cfg.grace, cfg.log)
}

// serve answers HTTP on ln until ctx ends, then shuts down within grace:
// first the server (no new connections; requests in progress finish, each
// waiting for its acknowledgement), then the producer (buffered records are
// sent and answered). It returns nil after a clean shutdown.
func serve(ctx context.Context, ln net.Listener, h *Handler, p producer.Client, grace time.Duration, logger *log.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-served: // the server failed on its own
	case <-ctx.Done():
		logger.Printf("shutting down (at most %v)", grace)
	}

	// One deadline for the whole shutdown.
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var shutdownErr error
	if serveErr == nil {
		if err := srv.Shutdown(sctx); err != nil {
			// The deadline passed with requests in progress: closing the
			// producer below answers them (503) and they return.
			shutdownErr = fmt.Errorf("http shutdown: %w", err)
		}
	}
	closeErr := p.Close(sctx)
	if closeErr != nil {
		closeErr = fmt.Errorf("producer close: %w", closeErr)
	}
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	if shutdownErr != nil {
		_ = srv.Close() // drop what is left
	}
	err := errors.Join(serveErr, shutdownErr, closeErr)
	if err == nil {
		logger.Print("shut down cleanly")
	}
	return err
}

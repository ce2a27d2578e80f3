package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/producer"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated host:port list; empty starts an embedded cluster")
	topic := flag.String("topic", "payments", "topic to write to")
	txnID := flag.String("transactional-id", "transactional-example", "transactional.id of the producer")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	o := options{topic: *topic, txnID: *txnID, out: os.Stdout}
	if *brokers != "" {
		o.brokers = strings.Split(*brokers, ",")
	}
	if err := run(ctx, o); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// options configures one run of the example.
type options struct {
	brokers []string // seed brokers; empty starts an embedded cluster
	topic   string
	txnID   string
	out     io.Writer // where the walkthrough is printed

	// producerOpts are added to the producer's options.
	producerOpts []producer.Opt
	// attempts bounds how often the committed transaction is tried again
	// after an abortable error; 0 means 3.
	attempts int
	// beforeCommit, when set, runs just before each CommitTransaction: the
	// tests use it to fence the producer at the worst moment.
	beforeCommit func(ctx context.Context)
}

// run commits a transaction of three records, aborts a second one, and checks
// with independent readers that exactly the committed records are visible.
func run(ctx context.Context, o options) error {
	if o.out == nil {
		o.out = io.Discard
	}
	if o.attempts <= 0 {
		o.attempts = 3
	}
	if len(o.brokers) == 0 {
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, o.topic))
		if err != nil {
			return err
		}
		defer c.Close()
		o.brokers = c.ListenAddrs()
		fmt.Fprintf(o.out, "embedded cluster at %s, topic %q with 3 partitions\n", strings.Join(o.brokers, ","), o.topic)
	}

	p, err := producer.New(append([]producer.Opt{
		producer.WithBrokers(o.brokers...),
		producer.WithClientID("transactional-example"),
		producer.WithTransactionalID(o.txnID),
	}, o.producerOpts...)...)
	if err != nil {
		return err
	}
	// Closing a producer whose transaction is still open aborts it; after a
	// successful run nothing is open and Close just releases the producer.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(cctx)
	}()

	// InitTransactions fences any older producer with the same
	// transactional id and settles whatever transaction it left open.
	if err := p.InitTransactions(ctx); err != nil {
		return fmt.Errorf("init transactions: %w", err)
	}

	l := &ledger{runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if err := commitWork(ctx, p, o, l, []keyValue{
		{"order-1", "paid 10.00"},
		{"order-2", "paid 25.50"},
		{"order-3", "paid 7.25"},
	}); err != nil {
		return err
	}
	if err := abortWork(ctx, p, o, l, []keyValue{
		{"order-4", "paid 99.00"},
		{"order-5", "paid 1.00"},
	}); err != nil {
		return err
	}
	return verify(ctx, o, l)
}

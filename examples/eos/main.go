package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/producer"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated host:port list; empty starts an embedded cluster and fills the input topic")
	input := flag.String("input", "eos-input", "topic to read")
	output := flag.String("output", "eos-output", "topic to write")
	group := flag.String("group", "eos-example", "consumer group")
	txnID := flag.String("transactional-id", "eos-1", "transactional.id; reuse it when restarting an instance")
	records := flag.Int("records", 5000, "records to process (the embedded cluster's input gets this many); 0 runs until interrupted")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{input: *input, output: *output, group: *group, txnID: *txnID, limit: *records, log: os.Stderr}
	if *brokers != "" {
		cfg.brokers = strings.Split(*brokers, ",")
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, *input, *output))
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		cfg.brokers = c.ListenAddrs()
		fmt.Printf("embedded cluster at %s; topics %q and %q with 3 partitions\n", strings.Join(cfg.brokers, ","), *input, *output)
		if err := fillInput(ctx, cfg.brokers, *input, 0, *records); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %d records to %q\n", *records, *input)
	}

	start := time.Now()
	res, err := run(ctx, cfg)
	fmt.Printf("processed %d records in %d transactions in %v (%d aborted, %d rewinds)\n",
		res.committed, res.transactions, time.Since(start).Round(time.Millisecond), res.aborted, res.rewinds)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Println("interrupted: an open transaction is left to the next instance with the same transactional id")
		os.Exit(1)
	case err != nil:
		log.Print(err)
		os.Exit(1)
	}
}

// numKeys is how many distinct keys the generated input uses: few enough
// that every partition holds many records of each key, so order is tested.
const numKeys = 50

// inputKey is the key of generated input record i.
func inputKey(i int) []byte { return fmt.Appendf(nil, "key-%02d", i%numKeys) }

// inputValue is the value of generated input record i; it carries i, so the
// output can be checked record by record.
func inputValue(i int) []byte { return fmt.Appendf(nil, "record-%06d", i) }

// fillInput writes the generated records from, from+1, ..., to-1 to topic
// with kprod's (idempotent) producer, and fails if any of them was not
// acknowledged.
func fillInput(ctx context.Context, brokers []string, topic string, from, to int) error {
	p, err := producer.New(producer.WithBrokers(brokers...), producer.WithClientID("eos-input"))
	if err != nil {
		return err
	}
	var failed atomic.Pointer[error]
	onAnswer := func(_ producer.RecordMetadata, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for i := from; i < to; i++ {
		p.Send(ctx, &producer.Record{Topic: topic, Key: inputKey(i), Value: inputValue(i)}, onAnswer)
	}
	if err := p.Close(ctx); err != nil {
		return fmt.Errorf("filling %s: %w", topic, err)
	}
	if errp := failed.Load(); errp != nil {
		return fmt.Errorf("filling %s: %w", topic, *errp)
	}
	return nil
}

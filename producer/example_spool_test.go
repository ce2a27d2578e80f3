package producer_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/kprod/kprod/producer"
)

// With a spool, a record is durable once its batch is on disk and synced, or
// acknowledged, whichever comes first; a producer restarted on the same
// directory after a crash sends what the spool holds before anything new.
func ExampleWithSpool() {
	c, brokers := cluster()
	defer c.Close()
	dir, err := os.MkdirTemp("", "orders-spool")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p, err := producer.New(producer.WithBrokers(brokers...),
		producer.WithSpool(dir, producer.SpoolMaxBytes(1<<30), producer.SpoolSync(producer.SyncAlways)))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	f := p.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("paid")}, nil)
	<-f.Durable() // safe from a crash of this process from here on
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = f.Get(ctx)
	fmt.Println("durable, then acknowledged:", err == nil)
	// Output: durable, then acknowledged: true
}

package producer

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSpoolConfig(t *testing.T) {
	c := newCluster(t)
	brokers := WithBrokers(c.ListenAddrs()...)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts []Opt
		want string // part of the message; "" for no error
	}{
		{"empty dir", []Opt{WithSpool("")}, "empty directory"},
		{"transactional", []Opt{WithSpool(dir), WithTransactionalID("t")}, "transactional"},
		{"no idempotence", []Opt{WithSpool(dir), WithIdempotence(false)}, "needs idempotence"},
		{"acks 1 quietly turns idempotence off", []Opt{WithSpool(dir), WithAcks(AcksLeader)}, "needs idempotence"},
		{"max bytes", []Opt{WithSpool(dir, SpoolMaxBytes(0))}, "kprod.spool.max.bytes"},
		{"sync every", []Opt{WithSpool(dir, SpoolSync(SyncInterval), SpoolSyncEvery(-1))}, "kprod.spool.sync.interval.ms"},
		{"policy", []Opt{WithSpool(dir, SpoolSync(SyncPolicy(9)))}, "kprod.spool.sync"},
		{"property without dir", []Opt{WithProperties(map[string]string{"kprod.spool.sync": "never"})}, "without a spool directory"},
		{"bad policy property", []Opt{WithProperties(map[string]string{"kprod.spool.dir": dir, "kprod.spool.sync": "sometimes"})}, "kprod.spool.sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(append([]Opt{brokers}, tc.opts...)...)
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want ErrInvalidConfig naming %q", err, tc.want)
			}
		})
	}

	p, err := New(brokers, WithProperties(map[string]string{"kprod.spool.dir": dir, "kprod.spool.sync": "interval",
		"kprod.spool.sync.interval.ms": "20", "kprod.spool.max.bytes": "1048576", "kprod.spool.outage.ms": "100"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.cfg.spool; got != (spoolConfig{dir: dir, maxBytes: 1 << 20, sync: SyncInterval, syncEvery: 20e6, outage: 100e6}) {
		t.Fatalf("properties gave %+v", got)
	}
	_, err = New(brokers, WithSpool(dir))
	if !errors.Is(err, ErrSpoolLocked) || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("a second producer on the directory: %v, want ErrSpoolLocked", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	q, err := New(brokers, WithSpool(dir))
	if err != nil {
		t.Fatalf("the directory after Close: %v", err)
	}
	q.Close(context.Background())
}

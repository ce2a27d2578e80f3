package txn_test

import (
	"testing"

	"github.com/kprod/kprod/internal/idempotence"
)

// BenchmarkTransactionKfake is a whole transaction against the in-process
// cluster: AddPartitions (classic) or none (v2), one produce request,
// EndTxn(commit). Most of the time is kfake and the loopback network.
func BenchmarkTransactionKfake(b *testing.B) {
	for _, f := range flows {
		b.Run(f.name, func(b *testing.B) {
			cl := newCluster(b, f)
			pool := newPool(b, cl, nil)
			ctx := b.Context()
			c := newClient(pool, "bench-"+f.name)
			id, err := c.InitProducerID(ctx, idempotence.None)
			if err != nil {
				b.Fatal(err)
			}
			p := newProducer(b, cl, pool, "bench-"+f.name, id)
			one := map[string][]int32{"a": {0}}
			b.ReportAllocs()
			for b.Loop() {
				if !c.V2() {
					if err := c.AddPartitions(ctx, p.id, one); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.tryProduce(ctx, "a", 0, "v"); err != nil {
					b.Fatal(err)
				}
				next, err := c.EndTxn(ctx, p.id, true)
				if err != nil {
					b.Fatal(err)
				}
				p.setID(next)
			}
		})
	}
}

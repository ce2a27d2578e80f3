package producer

import (
	"time"

	"github.com/kprod/kprod/partitioner"
)

// availability is what the sender tells the sticky partitioner: each
// partition's queue depth, for adaptive partitioning
// (partitioner.adaptive.partitioning.enable), and the partitions of brokers
// that could not take data for partitioner.availability.timeout.ms. Sender
// goroutine only.
type availability struct {
	sticky   *partitioner.Sticky // nil with a custom partitioner: nothing to tell
	adaptive bool
	timeout  time.Duration // availability timeout; 0: off

	loads        map[string][]int32        // topic → queue depth per partition, this scan
	blockedSince map[int32]time.Time       // node → since when it had data but could not take it
	unavailable  map[*partition]bool       // partitions reported unavailable
	depthFn      func(p *partition, n int) // noteDepth, bound once; nil when not adaptive
}

func newAvailability(cfg *config, sticky *partitioner.Sticky) *availability {
	return &availability{sticky: sticky, adaptive: sticky != nil && cfg.adaptive, timeout: cfg.availabilityTimeout,
		loads: make(map[string][]int32), blockedSince: make(map[int32]time.Time), unavailable: make(map[*partition]bool)}
}

// beginScan forgets the last scan's depths.
func (a *availability) beginScan() {
	for _, l := range a.loads {
		clear(l)
	}
}

// noteDepth records that p holds n batches not yet done.
func (a *availability) noteDepth(p *partition, n int) {
	l := a.loads[p.topic]
	if int(p.id) >= len(l) {
		grown := make([]int32, p.id+1)
		copy(grown, l)
		l = grown
		a.loads[p.topic] = l
	}
	l[p.id] = int32(n)
}

// publish hands the scan's depths to the partitioner.
func (a *availability) publish() {
	if !a.adaptive {
		return
	}
	for topic, l := range a.loads {
		a.sticky.UpdateLoad(topic, l)
	}
}

// blocked notes that node had data for parts but could not take it; once
// that lasted the availability timeout, the partitioner avoids parts.
func (a *availability) blocked(node int32, parts []*partition, now time.Time) {
	if a.timeout <= 0 || a.sticky == nil {
		return
	}
	since, ok := a.blockedSince[node]
	if !ok {
		a.blockedSince[node] = now
		return
	}
	if now.Sub(since) < a.timeout {
		return
	}
	for _, p := range parts {
		if !a.unavailable[p] {
			a.unavailable[p] = true
			a.sticky.SetUnavailable(p.topic, p.id, true)
		}
	}
}

// unblocked notes that node takes data again.
func (a *availability) unblocked(node int32, parts []*partition) {
	if a.timeout <= 0 || a.sticky == nil {
		return
	}
	delete(a.blockedSince, node)
	for _, p := range parts {
		if a.unavailable[p] {
			delete(a.unavailable, p)
			a.sticky.SetUnavailable(p.topic, p.id, false)
		}
	}
}

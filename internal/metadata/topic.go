package metadata

import (
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partition is one partition as the last refresh saw it.
type Partition struct {
	ID          int32
	Leader      int32 // broker node id; -1 when the partition has no leader
	LeaderEpoch int32 // -1 when the broker does not report epochs
	Err         error // the partition's kerr error, nil when healthy
}

// Topic is an immutable snapshot of one topic. A refresh publishes new
// Topic values; it never changes one that was handed out.
type Topic struct {
	Name string
	ID   [16]byte // zero before Kafka 2.8 (Metadata v10)
	// Err is the topic-level kerr error of the last refresh, nil when
	// healthy. With a retriable error the previous partitions are kept.
	Err error
	// Partitions are sorted by ID; normally Partitions[i].ID == i.
	Partitions []Partition
	// Available lists, in order, the partitions that have a leader.
	Available []int32
	// Fetched is when the partitions were last learned.
	Fetched time.Time

	use *usage // shared by every snapshot of the topic while it is in use
}

// usage is a topic's "sent to lately" mark. The hot path only sets used;
// the refresh goroutine turns it into lastUsed and drops the topic when it
// stayed unset for MaxIdle.
type usage struct {
	c        *Client
	name     string
	used     atomic.Bool // set by MarkUsed, cleared by each refresh
	dropped  atomic.Bool // the topic left the refreshed set
	lastUsed time.Time   // refresh goroutine only (under Client.mu)
}

// MarkUsed notes that a record is being sent to the topic, which keeps it
// in the refreshes. It costs one atomic load when already marked since the
// last refresh. A topic dropped as idle in a race with this call is taken
// back into the refreshes.
func (t *Topic) MarkUsed() {
	if u := t.use; u != nil && !u.used.Load() {
		u.mark()
	}
}

func (u *usage) mark() {
	u.used.Store(true)
	// The refresh sets dropped before it reads used again: either it sees
	// used, or this sees dropped.
	if u.dropped.Load() {
		u.c.Want(u.name)
	}
}

// mergeTopic builds the snapshot of one topic from a metadata response
// entry, given what the previous snapshot held (old may be nil).
//
// A topic that comes back with a retriable error keeps its previous
// partitions: the error is usually transient (a leader election, a broker
// catching up) and the old leaders are the best guess until it clears. A
// partition reported with an older leader epoch than the one already known
// came from a broker with stale metadata and is ignored for that partition.
func mergeTopic(rt *kmsg.MetadataResponseTopic, name string, old *Topic, now time.Time) *Topic {
	t := &Topic{Name: name, ID: rt.TopicID, Fetched: now}
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		t.Err = err
		if old != nil && len(old.Partitions) > 0 && kerr.IsRetriable(err) {
			if t.ID == ([16]byte{}) {
				t.ID = old.ID
			}
			t.Partitions, t.Available, t.Fetched = old.Partitions, old.Available, old.Fetched
		}
		return t
	}

	t.Partitions = make([]Partition, 0, len(rt.Partitions))
	for i := range rt.Partitions {
		rp := &rt.Partitions[i]
		p := Partition{
			ID:          rp.Partition,
			Leader:      max(rp.Leader, -1),
			LeaderEpoch: max(rp.LeaderEpoch, -1),
			Err:         kerr.ErrorForCode(rp.ErrorCode),
		}
		if prev, ok := old.partition(p.ID); ok && p.LeaderEpoch >= 0 && prev.LeaderEpoch > p.LeaderEpoch {
			p = prev
		}
		t.Partitions = append(t.Partitions, p)
	}
	slices.SortFunc(t.Partitions, func(a, b Partition) int { return int(a.ID) - int(b.ID) })
	t.Partitions = slices.CompactFunc(t.Partitions, func(a, b Partition) bool { return a.ID == b.ID })
	for _, p := range t.Partitions {
		if p.Leader >= 0 {
			t.Available = append(t.Available, p.ID)
		}
	}
	return t
}

// partition finds a partition by id; t may be nil.
func (t *Topic) partition(id int32) (Partition, bool) {
	if t == nil {
		return Partition{}, false
	}
	i, ok := slices.BinarySearchFunc(t.Partitions, id, func(p Partition, id int32) int { return int(p.ID) - int(id) })
	if !ok {
		return Partition{}, false
	}
	return t.Partitions[i], true
}

// unknown reports whether the topic's error says the cluster lacks it.
func (t *Topic) unknown() bool {
	return t != nil && errors.Is(t.Err, kerr.UnknownTopicOrPartition)
}

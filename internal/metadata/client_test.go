package metadata

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestWaitLoadsTopic(t *testing.T) {
	cluster := newCluster(t)
	var updates atomic.Int32
	c, pool := newClient(t, cluster, Config{OnUpdate: func() { updates.Add(1) }})
	if c.Topic(testTopic) != nil {
		t.Fatal("topic cached before any refresh")
	}
	topic, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	if topic.Name != testTopic || topic.ID == ([16]byte{}) || topic.Err != nil || topic.Fetched.IsZero() {
		t.Fatalf("topic %+v", topic)
	}
	if len(topic.Partitions) != 3 || !slices.Equal(topic.Available, []int32{0, 1, 2}) {
		t.Fatalf("partitions %+v, available %v", topic.Partitions, topic.Available)
	}
	for i, p := range topic.Partitions {
		if p.ID != int32(i) || p.Leader != cluster.LeaderFor(testTopic, p.ID) || p.Err != nil {
			t.Fatalf("partition %d: %+v; leader should be %d", i, p, cluster.LeaderFor(testTopic, p.ID))
		}
		if _, ok := pool.Broker(p.Leader); !ok {
			t.Fatalf("leader %d unknown to the pool", p.Leader)
		}
	}
	if c.Topic(testTopic) != topic {
		t.Fatal("Topic does not return the waited-for snapshot")
	}
	if updates.Load() != 1 {
		t.Fatalf("OnUpdate called %d times", updates.Load())
	}
	// Cached: no further refresh.
	again, err := c.Wait(kafkatest.Context(t, time.Second), testTopic)
	if err != nil || again != topic || updates.Load() != 1 {
		t.Fatalf("second Wait: %v, %v, %d updates", again, err, updates.Load())
	}
}

func TestTopicDoesNotAllocate(t *testing.T) {
	cluster := newCluster(t)
	c, _ := newClient(t, cluster, Config{})
	if _, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic); err != nil {
		t.Fatal(err)
	}
	name := string([]byte(testTopic)) // not the constant's backing array
	if allocs := testing.AllocsPerRun(1000, func() { _ = c.Topic(name) }); allocs != 0 {
		t.Fatalf("Topic allocates %v times", allocs)
	}
}

func TestWaitUnknownTopicGivesUpWithCtx(t *testing.T) {
	cluster := newCluster(t)
	seen := watchMetadata(cluster)
	c, _ := newClient(t, cluster, Config{MinInterval: 20 * time.Millisecond})
	start := time.Now()
	_, err := c.Wait(kafkatest.Context(t, 300*time.Millisecond), "missing")
	if !errors.Is(err, ErrUnknownTopic) || !errors.Is(err, kerr.UnknownTopicOrPartition) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait for a missing topic: %v", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Fatalf("gave up after %v", el)
	}
	if n := seen.count(); n < 3 {
		t.Fatalf("only %d metadata requests while waiting; the topic should be asked for again", n)
	}
	if topic := c.Topic("missing"); topic == nil || !topic.unknown() || len(topic.Partitions) != 0 {
		t.Fatalf("cached entry for a missing topic: %+v", topic)
	}
}

func TestWaitFindsTopicCreatedMeanwhile(t *testing.T) {
	cluster := newCluster(t)
	c, pool := newClient(t, cluster, Config{MinInterval: 20 * time.Millisecond})
	type result struct {
		topic *Topic
		err   error
	}
	got := make(chan result, 1)
	go func() {
		topic, err := c.Wait(kafkatest.Context(t, 5*time.Second), "late")
		got <- result{topic, err}
	}()
	time.Sleep(150 * time.Millisecond)
	createTopic(t, pool, "late", 2)
	r := <-got
	if r.err != nil || len(r.topic.Partitions) != 2 {
		t.Fatalf("Wait: %+v, %v", r.topic, r.err)
	}
}

// controllerConn returns a connection to the cluster's controller, which
// admin requests need.
func controllerConn(t testing.TB, ctx context.Context, pool *wire.Pool) *wire.Conn {
	t.Helper()
	conn, err := pool.Any(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := conn.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	conn, err = pool.Conn(ctx, raw.(*kmsg.MetadataResponse).ControllerID, wire.Control)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func createTopic(t testing.TB, pool *wire.Pool, name string, partitions int32) {
	t.Helper()
	ctx := kafkatest.Context(t, 5*time.Second)
	conn := controllerConn(t, ctx, pool)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	raw, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(raw.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAutoCreatesTopic(t *testing.T) {
	cluster := newCluster(t, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	c, _ := newClient(t, cluster, Config{AllowAutoCreate: true, MinInterval: 20 * time.Millisecond})
	topic, err := c.Wait(kafkatest.Context(t, 5*time.Second), "auto")
	if err != nil || len(topic.Partitions) != 4 {
		t.Fatalf("auto-created topic: %+v, %v", topic, err)
	}
}

// answerMetadata makes the cluster answer Metadata requests with fn's
// response while fn returns non-nil.
func answerMetadata(cluster *kfake.Cluster, fn func(*kmsg.MetadataRequest) *kmsg.MetadataResponse) {
	cluster.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if resp := fn(req.(*kmsg.MetadataRequest)); resp != nil {
			resp.Version = req.GetVersion()
			return resp, nil, true
		}
		return nil, nil, false
	})
}

// topicResponse is a metadata response with one topic.
func topicResponse(name string, code int16, partitions ...kmsg.MetadataResponseTopicPartition) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	rt := kmsg.NewMetadataResponseTopic()
	rt.Topic = kmsg.StringPtr(name)
	rt.ErrorCode = code
	rt.Partitions = partitions
	resp.Topics = append(resp.Topics, rt)
	return resp
}

func TestWaitReturnsNonRetriableErrorsAtOnce(t *testing.T) {
	tests := []struct {
		name string
		err  *kerr.Error
	}{
		{"authorization", kerr.TopicAuthorizationFailed},
		{"invalid name", kerr.InvalidTopicException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := newCluster(t)
			answerMetadata(cluster, func(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
				if len(req.Topics) == 0 {
					return nil
				}
				return topicResponse("denied", tt.err.Code)
			})
			c, _ := newClient(t, cluster, Config{})
			start := time.Now()
			_, err := c.Wait(kafkatest.Context(t, 5*time.Second), "denied")
			if !errors.Is(err, tt.err) || errors.Is(err, ErrUnknownTopic) {
				t.Fatalf("Wait: %v; want %v", err, tt.err)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}
}

func TestPartitionGrowthPickedUp(t *testing.T) {
	cluster := newCluster(t)
	updated := make(chan struct{}, 16)
	c, pool := newClient(t, cluster, Config{MinInterval: 10 * time.Millisecond, OnUpdate: func() { updated <- struct{}{} }})
	if _, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic); err != nil {
		t.Fatal(err)
	}
	ctx := kafkatest.Context(t, 5*time.Second)
	conn := controllerConn(t, ctx, pool)
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = testTopic, 5
	req.Topics = append(req.Topics, rt)
	raw, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(raw.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
	c.Trigger("test: partitions added")
	eventually(t, 5*time.Second, "5 partitions", func() bool {
		topic := c.Topic(testTopic)
		return len(topic.Partitions) == 5 && len(topic.Available) == 5
	})
}

func TestLeaderMovePickedUpAfterTrigger(t *testing.T) {
	cluster := newCluster(t)
	c, _ := newClient(t, cluster, Config{MinInterval: 10 * time.Millisecond})
	before, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	p0 := before.Partitions[0]
	to := (p0.Leader + 1) % 3
	if err := cluster.MoveTopicPartition(testTopic, 0, to); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := c.Topic(testTopic).Partitions[0].Leader; got != p0.Leader {
		t.Fatalf("leader changed to %d without a refresh", got)
	}
	c.Trigger("test: NOT_LEADER_OR_FOLLOWER")
	eventually(t, 5*time.Second, "the new leader", func() bool {
		p := c.Topic(testTopic).Partitions[0]
		return p.Leader == to && p.LeaderEpoch > p0.LeaderEpoch
	})
	if c.Topic(testTopic) == before {
		t.Fatal("snapshot mutated instead of replaced")
	}
	if before.Partitions[0] != p0 {
		t.Fatal("an old snapshot changed")
	}
}

func TestMaxAgeRefreshes(t *testing.T) {
	cluster := newCluster(t)
	seen := watchMetadata(cluster)
	c, _ := newClient(t, cluster, Config{MaxAge: 100 * time.Millisecond, MinInterval: 10 * time.Millisecond})
	before, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	n := seen.count()
	to := (before.Partitions[1].Leader + 1) % 3
	if err := cluster.MoveTopicPartition(testTopic, 1, to); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the moved leader without a trigger", func() bool {
		return c.Topic(testTopic).Partitions[1].Leader == to
	})
	time.Sleep(350 * time.Millisecond)
	if got := seen.count() - n; got < 3 || got > 8 {
		t.Fatalf("%d refreshes in ~450ms with MaxAge 100ms", got)
	}
	if !slices.Equal(seen.last(), []string{testTopic}) {
		t.Fatalf("age refresh asked for %v", seen.last())
	}
}

func TestTriggersCoalesce(t *testing.T) {
	cluster := newCluster(t)
	seen := watchMetadata(cluster)
	c, _ := newClient(t, cluster, Config{MinInterval: 200 * time.Millisecond})
	if _, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic); err != nil {
		t.Fatal(err)
	}
	n := seen.count()
	for range 100 {
		c.Trigger("storm")
	}
	time.Sleep(100 * time.Millisecond)
	if got := seen.count() - n; got != 0 {
		t.Fatalf("%d refreshes within MinInterval of the last", got)
	}
	time.Sleep(250 * time.Millisecond)
	if got := seen.count() - n; got != 1 {
		t.Fatalf("%d refreshes for a storm of triggers; want 1", got)
	}
}

func TestRetriableErrorKeepsPartitions(t *testing.T) {
	cluster := newCluster(t)
	var fail atomic.Bool
	answerMetadata(cluster, func(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
		if !fail.Load() {
			return nil
		}
		return topicResponse(testTopic, kerr.LeaderNotAvailable.Code)
	})
	c, _ := newClient(t, cluster, Config{MinInterval: 10 * time.Millisecond})
	before, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	c.Trigger("test")
	eventually(t, 5*time.Second, "the topic error", func() bool { return c.Topic(testTopic).Err != nil })
	after := c.Topic(testTopic)
	if !errors.Is(after.Err, kerr.LeaderNotAvailable) || !slices.Equal(after.Partitions, before.Partitions) || after.ID != before.ID {
		t.Fatalf("after a retriable error: %+v; before %+v", after, before)
	}
	// Wait still answers from the kept partitions.
	if got, err := c.Wait(kafkatest.Context(t, time.Second), testTopic); err != nil || got != after {
		t.Fatalf("Wait: %v, %v", got, err)
	}
}

func TestStaleLeaderEpochIgnored(t *testing.T) {
	cluster := newCluster(t)
	var answer atomic.Pointer[kmsg.MetadataResponse]
	answerMetadata(cluster, func(*kmsg.MetadataRequest) *kmsg.MetadataResponse { return answer.Load() })
	c, _ := newClient(t, cluster, Config{MinInterval: 10 * time.Millisecond})
	loaded, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	part := func(id, leader, epoch int32) kmsg.MetadataResponseTopicPartition {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition, p.Leader, p.LeaderEpoch = id, leader, epoch
		return p
	}
	publish := func(resp *kmsg.MetadataResponse) *Topic {
		t.Helper()
		resp.Topics[0].TopicID = loaded.ID
		prev := c.Topic(testTopic)
		answer.Store(resp)
		c.Trigger("test")
		eventually(t, 5*time.Second, "a refresh", func() bool { return c.Topic(testTopic) != prev })
		return c.Topic(testTopic)
	}

	known := publish(topicResponse(testTopic, 0, part(0, 1, 5), part(1, 1, 5)))
	if known.Partitions[0].LeaderEpoch != 5 {
		t.Fatalf("epoch 5 not taken: %+v", known.Partitions)
	}
	// A broker behind the others reports partition 0 at an older epoch;
	// partition 1 has moved on.
	after := publish(topicResponse(testTopic, 0, part(0, 2, 4), part(1, 2, 6)))
	if after.Partitions[0] != known.Partitions[0] {
		t.Fatalf("partition 0 took stale metadata: %+v; had %+v", after.Partitions[0], known.Partitions[0])
	}
	if p1 := after.Partitions[1]; p1.Leader != 2 || p1.LeaderEpoch != 6 {
		t.Fatalf("partition 1 ignored newer metadata: %+v", p1)
	}
}

func TestForget(t *testing.T) {
	cluster := newCluster(t)
	seen := watchMetadata(cluster)
	c, _ := newClient(t, cluster, Config{MinInterval: 10 * time.Millisecond})
	if _, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic); err != nil {
		t.Fatal(err)
	}
	c.Forget(testTopic)
	if c.Topic(testTopic) != nil {
		t.Fatal("forgotten topic still cached")
	}
	n := seen.count()
	c.Trigger("test")
	eventually(t, 5*time.Second, "a refresh", func() bool { return seen.count() > n })
	if topics := seen.last(); len(topics) != 0 {
		t.Fatalf("refresh after Forget asked for %v", topics)
	}
}

// TestWaitUnreachableIsNotUnknownTopic waits for a topic while no broker
// can be reached: the error says the refresh failed and wraps ctx's error,
// but not ErrUnknownTopic, since no broker said the topic does not exist.
func TestWaitUnreachableIsNotUnknownTopic(t *testing.T) {
	pool, err := wire.NewPool(&wire.Config{ReconnectBackoff: 10 * time.Millisecond, ReconnectBackoffMax: 20 * time.Millisecond}, []string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := New(pool, Config{RequestTimeout: 50 * time.Millisecond, MinInterval: 10 * time.Millisecond})
	defer c.Close()
	_, err = c.Wait(kafkatest.Context(t, 300*time.Millisecond), testTopic)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnknownTopic) || errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("Wait with no reachable broker: %v", err)
	}
	if !strings.Contains(err.Error(), "last refresh failed") {
		t.Fatalf("error does not say the refresh failed: %v", err)
	}
}

func TestCloseStopsRefreshes(t *testing.T) {
	cluster := newCluster(t)
	pool := newPool(t, cluster)
	c := New(pool, Config{MaxAge: 10 * time.Millisecond, MinInterval: time.Millisecond})
	eventually(t, time.Second, "the refresh goroutine", func() bool { return refreshGoroutines(c) == 1 })
	if _, err := c.Wait(kafkatest.Context(t, 5*time.Second), testTopic); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Wait(kafkatest.Context(t, 5*time.Second), "missing")
		blocked <- err
	}()
	time.Sleep(30 * time.Millisecond)
	c.Close()
	c.Close() // idempotent
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait across Close: %v", err)
	}
	if _, err := c.Wait(kafkatest.Context(t, time.Second), "other"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
	eventually(t, time.Second, "the refresh goroutine to exit", func() bool { return refreshGoroutines(c) == 0 })
	c.Trigger("after close") // harmless
}

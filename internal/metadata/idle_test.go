package metadata

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestTopicIdleExpiry: a topic marked used keeps its place in the
// refreshes; one left alone for MaxIdle leaves them at the next refresh
// and its snapshot goes; Wait brings it back.
func TestTopicIdleExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge, maxIdle = time.Minute, 3 * time.Minute
		c, broker := pipeClient(t, Config{MaxAge: maxAge, MaxIdle: maxIdle})
		ctx := context.Background()
		for _, name := range []string{"busy", "idle"} {
			if _, err := c.Wait(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := broker.lastTopics(); !slices.Equal(got, []string{"busy", "idle"}) {
			t.Fatalf("first refresh asked for %v", got)
		}
		// "busy" is sent to every 10s for 5 minutes; "idle" never again.
		for range 30 {
			time.Sleep(10 * time.Second)
			c.Topic("busy").MarkUsed()
		}
		synctest.Wait()
		if got := broker.lastTopics(); !slices.Equal(got, []string{"busy"}) {
			t.Fatalf("refresh after MaxIdle asked for %v; want only busy", got)
		}
		if c.Topic("idle") != nil {
			t.Fatal("the idle topic is still in the snapshot")
		}
		if c.Topic("busy") == nil {
			t.Fatal("the busy topic left the snapshot")
		}
		n := len(broker.times())
		if _, err := c.Wait(ctx, "idle"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := broker.lastTopics(); len(broker.times()) != n+1 || !slices.Equal(got, []string{"busy", "idle"}) {
			t.Fatalf("after Wait: %d refreshes, last asked for %v", len(broker.times())-n, got)
		}
	})
}

// TestTopicIdleExactTiming: the topic is still asked for by the refresh
// that comes just before MaxIdle passed, and not by the first one after.
func TestTopicIdleExactTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge, maxIdle = time.Minute, 2 * time.Minute
		c, broker := pipeClient(t, Config{MaxAge: maxAge, MaxIdle: maxIdle})
		if _, err := c.Wait(context.Background(), testTopic); err != nil {
			t.Fatal(err)
		}
		// Refreshes at 0 (stamps the topic), 1m, 2m (idle exactly MaxIdle:
		// dropped), then 3m asks for nothing.
		time.Sleep(maxIdle - time.Nanosecond)
		synctest.Wait()
		if got := broker.lastTopics(); !slices.Equal(got, []string{testTopic}) {
			t.Fatalf("before MaxIdle the refresh asked for %v", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := broker.lastTopics(); len(got) != 0 {
			t.Fatalf("at MaxIdle the refresh asked for %v", got)
		}
	})
}

// TestTopicIdleDisabled: a negative MaxIdle keeps every topic.
func TestTopicIdleDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, broker := pipeClient(t, Config{MaxAge: time.Minute, MaxIdle: -1})
		if _, err := c.Wait(context.Background(), testTopic); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := broker.lastTopics(); !slices.Equal(got, []string{testTopic}) {
			t.Fatalf("an hour later the refresh asked for %v", got)
		}
	})
}

// TestTopicIdleDropRace: a MarkUsed on a snapshot whose topic was just
// dropped takes the topic back into the refreshes.
func TestTopicIdleDropRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, broker := pipeClient(t, Config{MaxAge: time.Minute, MaxIdle: time.Minute})
		stale, err := c.Wait(context.Background(), testTopic)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if c.Topic(testTopic) != nil {
			t.Fatal("not dropped")
		}
		stale.MarkUsed() // a Send that read the snapshot before the drop
		synctest.Wait()
		time.Sleep(DefaultMinInterval)
		synctest.Wait()
		if got := broker.lastTopics(); !slices.Equal(got, []string{testTopic}) {
			t.Fatalf("after the late mark the refresh asked for %v", got)
		}
		if c.Topic(testTopic) == nil {
			t.Fatal("not back in the snapshot")
		}
	})
}

package realkafka_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// partitionKeys returns n distinct keys of many shapes: short and long,
// ASCII and multi-byte UTF-8, digits only, with spaces — none with a tab
// or newline, which the console producer's line format cannot carry.
func partitionKeys(n int) []string {
	rng := rand.New(rand.NewPCG(11, 13))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	seen := map[string]bool{}
	var keys []string
	for i := 0; len(keys) < n; i++ {
		var k string
		switch i % 6 {
		case 0:
			k = fmt.Sprintf("user-%d", i)
		case 1:
			k = fmt.Sprint(i * 7919)
		case 2:
			k = fmt.Sprintf("ключ-%d", i)
		case 3:
			k = fmt.Sprintf("キー %d 🔑", i)
		default:
			b := make([]byte, 1+rng.IntN(64))
			for j := range b {
				b[j] = alnum[rng.IntN(len(alnum))]
			}
			k = string(b)
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// TestPartitionsMatchJava: keys written by Java's console producer
// (parse.key=true, the Java client's default partitioner) and by kprod land
// on the same partitions, for 1,200 keys over 3, 7 and 12 partitions.
func TestPartitionsMatchJava(t *testing.T) {
	k := cluster(t)
	keys := partitionKeys(1200)
	for _, parts := range []int32{3, 7, 12} {
		t.Run(fmt.Sprintf("partitions=%d", parts), func(t *testing.T) {
			t.Parallel()
			javaTopic, ourTopic := kafkatest.TopicName(t), kafkatest.TopicName(t)
			k.CreateTopic(t, javaTopic, parts, 1, nil)
			k.CreateTopic(t, ourTopic, parts, 1, nil)

			lines := make([]kafkatest.KeyValue, len(keys))
			for i, key := range keys {
				lines[i] = kafkatest.KeyValue{Key: key, Value: fmt.Sprintf("j%d|", i)}
			}
			kafkatest.ConsoleProduce(t, k.Addrs(), javaTopic, lines, kafkatest.ConsoleOptions{})
			javaPart := map[string]int32{}
			for _, r := range kafkatest.ReadRecords(t, k.Addrs(), javaTopic, len(keys), kafkatest.ReadOptions{}) {
				if _, dup := javaPart[string(r.Key)]; dup {
					t.Fatalf("key %q read twice from the Java producer's topic", r.Key)
				}
				javaPart[string(r.Key)] = r.Partition
			}
			if len(javaPart) != len(keys) {
				t.Fatalf("the Java producer's topic holds %d distinct keys, %d written", len(javaPart), len(keys))
			}

			p := newProducer(t, k, producer.WithLinger(5*time.Millisecond))
			b := newBook(ourTopic, producer.AcksAll)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i, key := range keys {
				id := fmt.Sprintf("k%d", i)
				b.send(ctx, p, id, &producer.Record{Topic: ourTopic, Key: []byte(key), Value: []byte(id + "|")})
			}
			b.wait(t, time.Minute)
			b.check(t, "kgo", fromKgo(kafkatest.ReadRecords(t, k.Addrs(), ourTopic, len(keys), kafkatest.ReadOptions{})),
				kafkatest.EndOffsets(t, k.Addrs(), ourTopic, parts))

			mismatch, used := 0, map[int32]bool{}
			for _, e := range b.sent {
				want, ok := javaPart[string(e.rec.Key)]
				if !ok {
					t.Fatalf("key %q is not in the Java producer's topic (bytes changed on the way?)", e.rec.Key)
				}
				used[e.md.Partition] = true
				if e.md.Partition != want {
					if mismatch++; mismatch <= 5 {
						t.Errorf("key %q: kprod partition %d, Java %d", e.rec.Key, e.md.Partition, want)
					}
				}
			}
			if mismatch > 0 {
				t.Fatalf("%d of %d keys on another partition than Java put them", mismatch, len(keys))
			}
			if len(used) != int(parts) {
				t.Fatalf("keys used %d of %d partitions", len(used), parts)
			}
		})
	}
}

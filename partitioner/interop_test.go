package partitioner_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/partitioner"
)

// Another Go Kafka client, written independently, must place every key on the
// same partition as KeyPartition does; with a count of MaxInt32 the partition is the
// non-negative hash itself, which checks all 31 bits of Murmur2.
func TestKeyPartitionMatchesIndependentClient(t *testing.T) {
	other := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))

	keys := [][]byte{{}, []byte("a"), []byte("ab"), []byte("key"), []byte("abcd"), []byte("abcde"), {0xff, 0x80, 0x7f, 0x00, 0xff}}
	for i := range 3000 {
		key := make([]byte, rng.IntN(70))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		keys = append(keys, key, []byte(fmt.Sprintf("order-%d", i)))
	}

	for _, key := range keys {
		for _, n := range []int{1, 2, 3, 7, 12, 100, 1 << 20, math.MaxInt32} {
			want := other.Partition(&kgo.Record{Key: key}, n)
			if got := partitioner.KeyPartition(key, n); int(got) != want {
				t.Fatalf("KeyPartition(%x, %d) = %d, other client says %d", key, n, got, want)
			}
		}
	}
}

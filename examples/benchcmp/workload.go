package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// errUnknownWorkload means a workload name is not one of a to f.
var errUnknownWorkload = errors.New("benchcmp: unknown workload")

// workload is one measured scenario. Every workload uses acks=all and the
// idempotent producer (where the client has one), and configures every
// client to the same batch.size, linger.ms and compression.type; each
// client's own defaults otherwise.
type workload struct {
	name      string
	title     string
	valueSize int
	codec     string        // none, lz4 or zstd
	linger    time.Duration // producer linger
	batchSize int           // batch.size: bytes of one partition's batch, before compression
	rate      float64       // records/s; 0 sends as fast as possible
	latency   bool          // the point of the workload is p50/p99 latency
	// keys is how many distinct keys the records cycle through; 0 sends
	// records without a key (each client's partitioner for null keys).
	keys int
	// partitions overrides -partitions for this workload's topic (0: the flag's).
	partitions int
	// recordsDiv divides -records for this workload (larger values, fewer records).
	recordsDiv int
}

// defaultBatchSize is the Java producer's batch.size, the one every client
// is configured to unless a workload says otherwise.
const defaultBatchSize = 16 << 10

// workloads are the scenarios in report order.
var workloads = []workload{
	{name: "a", title: "100 B, none, linger 5ms", valueSize: 100, codec: "none", linger: 5 * time.Millisecond, batchSize: defaultBatchSize, recordsDiv: 1},
	{name: "b", title: "1 KiB, lz4, linger 5ms", valueSize: 1024, codec: "lz4", linger: 5 * time.Millisecond, batchSize: defaultBatchSize, recordsDiv: 4},
	{name: "c", title: "100 B, zstd, linger 5ms", valueSize: 100, codec: "zstd", linger: 5 * time.Millisecond, batchSize: defaultBatchSize, recordsDiv: 1},
	{name: "d", title: "100 B at 10k/s, linger 0", valueSize: 100, codec: "none", linger: 0, batchSize: defaultBatchSize, rate: 10_000, latency: true, recordsDiv: 1},
	{name: "e", title: "100 B, none, 64 KiB batches", valueSize: 100, codec: "none", linger: 5 * time.Millisecond, batchSize: 64 << 10, recordsDiv: 1},
	{name: "f", title: "100 B, 1,000 keys, 12 partitions", valueSize: 100, codec: "none", linger: 5 * time.Millisecond, batchSize: defaultBatchSize,
		keys: 1000, partitions: 12, recordsDiv: 1},
}

// topicPartitions is how many partitions w's topic has, given -partitions.
func (w workload) topicPartitions(flag int) int {
	if w.partitions > 0 {
		return w.partitions
	}
	return flag
}

// topicName is the topic w writes to: base for the flag's partition count,
// base-p<N> for a workload with its own.
func (w workload) topicName(base string) string {
	if w.partitions > 0 {
		return fmt.Sprintf("%s-p%d", base, w.partitions)
	}
	return base
}

// findWorkload returns the workload called name.
func findWorkload(name string) (workload, error) {
	for _, w := range workloads {
		if w.name == name {
			return w, nil
		}
	}
	return workload{}, fmt.Errorf("%w: %q (want one of a to f)", errUnknownWorkload, name)
}

// selectWorkloads parses a comma-separated list of workload names.
func selectWorkloads(list string) ([]workload, error) {
	var out []workload
	seen := make(map[string]bool)
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		w, err := findWorkload(name)
		if err != nil {
			return nil, err
		}
		seen[name] = true
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none selected", errUnknownWorkload)
	}
	return out, nil
}

// corpusBytes is how much distinct value data a run cycles through. It is
// larger than any batch a client builds (1 MB at most), so
// no batch holds the same value twice: a compressor finds only the
// repetition real event data has (field names, a small vocabulary), never a
// whole earlier record, which would flatter large batches.
const corpusBytes = 4 << 20

// numValues is how many distinct values of size bytes a run cycles through.
func numValues(size int) int { return max(corpusBytes/max(size, 1), 1024) }

// words make up the text of generated values: event-like data that
// compresses about as well as real JSON payloads do, not trivially.
var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima
mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu
page_view click purchase signup login logout search share add_to_cart checkout refund
mobile desktop tablet chrome firefox safari edge android ios linux windows macos
europe america asia africa oceania north south east west central`)

// makeValues returns numValues(size) distinct values of exactly size bytes,
// the same on every run, in one backing array: a JSON-like prefix with
// per-value numbers, then words and random digits. The values are never
// written after this, so kgo (which keeps a record's value until it is
// answered) and kprod (which copies it) can both be handed them directly.
func makeValues(size int) [][]byte {
	rng := rand.New(rand.NewPCG(7, uint64(size)))
	vals := make([][]byte, numValues(size))
	backing := make([]byte, 0, len(vals)*size)
	scratch := make([]byte, 0, size+64)
	for i := range vals {
		v := scratch[:0]
		v = fmt.Appendf(v, `{"id":%d,"user":"u%06d","ts":%d,"text":"`, i, rng.IntN(1_000_000), 1_700_000_000_000+rng.Int64N(1<<30))
		for len(v) < size {
			if rng.IntN(4) == 0 {
				v = fmt.Appendf(v, "%d ", rng.IntN(100_000))
			} else {
				v = append(v, words[rng.IntN(len(words))]...)
				v = append(v, ' ')
			}
		}
		v = v[:size]
		if size >= 2 {
			v[size-2], v[size-1] = '"', '}'
		}
		start := len(backing)
		backing = append(backing, v...)
		vals[i] = backing[start:len(backing):len(backing)]
	}
	return vals
}

// makeKeys returns n distinct keys, the decimal numbers 0 to n-1 as text
// (the keys ProducerPerformance's --record-key-range writes), the same on
// every run; nil for n == 0.
func makeKeys(n int) [][]byte {
	if n <= 0 {
		return nil
	}
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = strconv.AppendInt(nil, int64(i), 10)
	}
	return keys
}

package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

// TestEncodeRequest decodes a pre-encoded request with kmsg and finds the
// batches where the ceiling stamps them, and a stamped header's sequence in
// the frame after send's copy.
func TestEncodeRequest(t *testing.T) {
	a := mustWorkload(t, "a")
	built, err := buildBatches(a, makeValues(100), nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []int16{7, 12} {
		var bs []ceilingBatch
		for p := range 3 {
			b := built[p][0]
			bs = append(bs, ceilingBatch{b: b, partition: int32(p), records: int32(b.NumRecords())})
		}
		r, err := encodeRequest(version, "bench", bs)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version = version
		// The frame: size, key, version, correlation id, client id, (v9+: tags), body.
		body := r.frame[4+2+2+4+2+len("benchcmp-ceiling"):]
		if version >= 9 {
			body = body[1:]
		}
		if err := req.ReadFrom(body); err != nil {
			t.Fatalf("v%d: kmsg cannot read the frame: %v", version, err)
		}
		if req.Acks != -1 || len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 3 || req.Topics[0].Topic != "bench" {
			t.Fatalf("v%d: decoded %+v", version, req)
		}
		var recs int64
		for i, b := range r.batches {
			if got := string(r.frame[b.at : b.at+len(b.b.Bytes())]); got != string(req.Topics[0].Partitions[i].Records) {
				t.Errorf("v%d: batch %d is not at offset %d", version, i, b.at)
			}
			recs += int64(b.records)
		}
		if recs != r.records || recs < 3*100 {
			t.Errorf("v%d: %d records, request says %d", version, recs, r.records)
		}
	}
	// Every batch of a: full to batch.size, 148 records of 100 bytes.
	for p, bs := range built {
		for i, b := range bs {
			if b.NumRecords() != 148 || b.Len() > a.batchSize {
				t.Errorf("partition %d batch %d: %d records, %d bytes", p, i, b.NumRecords(), b.Len())
			}
		}
	}
	// The latency workload has batches of every size up to maxPacedBatch.
	d := mustWorkload(t, "d")
	paced, err := buildPaced(d, makeValues(100), 3)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= maxPacedBatch; n++ {
		if bs := paced[2][n-1]; len(bs) != 2 || bs[0].NumRecords() != n || bs[1].NumRecords() != n {
			t.Fatalf("paced batches of size %d: %d, holding %d records", n, len(bs), bs[0].NumRecords())
		}
	}
}

// TestCeilingOnKfake runs the ceiling client against an in-process kfake
// that stores what it gets, for each kind of workload (throughput,
// compressed, paced single records, keyed over 12 partitions), and reads
// the logs back: every record was accepted, and each partition's batches
// carry sequences without a gap, as the broker enforces them.
func TestCeilingOnKfake(t *testing.T) {
	c := kafkatest.NewFake(t, 1)
	for _, name := range []string{"a", "c", "d", "f"} {
		t.Run(name, func(t *testing.T) {
			w := mustWorkload(t, name)
			topic := "ceiling-" + name
			parts := w.topicPartitions(3)
			c.CreateTopic(t, topic, int32(parts), 1, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := openCeilingSession(ctx, c.Addrs(), topic)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := s.plan(w, topic, makeValues(w.valueSize), makeKeys(w.keys))
			if err != nil {
				t.Fatal(err)
			}
			cr, err := startCeiling(ctx, s, pl)
			if err != nil {
				t.Fatal(err)
			}
			defer cr.close()
			rate := 0.0
			want := int64(5000)
			if w.latency {
				rate, want = 5000, 300
			}
			var sent int64
			for range 2 { // a warm-up and a measured phase, sequences continuing
				n, err := cr.phase(ctx, want, rate)
				if err != nil {
					t.Fatal(err)
				}
				if n < want {
					t.Fatalf("sent %d records, want at least %d", n, want)
				}
				sent += n
			}
			if got := cr.answered.Load(); got != sent {
				t.Errorf("%d records answered, %d sent", got, sent)
			}
			var stored int64
			for p := range parts {
				bs := kafkatest.Batches(t, c, topic, int32(p))
				if msg := kafkatest.CheckSequences(bs); msg != "" {
					t.Errorf("partition %d: %s", p, msg)
				}
				for _, b := range bs {
					stored += int64(b.Records)
					if b.ProducerID != s.producerID {
						t.Errorf("partition %d: batch of producer %d, want %d", p, b.ProducerID, s.producerID)
					}
				}
			}
			if stored != sent {
				t.Errorf("%d records stored, %d sent", stored, sent)
			}
		})
	}
}

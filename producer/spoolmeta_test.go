package producer

import (
	"errors"
	"testing"
)

func TestSpoolMetaRoundTrip(t *testing.T) {
	for _, m := range []spoolMeta{
		{kind: spoolKindBatch, topic: "t", partition: 3, records: 10, rawLen: 900, life: 77, order: 3 << 32},
		{kind: spoolKindBatch, stamped: true, topic: "orders", partition: 0, producerID: 1 << 40, epoch: 7, seq: 1 << 30, records: 1, rawLen: 70},
		{kind: spoolKindStamp, stamped: true, topic: "x", partition: 11, producerID: 5, epoch: 0, seq: 0, records: 4, of: 99},
	} {
		got, err := parseSpoolMeta(m.appendTo(nil))
		if err != nil || got != m {
			t.Fatalf("round trip of %+v: %+v, %v", m, got, err)
		}
	}
}

func FuzzSpoolMeta(f *testing.F) {
	f.Add((&spoolMeta{kind: spoolKindBatch, stamped: true, topic: "t", records: 3, rawLen: 100}).appendTo(nil))
	f.Add((&spoolMeta{kind: spoolKindStamp, stamped: true, topic: "t", records: 3, of: 1}).appendTo(nil))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseSpoolMeta(b)
		if err != nil {
			if !errors.Is(err, errSpoolMeta) {
				t.Fatalf("error %v does not wrap errSpoolMeta", err)
			}
			return
		}
		again, err := parseSpoolMeta(m.appendTo(nil))
		if err != nil || again != m {
			t.Fatalf("re-encoding %+v: %+v, %v", m, again, err)
		}
	})
}

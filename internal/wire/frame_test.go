package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// framed returns payloads as size-prefixed frames, one after the other.
func framed(payloads ...[]byte) []byte {
	var out []byte
	for _, p := range payloads {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// TestFrameReaderKeepsFrames reads small frames (carved from a slab) and
// large ones (allocated alone): a frame read earlier is never overwritten by
// a later one, since parsed responses may still point into it.
func TestFrameReaderKeepsFrames(t *testing.T) {
	var payloads [][]byte
	for i := range 2000 {
		size := 4 + i%300
		if i%97 == 0 {
			size = maxSlabFrame + 1 + i
		}
		payloads = append(payloads, bytes.Repeat([]byte{byte(i)}, size))
	}
	r := bytes.NewReader(framed(payloads...))
	var fr frameReader
	var got [][]byte
	for range payloads {
		f, err := fr.next(r, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	for i := range payloads {
		if !bytes.Equal(got[i], payloads[i]) {
			t.Fatalf("frame %d changed after later reads", i)
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("frame %d has room past its end (cap %d, len %d): an append could spill into the next", i, cap(got[i]), len(got[i]))
		}
	}
}

// TestFrameReaderAllocations: small frames cost a fraction of an
// allocation each.
func TestFrameReaderAllocations(t *testing.T) {
	in := framed(bytes.Repeat([]byte("response"), 8))
	r := bytes.NewReader(in)
	var fr frameReader
	allocs := testing.AllocsPerRun(1000, func() {
		r.Reset(in)
		if _, err := fr.next(r, 1<<20); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.1 {
		t.Fatalf("%.2f allocations per small frame, want at most 0.1", allocs)
	}
}

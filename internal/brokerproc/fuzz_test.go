package brokerproc

import (
	"errors"
	"slices"
	"testing"
)

// FuzzDecodeSpec feeds arbitrary environment values to the child's spec
// decoder: it never panics, fails only with ErrSpec, and what it accepts
// survives encoding and decoding again unchanged.
func FuzzDecodeSpec(f *testing.F) {
	f.Add(`{"brokers":1,"data_dir":"/tmp/x","topics":["a","b"],"partitions":3}`)
	f.Add(`{"ports":[9092,9093],"allow_auto_create":true}`)
	f.Add(`{"brokers":2,"ports":[1]}`)
	f.Add(`{"ports":[-1]}`)
	f.Add(`null`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, v string) {
		s, err := decodeSpec(v)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		enc, err := s.encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSpec(enc)
		if err != nil {
			t.Fatalf("re-encoded spec %s: %v", enc, err)
		}
		if !sameSpec(again, s) {
			t.Fatalf("round trip: %+v != %+v", again, s)
		}
	})
}

// sameSpec compares specs, an empty list the same as none.
func sameSpec(a, b Spec) bool {
	return a.Brokers == b.Brokers && slices.Equal(a.Ports, b.Ports) && a.DataDir == b.DataDir &&
		slices.Equal(a.Topics, b.Topics) && a.Partitions == b.Partitions && a.AllowAutoCreate == b.AllowAutoCreate
}

package brokerproc

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
)

// FuzzDecodeSpec feeds arbitrary environment values to the child's spec
// decoder: it never panics, fails only with ErrSpec, and what it accepts
// survives encoding and decoding again unchanged.
func FuzzDecodeSpec(f *testing.F) {
	f.Add(`{"brokers":1,"data_dir":"/tmp/x","topics":["a","b"],"partitions":3}`)
	f.Add(`{"ports":[9092,9093],"allow_auto_create":true}`)
	f.Add(`{"topics":["bench"],"partitions":3,"blackhole":true}`)
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
		slices.Equal(a.Topics, b.Topics) && a.Partitions == b.Partitions && a.AllowAutoCreate == b.AllowAutoCreate &&
		a.Blackhole == b.Blackhole
}

// FuzzParseListening checks the reader of the child's ready line never
// panics, fails only with ErrStart, and accepts only loopback addresses,
// each of which also parses alone, with its port.
func FuzzParseListening(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9092", "[::1]:1,127.0.0.2:65535", "8.8.8.8:53", ":9092", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		addrs, ports, err := parseListening(list)
		if err != nil {
			if !errors.Is(err, ErrStart) {
				t.Fatalf("parseListening(%q): %v does not wrap ErrStart", list, err)
			}
			return
		}
		if len(addrs) == 0 || len(ports) != len(addrs) {
			t.Fatalf("parseListening(%q) accepted %d addresses and %d ports", list, len(addrs), len(ports))
		}
		for i, a := range addrs {
			again, port, err := parseListening(a)
			if err != nil || len(again) != 1 || port[0] != ports[i] {
				t.Fatalf("accepted address %q (port %d) does not parse alone: %v", a, ports[i], err)
			}
			host, p, _ := net.SplitHostPort(a)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || p != strconv.Itoa(ports[i]) {
				t.Fatalf("accepted %q: not loopback, or port %d", a, ports[i])
			}
		}
	})
}

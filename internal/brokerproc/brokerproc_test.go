package brokerproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/kafkatest"
)

// TestBrokerProcess is the child's side: it runs only when Start re-executes
// this binary.
func TestBrokerProcess(t *testing.T) {
	if !IsChild() {
		t.Skip("runs only as the child of brokerproc.Start")
	}
	if err := Serve(); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, spec Spec) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := Start(ctx, "TestBrokerProcess", spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func produce(t *testing.T, addrs []string, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i < to; i++ {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

// consumeAll reads topic back with kafkatest.ReadRecords (franz-go's
// consumer) until want records arrived, and a moment more, and returns
// their values; fewer in 30 s fails the test.
func consumeAll(t *testing.T, addrs []string, topic string, want int) []string {
	t.Helper()
	var out []string
	for _, r := range kafkatest.ReadRecords(t, addrs, topic, want, kafkatest.ReadOptions{}) {
		out = append(out, string(r.Value))
	}
	return out
}

func TestRestartKeepsData(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*Proc) error
	}{
		{"stop", func(p *Proc) error { return p.Stop(context.Background()) }},
		{"kill", (*Proc).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{DataDir: t.TempDir(), Topics: []string{"t"}, Partitions: 1}
			p := start(t, spec)
			if len(p.Addrs()) != 1 || len(p.Ports()) != 1 || p.Pid() <= 0 {
				t.Fatalf("addrs %v ports %v pid %d", p.Addrs(), p.Ports(), p.Pid())
			}
			produce(t, p.Addrs(), "t", 0, 10)
			if err := tc.down(p); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Done():
			default:
				t.Fatal("the child is still running")
			}
			if c, err := net.DialTimeout("tcp", p.Addrs()[0], time.Second); err == nil {
				c.Close()
				t.Fatal("the port still accepts connections")
			}
			spec.Ports = p.Ports()
			again := start(t, spec)
			if again.Addrs()[0] != p.Addrs()[0] {
				t.Fatalf("restarted on %s, was %s", again.Addrs()[0], p.Addrs()[0])
			}
			produce(t, again.Addrs(), "t", 10, 20)
			got := consumeAll(t, again.Addrs(), "t", 20)
			for i, v := range got {
				if v != fmt.Sprint(i) {
					t.Fatalf("record %d is %q", i, v)
				}
			}
		})
	}
}

// TestBlackhole checks a blackhole cluster acknowledges records, with
// offsets, and keeps none of them.
func TestBlackhole(t *testing.T) {
	p := start(t, Spec{Topics: []string{"t"}, Blackhole: true})
	produce(t, p.Addrs(), "t", 0, 10)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addrs()...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n := 0
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(*kgo.Record) { n++ })
	}
	if n != 0 {
		t.Fatalf("read %d records back from a blackhole", n)
	}
}

func TestParseListening(t *testing.T) {
	for _, tc := range []struct {
		list  string
		want  []string
		ports []int
	}{
		{list: "127.0.0.1:9092\n", want: []string{"127.0.0.1:9092"}, ports: []int{9092}},
		{list: "127.0.0.1:1,[::1]:2", want: []string{"127.0.0.1:1", "[::1]:2"}, ports: []int{1, 2}},
		{list: "10.0.0.1:9092"}, // not loopback
		{list: "localhost:9092"},
		{list: "127.0.0.1:0"},
		{list: "127.0.0.1:70000"},
		{list: "127.0.0.1"},
		{list: "127.0.0.1:9092,"},
		{list: ""},
	} {
		got, ports, err := parseListening(tc.list)
		if tc.want == nil {
			if !errors.Is(err, ErrStart) {
				t.Errorf("parseListening(%q) = %v, %v; want ErrStart", tc.list, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) || !slices.Equal(ports, tc.ports) {
			t.Errorf("parseListening(%q) = %v, %v, %v; want %v, %v", tc.list, got, ports, err, tc.want, tc.ports)
		}
	}
}

func TestMultipleBrokers(t *testing.T) {
	p := start(t, Spec{Brokers: 3, Topics: []string{"a", "b"}, Partitions: 3})
	if len(p.Addrs()) != 3 {
		t.Fatalf("%d addresses, want 3", len(p.Addrs()))
	}
	produce(t, p.Addrs()[:1], "b", 0, 5)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"negative brokers", Spec{Brokers: -1}},
		{"negative partitions", Spec{Partitions: -2}},
		{"ports and brokers disagree", Spec{Brokers: 2, Ports: []int{1}}},
		{"port out of range", Spec{Ports: []int{70000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Start(context.Background(), "TestBrokerProcess", tc.spec); !errors.Is(err, ErrSpec) {
				t.Fatalf("Start: %v, want ErrSpec", err)
			}
		})
	}
	if _, err := Start(context.Background(), "", Spec{}); !errors.Is(err, ErrSpec) {
		t.Fatalf("Start without a helper: %v, want ErrSpec", err)
	}
	if _, err := decodeSpec("{not json"); !errors.Is(err, ErrSpec) {
		t.Fatalf("decodeSpec: %v, want ErrSpec", err)
	}
}

func TestServeOutsideChild(t *testing.T) {
	if IsChild() {
		t.Skip("this is the child")
	}
	if err := Serve(); !errors.Is(err, ErrNotChild) {
		t.Fatalf("Serve: %v, want ErrNotChild", err)
	}
}

func TestStartFailsWhenTheChildDoesNotServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := Start(ctx, "TestNoSuchHelper", Spec{})
	if !errors.Is(err, ErrStart) {
		t.Fatalf("Start: %v, want ErrStart", err)
	}
}

func TestStartFailsWhenThePortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := Start(ctx, "TestBrokerProcess", Spec{Ports: []int{port}}); !errors.Is(err, ErrStart) {
		t.Fatalf("Start: %v, want ErrStart", err)
	}
}

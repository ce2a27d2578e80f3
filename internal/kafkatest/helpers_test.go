package kafkatest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"go/build"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

// metadataWith sends one Metadata request through a kgo client with opts to
// c and returns its error.
func metadataWith(c *kfake.Cluster, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.RequestRetries(0),
		kgo.DialTimeout(2 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	return err
}

// TestPKI: brokers with the server config take clients that trust the CA
// (and, for mutual TLS, present the client certificate), and refuse those
// that trust another CA or bring no certificate; the CA's PEM file holds
// the CA the pool trusts.
func TestPKI(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	one := kafkatest.NewFake(t, 1, kfake.TLS(pki.ServerTLS(false))).Kfake()
	mutual := kafkatest.NewFake(t, 1, kfake.TLS(pki.ServerTLS(true))).Kfake()
	if err := metadataWith(one, kgo.DialTLSConfig(pki.ClientTLS(false))); err != nil {
		t.Fatalf("a client trusting the CA: %v", err)
	}
	if err := metadataWith(mutual, kgo.DialTLSConfig(pki.ClientTLS(true))); err != nil {
		t.Fatalf("a client with the client certificate: %v", err)
	}
	if err := metadataWith(mutual, kgo.DialTLSConfig(pki.ClientTLS(false))); err == nil {
		t.Fatal("mutual TLS took a client without a certificate")
	}
	if err := metadataWith(one, kgo.DialTLSConfig(kafkatest.NewPKI(t).ClientTLS(false))); err == nil {
		t.Fatal("a client trusting another CA got in")
	}
	ca, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pki.Client}}
	fromFile.RootCAs = pki.Pool.Clone()
	if !fromFile.RootCAs.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no certificate", pki.CAFile)
	}
	if key, err := os.ReadFile(pki.ClientFile); err != nil || !strings.Contains(string(key), "PRIVATE KEY") || !strings.Contains(string(key), "CERTIFICATE") {
		t.Fatalf("%s: %v, want the client certificate and its key", pki.ClientFile, err)
	}
}

// TestSASLMechanisms: each mechanism's credentials get a client into a
// cluster with that user; a wrong password does not.
func TestSASLMechanisms(t *testing.T) {
	for _, m := range kafkatest.SASLMechanisms {
		t.Run(m.Name, func(t *testing.T) {
			c := kafkatest.NewFake(t, 1, kfake.EnableSASL(), kfake.Superuser(m.Name, "alice", "pw")).Kfake()
			if err := metadataWith(c, kgo.SASL(m.Auth("alice", "pw"))); err != nil {
				t.Fatalf("right password: %v", err)
			}
			if err := metadataWith(c, kgo.SASL(m.Auth("alice", "guess"))); err == nil {
				t.Fatal("a wrong password got in")
			}
		})
	}
}

// recordingTB records failures instead of failing the test; a Fatal ends
// the calling goroutine's function through a panic the caller recovers.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, format)
}
func (r *recordingTB) Error(args ...any) { r.Errorf("%v", args...) }
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r)
}

// failures runs f with r and returns what failed.
func (r *recordingTB) failures(f func()) []string {
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		f()
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// parkedUntil blocks until stop is closed: a goroutine with a name to find.
func parkedUntil(stop chan struct{}) { <-stop }

// TestLeakChecks: LeakCheck and WaitGoroutinesGone fail while a goroutine
// started after the snapshot runs, and pass once it ended.
func TestLeakChecks(t *testing.T) {
	verify := kafkatest.LeakCheck(t)
	early := &recordingTB{TB: t}
	verifyEarly := kafkatest.LeakCheck(early) // its snapshot misses the goroutine
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { parkedUntil(stop); close(done) }()
	stopped := sync.OnceFunc(func() { close(stop); <-done })
	t.Cleanup(stopped)
	const name = "kafkatest_test.parkedUntil"
	n := 0
	for deadline := time.Now().Add(2 * time.Second); n != 1 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n = len(kafkatest.Goroutines(name)) // the goroutine may not run yet
	}
	if n != 1 {
		t.Fatalf("Goroutines found %d parked goroutines, want 1", n)
	}
	late := &recordingTB{TB: t}
	if got := late.failures(func() { kafkatest.LeakCheck(late)() }); len(got) != 0 {
		t.Fatalf("a snapshot taken with the goroutine running failed: %v", got)
	}
	if got := early.failures(func() { verifyEarly() }); len(got) == 0 {
		t.Fatal("LeakCheck passed with a goroutine left running")
	}
	r := &recordingTB{TB: t}
	if got := r.failures(func() { kafkatest.WaitGoroutinesGone(r, name, 100*time.Millisecond) }); len(got) == 0 {
		t.Fatal("WaitGoroutinesGone passed with a goroutine left running")
	}
	stopped()
	kafkatest.WaitGoroutinesGone(t, name, 2*time.Second)
	verify()
}

// TestContext: the context ends by its deadline.
func TestContext(t *testing.T) {
	ctx := kafkatest.Context(t, 10*time.Millisecond)
	select {
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("ended with %v", ctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the context outlived its deadline")
	}
}

// TestFakeStopStart: Stop and Start say why they cannot act, and a broker
// stopped and started again listens on its old address.
func TestFakeStopStart(t *testing.T) {
	f := kafkatest.NewFake(t, 3)
	addr := f.Addr(0)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{f.Stop(7), "no broker 7"},
		{f.Start(0), "broker 0 is not stopped"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Fatalf("got %v, want %q", tc.err, tc.want)
		}
	}
	if err := f.Stop(0); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(0); err == nil || err.Error() != "broker 0 is stopped already" {
		t.Fatalf("stopping a stopped broker: %v", err)
	}
	if len(f.Addrs()) != 2 || f.Addr(0) != addr {
		t.Fatalf("after the stop: addrs %v, broker 0 at %q (was %s)", f.Addrs(), f.Addr(0), addr)
	}
	if err := f.Start(0); err != nil {
		t.Fatal(err)
	}
	if len(f.Addrs()) != 3 || f.Addr(0) != addr {
		t.Fatalf("after the start: addrs %v, broker 0 at %q (was %s)", f.Addrs(), f.Addr(0), addr)
	}
}

// TestTxnFlows: the classic flow's cluster answers EndTxn at v3 at most
// (Kafka 3.6), the v2 one above it.
func TestTxnFlows(t *testing.T) {
	var names []string
	kafkatest.TxnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		names = append(names, t.Name())
		c := kafkatest.NewFake(t, 1, opts...)
		endTxn := int16(-1)
		for _, k := range kafkatest.APIVersions(t, c).ApiKeys {
			if k.ApiKey == int16(kmsg.EndTxn) {
				endTxn = k.MaxVersion
			}
		}
		if classic := strings.HasSuffix(t.Name(), "/classic"); classic != (endTxn <= 3) {
			t.Fatalf("EndTxn up to v%d", endTxn)
		}
	})
	if len(names) != 2 {
		t.Fatalf("ran %v", names)
	}
}

// TestImportsNoKprodPackage keeps kafkatest usable by the in-package tests
// of every kprod package: importing one of them here would make an import
// cycle of those tests.
func TestImportsNoKprodPackage(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/kprod/kprod/") {
			t.Errorf("kafkatest imports %s; move what needs it to a subpackage, as kprodtest", imp)
		}
	}
}

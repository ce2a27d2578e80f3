package producer

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/wire"
)

// checkSecureRoundTrip sends records through p and reads them back with kgo
// configured by read: every one written once, in order.
func checkSecureRoundTrip(t *testing.T, c *kfake.Cluster, p *Producer, read ...kgo.Opt) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const n = 300
	for i := range n {
		rec := l.record("sec", i)
		rec.Partition, rec.PinPartition = int32(i%3), true
		if i == n/2 {
			md, err := p.SendSync(ctx, rec)
			l.callback(i)(md, err)
			continue
		}
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(30 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "sec", n, read...))
}

// checkRefused sends one record through p and checks it fails within
// max.block (given) with an error wrapping every one of want.
func checkRefused(t *testing.T, p *Producer, maxBlock time.Duration, want ...error) {
	t.Helper()
	_ = refusal(t, p, maxBlock, want...)
}

// refusal is checkRefused returning the error.
func refusal(t *testing.T, p *Producer, maxBlock time.Duration, want ...error) error {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	start := time.Now()
	_, err := p.SendSync(ctx, &Record{Topic: "sec", Value: []byte("refused")})
	took := time.Since(start)
	if err == nil {
		t.Fatal("the record was written")
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("got %v; want it to wrap %v", err, w)
		}
	}
	if took > maxBlock+2*time.Second {
		t.Fatalf("refused after %v, max.block is %v", took, maxBlock)
	}
	t.Logf("refused after %v: %v", took.Round(time.Millisecond), err)
	return err
}

// refuseBlock is max.block for tests that expect a typed refusal (TLS,
// SASL): the refusal ends Send as soon as a dial fails, so this bound only
// matters on a machine so loaded that the first dial takes seconds.
const refuseBlock = 10 * time.Second

// checkCause checks that a refusal names why no broker could be reached.
func checkCause(t *testing.T, err, cause error) {
	t.Helper()
	if !errors.Is(err, cause) {
		t.Fatalf("%v does not say why: want it to wrap %v", err, cause)
	}
}

func TestTLS(t *testing.T) {
	k := kafkatest.NewPKI(t)
	const maxBlock = time.Second
	t.Run("trusted CA", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.TLS(k.ServerTLS(false)))
		p := newTestProducer(t, c, WithTLS(k.ClientTLS(false)))
		checkSecureRoundTrip(t, c, p, kgo.DialTLSConfig(k.ClientTLS(false)))
	})
	unknownCA := func(t *testing.T, opt Opt) error {
		c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.TLS(k.ServerTLS(false)))
		p := newTestProducer(t, c, opt, WithMaxBlock(refuseBlock))
		return refusal(t, p, refuseBlock, ErrTLS)
	}
	t.Run("unknown CA", func(t *testing.T) {
		unknownCA(t, WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	})
	t.Run("verification is on by default", func(t *testing.T) {
		unknownCA(t, WithProperties(map[string]string{"security.protocol": "SSL"}))
	})
	t.Run("unknown CA error names the cause", func(t *testing.T) {
		checkCause(t, unknownCA(t, WithTLS(&tls.Config{MinVersion: tls.VersionTLS12})), wire.ErrTLS)
	})
	t.Run("client certificate required and given", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.TLS(k.ServerTLS(true)))
		p := newTestProducer(t, c, WithTLS(k.ClientTLS(true)))
		checkSecureRoundTrip(t, c, p, kgo.DialTLSConfig(k.ClientTLS(true)))
	})
	t.Run("client certificate required, none given", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.TLS(k.ServerTLS(true)))
		p := newTestProducer(t, c, WithTLS(k.ClientTLS(false)), WithMaxBlock(maxBlock))
		checkRefused(t, p, maxBlock, ErrMaxBlock)
	})
	tlsToPlain := func(t *testing.T) error {
		c := newCluster(t, kfake.SeedTopics(3, "sec"))
		p := newTestProducer(t, c, WithTLS(k.ClientTLS(false)), WithMaxBlock(refuseBlock), WithDialTimeout(500*time.Millisecond))
		return refusal(t, p, refuseBlock, ErrTLS)
	}
	t.Run("TLS to a plaintext port", func(t *testing.T) { tlsToPlain(t) })
	t.Run("TLS to a plaintext port error names the cause", func(t *testing.T) {
		checkCause(t, tlsToPlain(t), wire.ErrTLS)
	})
	t.Run("plaintext to a TLS port", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.TLS(k.ServerTLS(false)))
		p := newTestProducer(t, c, WithMaxBlock(maxBlock), WithDialTimeout(500*time.Millisecond))
		checkRefused(t, p, maxBlock, ErrMaxBlock)
	})
}

func TestSASL(t *testing.T) {
	k := kafkatest.NewPKI(t)
	for _, m := range kafkatest.SASLMechanisms {
		t.Run(m.Name, func(t *testing.T) {
			t.Run("right password", func(t *testing.T) {
				c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.EnableSASL(), kfake.Superuser(m.Name, "alice", "s3cret"))
				p := newTestProducer(t, c, WithSASL(m.Auth("alice", "s3cret")))
				checkSecureRoundTrip(t, c, p, kgo.SASL(m.Auth("alice", "s3cret")))
			})
			wrong := func(t *testing.T) error {
				c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.EnableSASL(), kfake.Superuser(m.Name, "alice", "s3cret"))
				p := newTestProducer(t, c, WithSASL(m.Auth("alice", "guess")), WithMaxBlock(refuseBlock))
				return refusal(t, p, refuseBlock, ErrSASL)
			}
			t.Run("wrong password", func(t *testing.T) { wrong(t) })
			t.Run("wrong password error names the cause", func(t *testing.T) {
				checkCause(t, wrong(t), wire.ErrSASL)
			})
			t.Run("over TLS", func(t *testing.T) {
				c := newCluster(t, kfake.SeedTopics(3, "sec"), kfake.EnableSASL(), kfake.Superuser(m.Name, "alice", "s3cret"),
					kfake.TLS(k.ServerTLS(false)))
				p := newTestProducer(t, c, WithSASL(m.Auth("alice", "s3cret")), WithTLS(k.ClientTLS(false)))
				checkSecureRoundTrip(t, c, p, kgo.SASL(m.Auth("alice", "s3cret")), kgo.DialTLSConfig(k.ClientTLS(false)))
			})
		})
	}
}

// TestSecurityProperties sets TLS and SASL up through the Java property names,
// with the CA and the client key pair in PEM files.
func TestSecurityProperties(t *testing.T) {
	k := kafkatest.NewPKI(t)
	jaas := func(module string) string {
		return "org.apache.kafka.common.security." + module + ` required username="alice" password="s3 \"cret\"";`
	}
	const pass = `s3 "cret"`
	for _, tc := range []struct {
		name    string
		cluster []kfake.Opt
		props   map[string]string
		read    []kgo.Opt
	}{
		{"SSL with a truststore", []kfake.Opt{kfake.TLS(k.ServerTLS(false))},
			map[string]string{"security.protocol": "SSL", "ssl.truststore.location": k.CAFile, "ssl.truststore.type": "PEM"},
			[]kgo.Opt{kgo.DialTLSConfig(k.ClientTLS(false))}},
		{"SSL with a keystore for mutual TLS", []kfake.Opt{kfake.TLS(k.ServerTLS(true))},
			map[string]string{"security.protocol": "SSL", "ssl.truststore.location": k.CAFile,
				"ssl.keystore.location": k.ClientFile, "ssl.keystore.type": "PEM"},
			[]kgo.Opt{kgo.DialTLSConfig(k.ClientTLS(true))}},
		{"SASL_PLAINTEXT PLAIN", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", pass)},
			map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas("plain.PlainLoginModule")},
			[]kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: pass}.AsMechanism())}},
		{"SASL_PLAINTEXT SCRAM-SHA-256", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "alice", pass)},
			map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256", "sasl.jaas.config": jaas("scram.ScramLoginModule")},
			[]kgo.Opt{kgo.SASL(scram.Auth{User: "alice", Pass: pass}.AsSha256Mechanism())}},
		{"SASL_SSL SCRAM-SHA-512", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "alice", pass), kfake.TLS(k.ServerTLS(false))},
			map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": jaas("scram.ScramLoginModule"),
				"ssl.truststore.location": k.CAFile},
			[]kgo.Opt{kgo.SASL(scram.Auth{User: "alice", Pass: pass}.AsSha512Mechanism()), kgo.DialTLSConfig(k.ClientTLS(false))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, append([]kfake.Opt{kfake.SeedTopics(3, "sec")}, tc.cluster...)...)
			p := newTestProducer(t, c, WithProperties(tc.props))
			checkSecureRoundTrip(t, c, p, tc.read...)
		})
	}
}

// TestAuthorization runs the producer as users the cluster's ACLs restrict.
func TestAuthorization(t *testing.T) {
	allow := func(topic string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := newCluster(t, kfake.SeedTopics(3, "sec", "readonly", "hidden"), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "alice", "pw", allow("sec", kmsg.ACLOperationWrite), allow("sec", kmsg.ACLOperationDescribe),
			allow("readonly", kmsg.ACLOperationDescribe)),
		kfake.User("PLAIN", "bob", "pw", allow("sec", kmsg.ACLOperationDescribe)))
	admin := kgo.SASL(plain.Auth{User: "admin", Pass: "admin"}.AsMechanism())

	t.Run("denied topics among allowed records", func(t *testing.T) {
		p := newTestProducer(t, c, WithSASL(plain.Auth{User: "alice", Pass: "pw"}.AsMechanism()), WithMaxBlock(2*time.Second))
		ctx := ctxTimeout(t, 30*time.Second)
		l := newLedger(t)
		id := 0
		good := func(n int) {
			for range n {
				rec := l.record("sec", id)
				rec.Partition, rec.PinPartition = int32(id%3), true
				p.Send(ctx, rec, l.callback(id))
				id++
			}
		}
		good(50)
		// Described but not writable: the broker refuses the produce.
		_, err := p.SendSync(ctx, &Record{Topic: "readonly", Value: []byte("x")})
		if !errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, ErrFatal) {
			t.Fatalf("write to a read-only topic: %v; want TOPIC_AUTHORIZATION_FAILED, not fatal", err)
		}
		good(50)
		// Not even described: refused with the metadata answer.
		start := time.Now()
		_, err = p.SendSync(ctx, &Record{Topic: "hidden", Value: []byte("x")})
		if !errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, ErrFatal) {
			t.Fatalf("write to a hidden topic: %v; want TOPIC_AUTHORIZATION_FAILED, not fatal", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("an authorization error took %v (max.block 2s): it is not retriable", d)
		}
		good(50)
		l.wait(30 * time.Second)
		if f := l.failed(); f != 0 {
			t.Fatalf("%d allowed records failed, e.g. %v", f, firstErr(l))
		}
		l.checkLog(consume(t, c, "sec", id, admin))
	})
	t.Run("no write permission anywhere", func(t *testing.T) {
		// An idempotent producer needs a producer id, which needs write on
		// some topic (or IDEMPOTENT_WRITE): the cluster refuses it.
		p := newTestProducer(t, c, WithSASL(plain.Auth{User: "bob", Pass: "pw"}.AsMechanism()), WithMaxBlock(2*time.Second))
		ctx := ctxTimeout(t, 30*time.Second)
		_, err := p.SendSync(ctx, &Record{Topic: "sec", Value: []byte("x")})
		if !errors.Is(err, kerr.ClusterAuthorizationFailed) || !errors.Is(err, ErrFatal) {
			t.Fatalf("got %v; want CLUSTER_AUTHORIZATION_FAILED and ErrFatal", err)
		}
		if _, err := p.SendSync(ctx, &Record{Topic: "sec", Value: []byte("y")}); !errors.Is(err, ErrFatal) {
			t.Fatalf("a record after the fatal error: %v", err)
		}
	})
}

package producer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
)

// propertyNames is every property WithProperties knows (applied or with
// no effect), sorted, so fuzz input can name one by index.
func propertyNames() []string {
	names := make([]string, 0, len(properties)+len(ignoredProperties))
	for k := range properties {
		names = append(names, k)
	}
	for k := range ignoredProperties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// fuzzFiles are the only files the fuzzer may point *.location properties
// at: a CA, a key pair, garbage, an empty file and a missing path (never
// /dev/zero and friends, which would hang the read).
type fuzzFiles struct{ paths []string }

func newFuzzFiles(f *testing.F) *fuzzFiles {
	dir := f.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			f.Fatal(err)
		}
		return p
	}
	pki := kafkatest.NewPKI(f)
	return &fuzzFiles{paths: []string{
		pki.CAFile,
		pki.ClientFile,
		write("garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")),
		write("empty.pem", nil),
		filepath.Join(dir, "missing.pem"),
	}}
}

// propsFrom decodes fuzz input into properties: one "key=value" per line; a
// key written "#n" names the n-th known property.
func propsFrom(raw string, names []string, files *fuzzFiles) map[string]string {
	props := map[string]string{}
	for line := range strings.SplitSeq(raw, "\n") {
		k, v, _ := strings.Cut(line, "=")
		if rest, ok := strings.CutPrefix(k, "#"); ok && rest != "" {
			n := 0
			for _, c := range rest {
				n = (n*10 + int(c-'0')) % 1000
			}
			if n < 0 {
				n = -n
			}
			k = names[n%len(names)]
		}
		if strings.HasSuffix(k, ".location") {
			v = files.paths[len(v)%len(files.paths)]
		}
		props[k] = v
	}
	return props
}

// FuzzWithProperties hands New arbitrary Java properties: it never panics,
// and either builds a producer (which then closes promptly) or fails with
// an error wrapping ErrInvalidConfig.
func FuzzWithProperties(f *testing.F) {
	for _, seed := range []string{
		"",
		"bootstrap.servers=127.0.0.1:1\nacks=all\nlinger.ms=5\nbatch.size=16384\ncompression.type=zstd",
		"acks=-1\nenable.idempotence=true\nmax.in.flight.requests.per.connection=5\nretries=2147483647",
		"acks=1\nenable.idempotence=true",
		"acks=0\nretries=0\nmax.in.flight.requests.per.connection=1",
		"delivery.timeout.ms=1000\nrequest.timeout.ms=2000\nlinger.ms=10",
		"security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=x required username=\"u\" password=\"p\";\nssl.truststore.location=a",
		"security.protocol=SSL\nssl.truststore.location=ab\nssl.endpoint.identification.algorithm=",
		"security.protocol=SSL\nssl.keystore.location=abc\nssl.keystore.type=PKCS12",
		"compression.gzip.level=10\ncompression.type=gzip",
		"compression.zstd.level=-1000\ncompression.lz4.level=17",
		"partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner\npartitioner.ignore.keys=TRUE",
		"transactional.id=tx\ntransaction.timeout.ms=0",
		"buffer.memory=9223372036854775807\nmax.request.size=2147483647\nmax.block.ms=-1",
		"linger.ms=9223372036854775807\nmetadata.max.age.ms=1",
		"key.serializer=org.apache.kafka.common.serialization.StringSerializer\nvalue.serializer=x",
		"#0=1\n#7=x\n#13=\n#21=all\n#33=-5",
		"no.such.property=1",
		"bootstrap.servers= , ,\nclient.id=",
		"lingr.ms=5\nbatch.siz=1\nacks=2",
		"send.buffer.bytes=-1\nreceive.buffer.bytes=65536\nconnections.max.idle.ms=540000\nmetadata.max.idle.ms=300000",
		"client.dns.lookup=use_all_dns_ips\ninterceptor.classes=com.example.Audit\nmetric.reporters=",
		"socket.connection.setup.timeout.ms=10000\nsocket.connection.setup.timeout.max.ms=0",
		"security.protocol=SSL\nssl.enabled.protocols=TLSv1.3,TLSv1.2\nssl.cipher.suites=TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"security.protocol=SSL\nssl.keystore.key=-----BEGIN PRIVATE KEY-----\nssl.truststore.certificates=x",
		"transaction.two.phase.commit.enable=true\nconfig.providers=file\nmetadata.recovery.strategy=sometimes",
	} {
		f.Add(seed)
	}
	names := propertyNames()
	files := newFuzzFiles(f)
	f.Fuzz(func(t *testing.T, raw string) {
		props := propsFrom(raw, names, files)
		p, err := New(WithBrokers("127.0.0.1:1"), WithProperties(props))
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New(%q): %v does not wrap ErrInvalidConfig", props, err)
			}
			if p != nil {
				t.Fatal("New returned a producer with its error")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := p.Close(ctx); err != nil {
			t.Fatalf("Close of an idle producer built from %q: %v", props, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Close of an idle producer took %v", d)
		}
	})
}

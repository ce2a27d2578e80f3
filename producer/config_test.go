package producer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/batch"
)

func TestDefaultsAreJavas(t *testing.T) {
	c := defaultConfig()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.acks != AcksAll || c.batchSize != 16384 || c.linger != 5*time.Millisecond || c.bufferMemory != 32<<20 ||
		c.maxBlock != time.Minute || c.maxRequestSize != 1<<20 || c.requestTimeout != 30*time.Second ||
		c.deliveryTimeout != 2*time.Minute || c.retryBackoff != 100*time.Millisecond || c.retryBackoffMax != time.Second ||
		c.maxInFlight != 5 || c.metadataMaxAge != 5*time.Minute || !c.idempotence || !c.adaptive ||
		c.metadataMaxIdle != 5*time.Minute || c.connMaxIdle != 9*time.Minute {
		t.Fatalf("defaults differ from the Java producer's: %+v", c)
	}
}

func TestInvalidOptionsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		opt  Opt
		name string
	}{
		{WithAcks(2), "acks"},
		{WithBatchSize(-1), "batch.size"},
		{WithLinger(-time.Second), "linger.ms"},
		{WithBufferMemory(0), "buffer.memory"},
		{WithMaxBlock(-1), "max.block.ms"},
		{WithMaxRequestSize(10), "max.request.size"},
		{WithRequestTimeout(0), "request.timeout.ms"},
		{WithDeliveryTimeout(time.Second), "delivery.timeout.ms"},
		{WithRetries(-1), "retries"},
		{WithRetryBackoff(time.Second, time.Millisecond), "retry.backoff.max.ms"},
		{WithMaxInFlight(0), "max.in.flight.requests.per.connection"},
		{WithCompressionLevel(CompressionGzip, 42), "compression.gzip.level"},
		{WithBrokers(), "bootstrap.servers"},
		{WithBrokers("nohost"), "bootstrap.servers"},
		{WithTransactionTimeout(0), "transaction.timeout.ms"},
		{WithMetadataMaxAge(0), "metadata.max.age.ms"},
		{WithMetadataMaxIdle(0), "metadata.max.idle.ms"},
	} {
		_, err := New(WithBrokers("localhost:9092"), tc.opt)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}

func TestIdempotenceConflicts(t *testing.T) {
	// Explicitly asked for: a conflict is an error naming both settings.
	for _, opt := range []Opt{WithAcks(AcksLeader), WithRetries(0), WithMaxInFlight(6)} {
		_, err := New(WithIdempotence(true), opt)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "enable.idempotence") {
			t.Errorf("got %v", err)
		}
	}
	// Left to the default: idempotence quietly steps aside.
	c := defaultConfig()
	WithAcks(AcksLeader)(&c)
	if err := c.validate(); err != nil || c.idempotence {
		t.Fatalf("err %v, idempotence %v", err, c.idempotence)
	}
	// A transactional id needs idempotence.
	_, err := New(WithTransactionalID("tx"), WithIdempotence(false))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
}

func TestWithProperties(t *testing.T) {
	c := defaultConfig()
	WithProperties(map[string]string{
		"bootstrap.servers":                     "a:1, b:2",
		"client.id":                             "svc",
		"acks":                                  "1",
		"batch.size":                            "32768",
		"linger.ms":                             "20",
		"buffer.memory":                         "1048576",
		"max.block.ms":                          "1000",
		"max.request.size":                      "500000",
		"compression.type":                      "zstd",
		"compression.zstd.level":                "7",
		"request.timeout.ms":                    "5000",
		"delivery.timeout.ms":                   "60000",
		"retries":                               "3",
		"retry.backoff.ms":                      "50",
		"retry.backoff.max.ms":                  "500",
		"max.in.flight.requests.per.connection": "2",
		"enable.idempotence":                    "false",
		"partitioner.ignore.keys":               "true",
		"partitioner.adaptive.partitioning.enable": "false",
		"metadata.max.age.ms":                      "10000",
		"metadata.max.idle.ms":                     "60000",
		"connections.max.idle.ms":                  "120000",
		"key.serializer":                           "org.apache.kafka.common.serialization.StringSerializer",
	})(&c)
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.brokers, ",") != "a:1,b:2" || c.clientID != "svc" || c.acks != AcksLeader || c.batchSize != 32768 ||
		c.linger != 20*time.Millisecond || c.bufferMemory != 1<<20 || c.maxBlock != time.Second ||
		c.maxRequestSize != 500000 || c.codec != batch.Zstd || c.level() != 7 || c.requestTimeout != 5*time.Second ||
		c.deliveryTimeout != time.Minute || c.retries != 3 || c.retryBackoff != 50*time.Millisecond ||
		c.retryBackoffMax != 500*time.Millisecond || c.maxInFlight != 2 || c.idempotence || !c.ignoreKeys ||
		c.adaptive || c.metadataMaxAge != 10*time.Second || c.metadataMaxIdle != time.Minute || c.connMaxIdle != 2*time.Minute {
		t.Fatalf("properties not applied: %+v", c)
	}
}

// TestIdleProperties: the Java idle settings map onto the options, with
// Java's rules: connections.max.idle.ms -1 (and 0 here) keeps connections,
// metadata.max.idle.ms must be at least 5000.
func TestIdleProperties(t *testing.T) {
	for v, want := range map[string]time.Duration{"-1": -time.Millisecond, "0": 0, "540000": 9 * time.Minute} {
		c := defaultConfig()
		WithProperties(map[string]string{"connections.max.idle.ms": v})(&c)
		if err := c.validate(); err != nil || c.connMaxIdle != want {
			t.Errorf("connections.max.idle.ms=%s: %v, %v; want %v", v, err, c.connMaxIdle, want)
		}
	}
	for _, v := range []string{"4999", "-1", "0", "x"} {
		_, err := New(WithProperties(map[string]string{"metadata.max.idle.ms": v}))
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "metadata.max.idle.ms") {
			t.Errorf("metadata.max.idle.ms=%s: got %v", v, err)
		}
	}
	c := defaultConfig()
	WithProperties(map[string]string{"metadata.max.idle.ms": "5000"})(&c)
	if err := c.validate(); err != nil || c.metadataMaxIdle != 5*time.Second {
		t.Fatalf("metadata.max.idle.ms=5000: %v, %v", err, c.metadataMaxIdle)
	}
	c = defaultConfig()
	WithMetadataMaxIdle(-1)(&c)
	WithConnectionsMaxIdle(0)(&c)
	if err := c.validate(); err != nil {
		t.Fatalf("negative metadata idle and zero connection idle (both off): %v", err)
	}
}

func TestWithPropertiesErrorsNameTheKey(t *testing.T) {
	for key, val := range map[string]string{
		"no.such.setting":         "1",
		"linger.ms":               "soon",
		"acks":                    "2",
		"enable.idempotence":      "yes",
		"compression.type":        "brotli",
		"security.protocol":       "CARRIER_PIGEON",
		"sasl.mechanism":          "GSSAPI",
		"compression.lz4.level":   "x",
		"ssl.truststore.type":     "JKS",
		"partitioner.class":       "com.example.Mine",
		"max.request.size":        "9999999999999",
		"sasl.jaas.config":        "nothing here",
		"request.timeout.ms":      "-",
		"delivery.timeout.ms":     "",
		"transaction.timeout.ms":  "1.5",
		"connections.max.idle.ms": "9m",
		"metadata.max.idle.ms":    "4999",
	} {
		_, err := New(WithProperties(map[string]string{key: val}))
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: got %v", key, val, err)
		}
	}
}

func TestJAASParsing(t *testing.T) {
	u, p, err := parseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3\"cret";`)
	if err != nil || u != "alice" || p != `s3"cret` {
		t.Fatalf("%q %q %v", u, p, err)
	}
	c := defaultConfig()
	WithProperties(map[string]string{
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
		"sasl.jaas.config": `x required username="u" password="p";`,
	})(&c)
	if err := c.validate(); err != nil || c.sasl == nil || c.sasl.Name() != "SCRAM-SHA-512" {
		t.Fatalf("sasl %v, err %v", c.sasl, err)
	}
}

package producer

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// javaProducerKeys is every configuration key the Java producer of Kafka
// 4.x knows: ProducerConfig, with its common client settings and the SSL
// and SASL client settings it adds (withClientSslSupport,
// withClientSaslSupport), plus auto.include.jmx.reporter, removed in 4.0
// but still common in configuration files.
var javaProducerKeys = []string{
	"bootstrap.servers", "client.dns.lookup", "buffer.memory", "retries", "acks",
	"compression.type", "compression.gzip.level", "compression.lz4.level", "compression.zstd.level",
	"batch.size", "partitioner.adaptive.partitioning.enable", "partitioner.availability.timeout.ms",
	"partitioner.ignore.keys", "linger.ms", "delivery.timeout.ms", "client.id", "send.buffer.bytes",
	"receive.buffer.bytes", "max.request.size", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
	"retry.backoff.ms", "retry.backoff.max.ms", "enable.metrics.push", "max.block.ms", "request.timeout.ms",
	"metadata.max.age.ms", "metadata.max.idle.ms", "metrics.sample.window.ms", "metrics.num.samples",
	"metrics.recording.level", "metric.reporters", "max.in.flight.requests.per.connection",
	"key.serializer", "value.serializer", "socket.connection.setup.timeout.ms",
	"socket.connection.setup.timeout.max.ms", "connections.max.idle.ms", "partitioner.class",
	"interceptor.classes", "security.protocol", "security.providers", "enable.idempotence",
	"transaction.timeout.ms", "transactional.id", "transaction.two.phase.commit.enable",
	"metadata.recovery.strategy", "metadata.recovery.rebootstrap.trigger.ms", "config.providers",
	"auto.include.jmx.reporter",
	// SSL
	"ssl.protocol", "ssl.provider", "ssl.cipher.suites", "ssl.enabled.protocols", "ssl.keystore.type",
	"ssl.keystore.location", "ssl.keystore.password", "ssl.key.password", "ssl.keystore.key",
	"ssl.keystore.certificate.chain", "ssl.truststore.certificates", "ssl.truststore.type",
	"ssl.truststore.location", "ssl.truststore.password", "ssl.keymanager.algorithm",
	"ssl.trustmanager.algorithm", "ssl.endpoint.identification.algorithm",
	"ssl.secure.random.implementation", "ssl.engine.factory.class",
	// SASL
	"sasl.kerberos.service.name", "sasl.kerberos.kinit.cmd", "sasl.kerberos.ticket.renew.window.factor",
	"sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.min.time.before.relogin",
	"sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter",
	"sasl.login.refresh.min.period.seconds", "sasl.login.refresh.buffer.seconds", "sasl.mechanism",
	"sasl.jaas.config", "sasl.client.callback.handler.class", "sasl.login.callback.handler.class",
	"sasl.login.class", "sasl.login.connect.timeout.ms", "sasl.login.read.timeout.ms",
	"sasl.login.retry.backoff.max.ms", "sasl.login.retry.backoff.ms",
	"sasl.oauthbearer.jwt.retriever.class", "sasl.oauthbearer.jwt.validator.class", "sasl.oauthbearer.scope",
	"sasl.oauthbearer.client.credentials.client.id", "sasl.oauthbearer.client.credentials.client.secret",
	"sasl.oauthbearer.assertion.algorithm", "sasl.oauthbearer.assertion.claim.aud",
	"sasl.oauthbearer.assertion.claim.exp.seconds", "sasl.oauthbearer.assertion.claim.iss",
	"sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
	"sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.file",
	"sasl.oauthbearer.assertion.private.key.file", "sasl.oauthbearer.assertion.private.key.passphrase",
	"sasl.oauthbearer.assertion.template.file", "sasl.oauthbearer.scope.claim.name",
	"sasl.oauthbearer.sub.claim.name", "sasl.oauthbearer.token.endpoint.url",
	"sasl.oauthbearer.jwks.endpoint.url", "sasl.oauthbearer.jwks.endpoint.refresh.ms",
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
	"sasl.oauthbearer.clock.skew.seconds", "sasl.oauthbearer.expected.audience",
	"sasl.oauthbearer.expected.issuer", "sasl.oauthbearer.header.urlencode",
}

// TestJavaProducerKeysAllKnown: every key of the Java producer's
// configuration is known to WithProperties, applied or accepted with no
// effect, and no key is both.
func TestJavaProducerKeysAllKnown(t *testing.T) {
	for _, k := range javaProducerKeys {
		_, applied := properties[k]
		_, ignored := ignoredProperties[k]
		if !applied && !ignored {
			t.Errorf("Java producer key %q is unknown", k)
		}
	}
	for k := range properties {
		if _, ok := ignoredProperties[k]; ok {
			t.Errorf("%q is both applied and ignored", k)
		}
	}
}

// TestJavaConfigFileLoads loads the keys the issue named, and the rest of a
// typical Java producer file: New succeeds, the implemented ones take
// effect, and each key with no effect is logged once, by name.
func TestJavaConfigFileLoads(t *testing.T) {
	props := map[string]string{
		"bootstrap.servers":                     "127.0.0.1:1",
		"client.dns.lookup":                     "use_all_dns_ips",
		"connections.max.idle.ms":               "540000",
		"send.buffer.bytes":                     "131072",
		"receive.buffer.bytes":                  "32768",
		"metadata.max.idle.ms":                  "300000",
		"interceptor.classes":                   "com.example.AuditInterceptor",
		"key.serializer":                        "org.apache.kafka.common.serialization.StringSerializer",
		"value.serializer":                      "org.apache.kafka.common.serialization.ByteArraySerializer",
		"metric.reporters":                      "",
		"metrics.recording.level":               "INFO",
		"enable.metrics.push":                   "false",
		"socket.connection.setup.timeout.ms":    "7000",
		"transaction.two.phase.commit.enable":   "false",
		"metadata.recovery.strategy":            "rebootstrap",
		"security.providers":                    "",
		"max.in.flight.requests.per.connection": "5",
	}
	var logs syncBuffer
	p, err := New(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithProperties(props))
	if err != nil {
		t.Fatalf("New with a Java configuration: %v", err)
	}
	defer p.Close(context.Background())
	if p.cfg.sendBuffer != 131072 || p.cfg.receiveBuffer != 32768 || p.cfg.dialTimeout.Milliseconds() != 7000 ||
		p.cfg.connMaxIdle.Milliseconds() != 540000 || p.cfg.metadataMaxIdle.Milliseconds() != 300000 {
		t.Fatalf("applied: send %d receive %d dial timeout %v connections idle %v metadata idle %v", p.cfg.sendBuffer,
			p.cfg.receiveBuffer, p.cfg.dialTimeout, p.cfg.connMaxIdle, p.cfg.metadataMaxIdle)
	}
	out := logs.String()
	for _, k := range []string{"connections.max.idle.ms", "metadata.max.idle.ms"} { // applied now
		if strings.Contains(out, "property="+k+" ") {
			t.Errorf("%s is logged as having no effect", k)
		}
	}
	for _, k := range []string{"client.dns.lookup",
		"interceptor.classes", "key.serializer", "value.serializer", "metrics.recording.level",
		"enable.metrics.push", "transaction.two.phase.commit.enable", "metadata.recovery.strategy"} {
		if n := strings.Count(out, "property="+k+" "); n != 1 {
			t.Errorf("%s logged %d times; want one line naming it\n%s", k, n, out)
		}
	}
	for _, k := range []string{"metric.reporters", "security.providers"} { // empty: nothing asked
		if strings.Contains(out, "property="+k+" ") {
			t.Errorf("%s with an empty value was logged", k)
		}
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "WithInterceptors") {
		t.Errorf("interceptor.classes is not a warning pointing at WithInterceptors:\n%s", out)
	}
}

// TestPropertyTypoDidYouMean: a misspelt key is an error (Java only warns)
// that suggests the key meant.
func TestPropertyTypoDidYouMean(t *testing.T) {
	for typo, meant := range map[string]string{
		"lingr.ms":                             "linger.ms",
		"linger_ms":                            "linger.ms",
		"bootstrap.server":                     "bootstrap.servers",
		"enable.idempotance":                   "enable.idempotence",
		"Acks":                                 "acks",
		"connection.max.idle.ms":               "connections.max.idle.ms",
		"max.inflight.requests.per.connection": "max.in.flight.requests.per.connection",
	} {
		_, err := New(WithProperties(map[string]string{typo: "1"}))
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `did you mean "`+meant+`"?`) {
			t.Errorf("%s: %v; want a hint at %s", typo, err, meant)
		}
	}
	_, err := New(WithProperties(map[string]string{"completely.different": "1"}))
	if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a key close to none: %v", err)
	}
}

// TestAllBadPropertiesReported: New reports every bad key at once, each
// error wrapping ErrInvalidConfig, instead of the first only.
func TestAllBadPropertiesReported(t *testing.T) {
	_, err := New(WithProperties(map[string]string{
		"lingr.ms":                            "5",
		"batch.size":                          "big",
		"acks":                                "2",
		"client.dns.lookup":                   "sometimes",
		"transaction.two.phase.commit.enable": "true",
		"linger.ms":                           "5", // fine
	}))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 5 {
		t.Fatalf("want 5 errors, got %v", err)
	}
	for _, e := range joined.Unwrap() {
		if !errors.Is(e, ErrInvalidConfig) {
			t.Fatalf("%v does not wrap ErrInvalidConfig", e)
		}
	}
	for _, k := range []string{"lingr.ms", "batch.size", "acks", "client.dns.lookup", "transaction.two.phase.commit.enable"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("%s not reported in %v", k, err)
		}
	}
}

// TestTLSProperties applies the TLS settings that map onto crypto/tls.
func TestTLSProperties(t *testing.T) {
	c := defaultConfig()
	WithProperties(map[string]string{
		"security.protocol":     "SSL",
		"ssl.enabled.protocols": "TLSv1.3, TLSv1.2",
		"ssl.cipher.suites":     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
		"ssl.protocol":          "TLSv1.3",
	})(&c)
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.tls == nil || c.tls.MinVersion != 0x0303 || c.tls.MaxVersion != 0x0304 || len(c.tls.CipherSuites) != 1 || c.tls.CipherSuites[0] != 0xc02f {
		t.Fatalf("tls config %+v", c.tls)
	}
	for k, v := range map[string]string{"ssl.enabled.protocols": "SSLv3", "ssl.cipher.suites": "NOT_A_SUITE"} {
		if _, err := New(WithProperties(map[string]string{"security.protocol": "SSL", k: v})); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// TestREADMEListsEveryProperty keeps the README's options tables complete:
// every key WithProperties knows is named there.
func TestREADMEListsEveryProperty(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for k := range properties {
		if !strings.Contains(readme, "`"+k+"`") {
			t.Errorf("README does not name %s", k)
		}
	}
	for k := range ignoredProperties {
		if !strings.Contains(readme, "`"+k+"`") {
			t.Errorf("README does not name %s (no effect here)", k)
		}
	}
}

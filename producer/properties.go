package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/partitioner"
)

// WithProperties applies settings given by their Java producer property
// names, so an existing configuration carries over. Every key the Java
// producer knows (Kafka 4.x: ProducerConfig with its client, SSL and SASL
// settings) is accepted: most are applied, the rest have no effect here
// and New logs one line naming each (see README, "Java properties with no
// effect"). An unknown key is an error with a "did you mean" hint when a
// known key is close; a bad value is an error naming the key. New reports
// every bad key at once, each wrapping ErrInvalidConfig.
func WithProperties(props map[string]string) Opt {
	return func(c *config) {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic: errors and log lines in key order
		sec := securitySettings{}
		for _, k := range keys {
			if err := applyProperty(c, &sec, k, strings.TrimSpace(props[k])); err != nil {
				c.deferred = append(c.deferred, err)
			}
		}
		if err := sec.apply(c); err != nil {
			c.deferred = append(c.deferred, err)
		}
	}
}

// property is one Java setting: how to parse it into the config.
type property func(c *config, s *securitySettings, v string) error

var properties = map[string]property{
	"bootstrap.servers": func(c *config, _ *securitySettings, v string) error {
		var bs []string
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				bs = append(bs, b)
			}
		}
		c.brokers = bs
		return nil
	},
	"client.id": func(c *config, _ *securitySettings, v string) error { c.clientID = v; return nil },
	"acks": func(c *config, _ *securitySettings, v string) error {
		switch strings.ToLower(v) {
		case "0":
			c.acks = AcksNone
		case "1":
			c.acks = AcksLeader
		case "all", "-1":
			c.acks = AcksAll
		default:
			return fmt.Errorf("must be 0, 1, all or -1")
		}
		return nil
	},
	// Keys apply in sorted order: kprod.spool.dir (which sets the spool's
	// defaults) comes before the other kprod.spool keys.
	"kprod.spool.dir":       func(c *config, _ *securitySettings, v string) error { WithSpool(v)(c); return nil },
	"kprod.spool.max.bytes": int64Prop(func(c *config, n int64) { c.spool.maxBytes = n }),
	"kprod.spool.sync": func(c *config, _ *securitySettings, v string) error {
		p, err := parseSyncPolicy(v)
		c.spool.sync = p
		return err
	},
	"kprod.spool.sync.interval.ms": msProp(func(c *config, d time.Duration) { c.spool.syncEvery = d }),
	"kprod.spool.outage.ms":        msProp(func(c *config, d time.Duration) { c.spool.outage = d }),
	"batch.size":                   intProp(func(c *config, n int) { c.batchSize = n }),
	"linger.ms":                    msProp(func(c *config, d time.Duration) { c.linger = d }),
	"buffer.memory":                int64Prop(func(c *config, n int64) { c.bufferMemory = n }),
	"max.block.ms":                 msProp(func(c *config, d time.Duration) { c.maxBlock = d }),
	"max.request.size":             intProp(func(c *config, n int) { c.maxRequestSize = n }),
	"compression.type": func(c *config, _ *securitySettings, v string) error {
		codec, err := batch.ParseCodec(v)
		c.codec = codec
		return err
	},
	"compression.gzip.level":                levelProp(CompressionGzip),
	"compression.lz4.level":                 levelProp(CompressionLZ4),
	"compression.zstd.level":                levelProp(CompressionZstd),
	"request.timeout.ms":                    msProp(func(c *config, d time.Duration) { c.requestTimeout = d }),
	"delivery.timeout.ms":                   msProp(func(c *config, d time.Duration) { c.deliveryTimeout = d }),
	"retries":                               intProp(func(c *config, n int) { c.retries = n }),
	"retry.backoff.ms":                      msProp(func(c *config, d time.Duration) { c.retryBackoff = d }),
	"retry.backoff.max.ms":                  msProp(func(c *config, d time.Duration) { c.retryBackoffMax = d }),
	"max.in.flight.requests.per.connection": intProp(func(c *config, n int) { c.maxInFlight = n }),
	"enable.idempotence": boolProp(func(c *config, b bool) {
		c.idempotence, c.idempotenceSet = b, true
	}),
	"transactional.id":       func(c *config, _ *securitySettings, v string) error { c.txnID = v; return nil },
	"transaction.timeout.ms": msProp(func(c *config, d time.Duration) { c.txnTimeout = d }),
	"partitioner.ignore.keys": boolProp(func(c *config, b bool) {
		c.ignoreKeys = b
	}),
	"partitioner.adaptive.partitioning.enable": boolProp(func(c *config, b bool) { c.adaptive = b }),
	"partitioner.availability.timeout.ms":      msProp(func(c *config, d time.Duration) { c.availabilityTimeout = d }),
	"partitioner.class": func(c *config, _ *securitySettings, v string) error {
		switch v[strings.LastIndexByte(v, '.')+1:] {
		case "RoundRobinPartitioner":
			c.partitioner = partitioner.NewRoundRobin()
		case "DefaultPartitioner", "":
			c.partitioner = nil
		default:
			return fmt.Errorf("only RoundRobinPartitioner or DefaultPartitioner can be named; use WithPartitioner for others")
		}
		return nil
	},
	"metadata.max.age.ms": msProp(func(c *config, d time.Duration) { c.metadataMaxAge = d }),
	"metadata.max.idle.ms": func(c *config, _ *securitySettings, v string) error {
		var d time.Duration
		if err := parseMs(v, func(ms time.Duration) { d = ms }); err != nil {
			return err
		}
		if d < 5*time.Second {
			return fmt.Errorf("must be at least 5000, as in Java")
		}
		c.metadataMaxIdle = d
		return nil
	},
	// Java closes no connection for a negative value; kprod does the same
	// for zero too (Java would close every connection as soon as it idles).
	"connections.max.idle.ms":  msProp(func(c *config, d time.Duration) { c.connMaxIdle = d }),
	"reconnect.backoff.ms":     msProp(func(c *config, d time.Duration) { c.reconnectBackoff = d }),
	"reconnect.backoff.max.ms": msProp(func(c *config, d time.Duration) { c.reconnectBackoffMax = d }),
	// kprod has one dial timeout; Java starts at socket.connection.setup.timeout.ms
	// and grows to the .max one. The max wins when both are given.
	"socket.connection.setup.timeout.max.ms": func(_ *config, s *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { s.setupMax, s.hasSetupMax = d, true })
	},
	"socket.connection.setup.timeout.ms": func(_ *config, s *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { s.setup, s.hasSetup = d, true })
	},
	"send.buffer.bytes":    socketBufferProp(func(c *config, n int) { c.sendBuffer = n }),
	"receive.buffer.bytes": socketBufferProp(func(c *config, n int) { c.receiveBuffer = n }),
	"security.protocol": func(_ *config, s *securitySettings, v string) error {
		switch strings.ToUpper(v) {
		case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
			s.protocol = strings.ToUpper(v)
			return nil
		}
		return fmt.Errorf("must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
	},
	"sasl.mechanism": func(_ *config, s *securitySettings, v string) error {
		switch strings.ToUpper(v) {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM":
			s.mechanism = strings.ToUpper(v)
			return nil
		}
		return fmt.Errorf("must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM")
	},
	"sasl.jaas.config": func(_ *config, s *securitySettings, v string) error {
		jc, err := parseJAASConfig(v)
		s.jaas, s.hasJAAS = jc, err == nil
		return err
	},
	"sasl.login.callback.handler.class": func(_ *config, s *securitySettings, v string) error {
		s.oauth.loginHandler = v
		return nil
	},
	"sasl.client.callback.handler.class": func(_ *config, s *securitySettings, v string) error {
		s.clientHandler = v
		return nil
	},
	"sasl.login.refresh.window.factor": floatProp(0.5, 1, func(c *config, f float64) { c.login.WindowFactor = f }),
	"sasl.login.refresh.window.jitter": floatProp(0, 0.25, func(c *config, f float64) { c.login.WindowJitter = orNone(f) }),
	"sasl.login.refresh.min.period.seconds": secondsProp(900, func(c *config, d time.Duration) {
		c.login.MinPeriod = orNoneD(d)
	}),
	"sasl.login.refresh.buffer.seconds": secondsProp(3600, func(c *config, d time.Duration) { c.login.Buffer = orNoneD(d) }),
	"sasl.login.retry.backoff.ms": func(c *config, _ *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { c.login.RetryBackoff = orNoneD(d) })
	},
	"sasl.login.retry.backoff.max.ms": func(c *config, _ *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { c.login.RetryBackoffMax = orNoneD(d) })
	},
	"sasl.login.connect.timeout.ms": func(_ *config, s *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { s.oauth.connectTimeout = max(d, 0) })
	},
	"sasl.login.read.timeout.ms": func(_ *config, s *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { s.oauth.readTimeout = max(d, 0) })
	},
	"sasl.oauthbearer.token.endpoint.url": func(_ *config, s *securitySettings, v string) error {
		s.oauth.tokenURL = v
		return nil
	},
	"sasl.oauthbearer.client.credentials.client.id": func(_ *config, s *securitySettings, v string) error {
		s.oauth.clientID, s.oauth.hasClientID = v, true
		return nil
	},
	"sasl.oauthbearer.client.credentials.client.secret": func(_ *config, s *securitySettings, v string) error {
		s.oauth.secret, s.oauth.hasSecret = v, true
		return nil
	},
	"sasl.oauthbearer.scope": func(_ *config, s *securitySettings, v string) error {
		s.oauth.scope, s.oauth.hasSc = v, true
		return nil
	},
	"sasl.oauthbearer.header.urlencode":     boolSecProp(func(s *securitySettings, b bool) { s.oauth.urlencode = b }),
	"ssl.truststore.location":               func(_ *config, s *securitySettings, v string) error { s.caFile = v; return nil },
	"ssl.truststore.type":                   pemOnly,
	"ssl.keystore.location":                 func(_ *config, s *securitySettings, v string) error { s.keyFile = v; return nil },
	"ssl.keystore.type":                     pemOnly,
	"ssl.endpoint.identification.algorithm": func(_ *config, s *securitySettings, v string) error { s.noHostCheck = v == ""; return nil },
	"ssl.keystore.key":                      func(_ *config, s *securitySettings, v string) error { s.keyPEM = v; return nil },
	"ssl.keystore.certificate.chain":        func(_ *config, s *securitySettings, v string) error { s.chainPEM = v; return nil },
	"ssl.truststore.certificates":           func(_ *config, s *securitySettings, v string) error { s.caPEM = v; return nil },
	"ssl.enabled.protocols": func(_ *config, s *securitySettings, v string) error {
		for _, name := range splitList(v) {
			ver, ok := tlsVersions[name]
			if !ok {
				return fmt.Errorf("unknown protocol %q: TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", name)
			}
			if s.minTLS == 0 || ver < s.minTLS {
				s.minTLS = ver
			}
			s.maxTLS = max(s.maxTLS, ver)
		}
		return nil
	},
	"ssl.cipher.suites": func(_ *config, s *securitySettings, v string) error {
		s.ciphers = nil
		for _, name := range splitList(v) {
			id, ok := cipherSuiteID(name)
			if !ok {
				return fmt.Errorf("unknown cipher suite %q (IANA names, as Go's crypto/tls lists them)", name)
			}
			if id != 0 { // TLS 1.3 suites are not configurable in Go; always on
				s.ciphers = append(s.ciphers, id)
			}
		}
		return nil
	},
}

// applyProperty applies one property: a known key sets its option or is
// noted as having no effect; an unknown key is an error with a hint.
func applyProperty(c *config, s *securitySettings, key, value string) error {
	if p, ok := properties[key]; ok {
		if err := p(c, s, value); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, key, value, err)
		}
		return nil
	}
	if ig, ok := ignoredProperties[key]; ok {
		if ig.check != nil {
			if err := ig.check(value); err != nil {
				return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, key, value, err)
			}
		}
		if ig.quietIfEmpty && value == "" {
			return nil
		}
		c.ignored = append(c.ignored, ignoredUse{key: key, why: ig.why, warn: ig.warn})
		return nil
	}
	if hint := closestProperty(key); hint != "" {
		return fmt.Errorf("%w: unknown property %q (did you mean %q?)", ErrInvalidConfig, key, hint)
	}
	return fmt.Errorf("%w: unknown property %q", ErrInvalidConfig, key)
}

// ignoredProperty is a Java setting kprod accepts without using it.
type ignoredProperty struct {
	why          string             // said in the log line and the README
	warn         bool               // log at Warn: the setting changes what Java does in a way kprod does not follow
	quietIfEmpty bool               // an empty value asks for nothing: no log line
	check        func(string) error // validates the value, as Java would; nil accepts any
}

// ignoredUse is one ignored property met in a configuration, logged by New.
type ignoredUse struct {
	key, why string
	warn     bool
}

// Reasons shared by several ignored properties.
const (
	whyJVM      = "a JVM setting; Go's crypto/tls and runtime have no counterpart"
	whyKerberos = "Kerberos (GSSAPI) is not supported; sasl.mechanism accepts PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER and AWS_MSK_IAM"
	whyJWTCheck = "kprod reads only a token's expiry (exp) and leaves checking its claims and signature to the broker"
	whyJWTBear  = "the jwt-bearer grant (signed assertions, KIP-1139) is not supported: pass a token source doing it to WithOAuthBearer"
	whyMetrics  = "Java metrics; kprod reports through Producer.Metrics and the OpenTelemetry and Prometheus adapters"
	whyPEMOnly  = "kprod reads unencrypted PEM only: keystore and truststore passwords have nothing to open"
)

// ignoredProperties is every Java producer setting kprod accepts with no
// effect, and why. Together with properties it covers the whole
// ProducerConfig of Kafka 4.x, its SSL and SASL client settings included.
var ignoredProperties = map[string]ignoredProperty{
	"key.serializer":   {why: "serializers are Go types here: use NewTyped"},
	"value.serializer": {why: "serializers are Go types here: use NewTyped"},
	"interceptor.classes": {why: "Java classes cannot be loaded; pass Go interceptors with WithInterceptors",
		warn: true, quietIfEmpty: true},
	"client.dns.lookup": {why: "Go's dialer tries every address a name resolves to (use_all_dns_ips); resolve_canonical_bootstrap_servers_only is not done",
		check: oneOf("use_all_dns_ips", "resolve_canonical_bootstrap_servers_only")},
	"metadata.recovery.strategy": {why: "kprod redials the bootstrap servers when every known broker is unreachable",
		check: oneOf("none", "rebootstrap")},
	"metadata.recovery.rebootstrap.trigger.ms": {why: "kprod redials the bootstrap servers when every known broker is unreachable", check: isInt},
	"enable.metrics.push":                      {why: "client metrics are not pushed to the broker (KIP-714)", check: isBool},
	"metrics.sample.window.ms":                 {why: whyMetrics, check: isInt},
	"metrics.num.samples":                      {why: whyMetrics, check: isInt},
	"metrics.recording.level":                  {why: whyMetrics, check: oneOf("INFO", "DEBUG", "TRACE")},
	"metric.reporters":                         {why: whyMetrics, quietIfEmpty: true},
	"auto.include.jmx.reporter":                {why: whyMetrics + " (removed in Kafka 4.0)", check: isBool},
	"security.providers":                       {why: whyJVM, quietIfEmpty: true},
	"transaction.two.phase.commit.enable": {why: "two-phase commit (KIP-939) is not supported; only false is accepted",
		check: func(v string) error {
			if !strings.EqualFold(v, "false") {
				return fmt.Errorf("two-phase commit (KIP-939) is not supported")
			}
			return nil
		}},
	"config.providers": {why: "config providers are not supported", quietIfEmpty: true,
		check: func(v string) error {
			if v != "" {
				return fmt.Errorf("config providers are not supported: resolve ${provider:...} values before WithProperties")
			}
			return nil
		}},

	"ssl.protocol":                     {why: "Go negotiates the highest TLS version ssl.enabled.protocols allows"},
	"ssl.provider":                     {why: whyJVM, quietIfEmpty: true},
	"ssl.keymanager.algorithm":         {why: whyJVM},
	"ssl.trustmanager.algorithm":       {why: whyJVM},
	"ssl.secure.random.implementation": {why: whyJVM, quietIfEmpty: true},
	"ssl.engine.factory.class":         {why: whyJVM, quietIfEmpty: true},
	"ssl.keystore.password":            {why: whyPEMOnly, quietIfEmpty: true},
	"ssl.key.password":                 {why: whyPEMOnly + "; an encrypted key fails to load", warn: true, quietIfEmpty: true},
	"ssl.truststore.password":          {why: whyPEMOnly, quietIfEmpty: true},

	"sasl.kerberos.service.name":               {why: whyKerberos, quietIfEmpty: true},
	"sasl.kerberos.kinit.cmd":                  {why: whyKerberos},
	"sasl.kerberos.ticket.renew.window.factor": {why: whyKerberos},
	"sasl.kerberos.ticket.renew.jitter":        {why: whyKerberos},
	"sasl.kerberos.min.time.before.relogin":    {why: whyKerberos},
	"sasl.login.class":                         {why: whyJVM, quietIfEmpty: true},
	"sasl.oauthbearer.jwt.retriever.class": {why: "kprod chooses the retriever itself: the client_credentials grant (or a file: URL) when sasl.oauthbearer.token.endpoint.url is set, else the unsecured JWT; for others use WithOAuthBearer",
		warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.jwt.validator.class":                {why: whyJWTCheck},
	"sasl.oauthbearer.assertion.algorithm":                {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.aud":                {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.exp.seconds":        {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.iss":                {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.jti.include":        {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.nbf.seconds":        {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.claim.sub":                {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.file":                     {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.private.key.file":         {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.private.key.passphrase":   {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.assertion.template.file":            {why: whyJWTBear, warn: true, quietIfEmpty: true},
	"sasl.oauthbearer.scope.claim.name":                   {why: whyJWTCheck},
	"sasl.oauthbearer.sub.claim.name":                     {why: whyJWTCheck},
	"sasl.oauthbearer.jwks.endpoint.url":                  {why: whyJWTCheck},
	"sasl.oauthbearer.jwks.endpoint.refresh.ms":           {why: whyJWTCheck},
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms":     {why: whyJWTCheck},
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": {why: whyJWTCheck},
	"sasl.oauthbearer.clock.skew.seconds":                 {why: whyJWTCheck},
	"sasl.oauthbearer.expected.audience":                  {why: whyJWTCheck},
	"sasl.oauthbearer.expected.issuer":                    {why: whyJWTCheck},
}

// closestProperty is the known key nearest to key by edit distance, when it
// is near enough to be the one meant; "" otherwise.
func closestProperty(key string) string {
	limit := max(2, len(key)/5)
	best, bestDist := "", limit+1
	consider := func(name string) {
		if d := editDistance(strings.ToLower(key), name, bestDist); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	for name := range properties {
		consider(name)
	}
	for name := range ignoredProperties {
		consider(name)
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or any value above
// limit once it is sure to exceed it.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if strings.EqualFold(v, ok) {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
	}
}

func isInt(v string) error {
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return fmt.Errorf("not an integer")
	}
	return nil
}

func isBool(v string) error {
	if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return fmt.Errorf("must be true or false")
	}
	return nil
}

// splitList splits a Java list value ("a, b,c") into its non-empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// tlsVersions maps the Java protocol names to Go's.
var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// cipherSuiteID finds a cipher suite by its IANA name (the names Java uses
// too); TLS 1.3 suites, which Go does not let one choose, map to 0.
func cipherSuiteID(name string) (uint16, bool) {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			if cs.Name == name {
				if len(cs.SupportedVersions) == 1 && cs.SupportedVersions[0] == tls.VersionTLS13 {
					return 0, true
				}
				return cs.ID, true
			}
		}
	}
	return 0, false
}

func socketBufferProp(set func(*config, int)) property {
	return func(c *config, _ *securitySettings, v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < -1 {
			return fmt.Errorf("must be -1 (the operating system's default) or a number of bytes")
		}
		set(c, int(n))
		return nil
	}
}

func intProp(set func(*config, int)) property {
	return func(c *config, _ *securitySettings, v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not an int32")
		}
		set(c, int(n))
		return nil
	}
}

func int64Prop(set func(*config, int64)) property {
	return func(c *config, _ *securitySettings, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		set(c, n)
		return nil
	}
}

func msProp(set func(*config, time.Duration)) property {
	return func(c *config, _ *securitySettings, v string) error {
		return parseMs(v, func(d time.Duration) { set(c, d) })
	}
}

// parseMs parses a number of milliseconds and hands it to set.
func parseMs(v string, set func(time.Duration)) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
		return fmt.Errorf("not a number of milliseconds")
	}
	set(time.Duration(n) * time.Millisecond)
	return nil
}

func boolProp(set func(*config, bool)) property {
	return func(c *config, _ *securitySettings, v string) error {
		switch strings.ToLower(v) {
		case "true":
			set(c, true)
		case "false":
			set(c, false)
		default:
			return fmt.Errorf("must be true or false")
		}
		return nil
	}
}

func levelProp(codec Compression) property {
	return func(c *config, _ *securitySettings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		WithCompressionLevel(codec, n)(c)
		return nil
	}
}

func pemOnly(_ *config, _ *securitySettings, v string) error {
	if !strings.EqualFold(v, "PEM") {
		return fmt.Errorf("only PEM files are supported")
	}
	return nil
}

// securitySettings gathers the properties that only make sense together:
// the security ones, and the two dial timeouts.
type securitySettings struct {
	protocol, mechanism     string
	jaas                    jaasConfig
	hasJAAS                 bool
	oauth                   oauthSettings
	clientHandler           string
	caFile, keyFile         string
	caPEM, keyPEM, chainPEM string
	noHostCheck             bool
	minTLS, maxTLS          uint16
	ciphers                 []uint16

	setup, setupMax       time.Duration
	hasSetup, hasSetupMax bool
}

func (s *securitySettings) apply(c *config) error {
	switch {
	case s.hasSetupMax:
		c.dialTimeout = s.setupMax
	case s.hasSetup:
		c.dialTimeout = s.setup
	}
	// The callback handler classes take effect only with their mechanism;
	// with another they are Java classes kprod cannot load.
	if s.oauth.loginHandler != "" && s.mechanism != "OAUTHBEARER" {
		c.ignored = append(c.ignored, ignoredUse{key: "sasl.login.callback.handler.class", why: whyJVM})
	}
	if s.clientHandler != "" && s.mechanism != "AWS_MSK_IAM" {
		c.ignored = append(c.ignored, ignoredUse{key: "sasl.client.callback.handler.class", why: whyJVM, warn: true})
	}
	if s.protocol == "" {
		if s.mechanism != "" || s.hasJAAS || s.caFile != "" || s.keyFile != "" || s.caPEM != "" || s.keyPEM != "" || s.chainPEM != "" {
			return fmt.Errorf("%w: security.protocol: must be set with sasl.* or ssl.* properties", ErrInvalidConfig)
		}
		return nil
	}
	if strings.HasSuffix(s.protocol, "SSL") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.noHostCheck} //nolint:gosec // only when the user turned hostname checks off
		if s.minTLS != 0 {
			tc.MinVersion, tc.MaxVersion = s.minTLS, s.maxTLS
		}
		tc.CipherSuites = s.ciphers
		if s.caFile != "" {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				return fmt.Errorf("%w: ssl.truststore.location: %v", ErrInvalidConfig, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%w: ssl.truststore.location: no PEM certificates in %s", ErrInvalidConfig, s.caFile)
			}
		}
		if s.caPEM != "" {
			if tc.RootCAs == nil {
				tc.RootCAs = x509.NewCertPool()
			}
			if !tc.RootCAs.AppendCertsFromPEM([]byte(s.caPEM)) {
				return fmt.Errorf("%w: ssl.truststore.certificates: no PEM certificates", ErrInvalidConfig)
			}
		}
		switch {
		case s.keyFile != "":
			cert, err := tls.LoadX509KeyPair(s.keyFile, s.keyFile)
			if err != nil {
				return fmt.Errorf("%w: ssl.keystore.location: %v", ErrInvalidConfig, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		case s.keyPEM != "" || s.chainPEM != "":
			cert, err := tls.X509KeyPair([]byte(s.chainPEM), []byte(s.keyPEM))
			if err != nil {
				return fmt.Errorf("%w: ssl.keystore.key and ssl.keystore.certificate.chain: %v", ErrInvalidConfig, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		c.tls = tc
	}
	if strings.HasPrefix(s.protocol, "SASL") {
		return s.applySASL(c)
	}
	return nil
}

// applySASL builds the SASL mechanism of the properties.
func (s *securitySettings) applySASL(c *config) error {
	if !s.hasJAAS {
		return fmt.Errorf("%w: sasl.jaas.config: needed with %s", ErrInvalidConfig, s.protocol)
	}
	if err := c.login.check(); err != nil {
		return err
	}
	var err error
	switch s.mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		user, pass := s.jaas.opts["username"], s.jaas.opts["password"]
		if user == "" {
			return fmt.Errorf(`%w: sasl.jaas.config: no username="..." found`, ErrInvalidConfig)
		}
		switch s.mechanism {
		case "", "PLAIN":
			c.sasl = plain.Auth{User: user, Pass: pass}.AsMechanism()
		case "SCRAM-SHA-256":
			c.sasl = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			c.sasl = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
		}
	case "OAUTHBEARER":
		if h := s.oauth.loginHandler; h != "" && !unsecuredLoginHandlers[h] && !endpointLoginHandlers[h] {
			return fmt.Errorf("%w: sasl.login.callback.handler.class: %s cannot be loaded; use WithOAuthBearer with a Go token source", ErrInvalidConfig, h)
		}
		var src func(context.Context) (OAuthBearerToken, error)
		if src, err = s.oauth.source(s.jaas); err == nil {
			c.sasl = newOAuthMechanism(src, &c.login)
		}
	case "AWS_MSK_IAM":
		c.sasl, err = mskIAMFromEnv(s.jaas, s.clientHandler)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return nil
}

// floatProp parses a number in [lo, hi].
func floatProp(lo, hi float64, set func(*config, float64)) property {
	return func(c *config, _ *securitySettings, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lo || f > hi {
			return fmt.Errorf("must be a number from %g to %g", lo, hi)
		}
		set(c, f)
		return nil
	}
}

// secondsProp parses a whole number of seconds in [0, hi].
func secondsProp(hi int64, set func(*config, time.Duration)) property {
	return func(c *config, _ *securitySettings, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > hi {
			return fmt.Errorf("must be a number of seconds from 0 to %d", hi)
		}
		set(c, time.Duration(n)*time.Second)
		return nil
	}
}

func boolSecProp(set func(*securitySettings, bool)) property {
	return func(_ *config, s *securitySettings, v string) error {
		return boolProp(func(_ *config, b bool) { set(s, b) })(nil, s, v)
	}
}

// orNone and orNoneD turn a Java zero, which means "none", into
// LoginRefresh's negative "none" (its zero means the default).
func orNone(f float64) float64 {
	if f == 0 {
		return -1
	}
	return f
}

func orNoneD(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

package producer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kprod/kprod/batch"
	"github.com/kprod/kprod/partitioner"
)

// WithProperties applies settings given by their Java producer property names,
// so an existing configuration carries over. An unknown key or a bad value is
// an error naming the key, reported by New. Serializer class names are
// accepted and ignored (Go picks serializers through Typed).
func WithProperties(props map[string]string) Opt {
	return func(c *config) {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic: the first bad key is always the same one
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
	"batch.size":       intProp(func(c *config, n int) { c.batchSize = n }),
	"linger.ms":        msProp(func(c *config, d time.Duration) { c.linger = d }),
	"buffer.memory":    int64Prop(func(c *config, n int64) { c.bufferMemory = n }),
	"max.block.ms":     msProp(func(c *config, d time.Duration) { c.maxBlock = d }),
	"max.request.size": intProp(func(c *config, n int) { c.maxRequestSize = n }),
	"compression.type": func(c *config, _ *securitySettings, v string) error {
		codec, err := batch.ParseCodec(v)
		c.codec = codec
		return err
	},
	"compression.gzip.level":                levelProp(batch.Gzip),
	"compression.lz4.level":                 levelProp(batch.LZ4),
	"compression.zstd.level":                levelProp(batch.Zstd),
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
	"metadata.max.age.ms":                    msProp(func(c *config, d time.Duration) { c.metadataMaxAge = d }),
	"reconnect.backoff.ms":                   msProp(func(c *config, d time.Duration) { c.reconnectBackoff = d }),
	"reconnect.backoff.max.ms":               msProp(func(c *config, d time.Duration) { c.reconnectBackoffMax = d }),
	"socket.connection.setup.timeout.max.ms": msProp(func(c *config, d time.Duration) { c.dialTimeout = d }),
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
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			s.mechanism = strings.ToUpper(v)
			return nil
		}
		return fmt.Errorf("must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	},
	"sasl.jaas.config": func(_ *config, s *securitySettings, v string) error {
		user, pass, err := parseJAAS(v)
		s.user, s.pass = user, pass
		return err
	},
	"ssl.truststore.location":               func(_ *config, s *securitySettings, v string) error { s.caFile = v; return nil },
	"ssl.truststore.type":                   pemOnly,
	"ssl.keystore.location":                 func(_ *config, s *securitySettings, v string) error { s.keyFile = v; return nil },
	"ssl.keystore.type":                     pemOnly,
	"ssl.endpoint.identification.algorithm": func(_ *config, s *securitySettings, v string) error { s.noHostCheck = v == ""; return nil },
	"key.serializer":                        ignoreProp,
	"value.serializer":                      ignoreProp,
}

func applyProperty(c *config, s *securitySettings, key, value string) error {
	p, ok := properties[key]
	if !ok {
		return fmt.Errorf("%w: unknown property %q", ErrInvalidConfig, key)
	}
	if err := p(c, s, value); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, key, value, err)
	}
	return nil
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
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
			return fmt.Errorf("not a number of milliseconds")
		}
		set(c, time.Duration(n)*time.Millisecond)
		return nil
	}
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

func levelProp(codec batch.Codec) property {
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

func ignoreProp(*config, *securitySettings, string) error { return nil }

// securitySettings gathers the security properties, which only make sense together.
type securitySettings struct {
	protocol, mechanism, user, pass string
	caFile, keyFile                 string
	noHostCheck                     bool
}

func (s *securitySettings) apply(c *config) error {
	if s.protocol == "" {
		if s.mechanism != "" || s.user != "" || s.caFile != "" || s.keyFile != "" {
			return fmt.Errorf("%w: security.protocol: must be set with sasl.* or ssl.* properties", ErrInvalidConfig)
		}
		return nil
	}
	if strings.HasSuffix(s.protocol, "SSL") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.noHostCheck} //nolint:gosec // only when the user turned hostname checks off
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
		if s.keyFile != "" {
			cert, err := tls.LoadX509KeyPair(s.keyFile, s.keyFile)
			if err != nil {
				return fmt.Errorf("%w: ssl.keystore.location: %v", ErrInvalidConfig, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		c.tls = tc
	}
	if strings.HasPrefix(s.protocol, "SASL") {
		if s.user == "" {
			return fmt.Errorf("%w: sasl.jaas.config: needed with %s", ErrInvalidConfig, s.protocol)
		}
		switch s.mechanism {
		case "", "PLAIN":
			c.sasl = plain.Auth{User: s.user, Pass: s.pass}.AsMechanism()
		case "SCRAM-SHA-256":
			c.sasl = scram.Auth{User: s.user, Pass: s.pass}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			c.sasl = scram.Auth{User: s.user, Pass: s.pass}.AsSha512Mechanism()
		}
	}
	return nil
}

var jaasOption = regexp.MustCompile(`(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// parseJAAS reads username and password from a JAAS login module line such as
// `...PlainLoginModule required username="u" password="p";`.
func parseJAAS(v string) (user, pass string, err error) {
	for _, m := range jaasOption.FindAllStringSubmatch(v, -1) {
		val := strings.ReplaceAll(m[2], `\"`, `"`)
		if m[1] == "username" {
			user = val
		} else {
			pass = val
		}
	}
	if user == "" {
		return "", "", fmt.Errorf(`no username="..." found`)
	}
	return user, pass, nil
}

package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kprod/kprod/internal/kafkatest"
)

func TestSASL(t *testing.T) {
	for _, m := range kafkatest.SASLMechanisms {
		t.Run(m.Name, func(t *testing.T) {
			cluster := newCluster(t, kfake.EnableSASL(), kfake.Superuser(m.Name, "user", "secret"))
			addr := cluster.ListenAddrs()[0]
			for _, tt := range []struct {
				name, pass string
				ok         bool
			}{
				{"right password", "secret", true},
				{"wrong password", "guess", false},
			} {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					c, err := Dial(ctx, addr, &Config{SASL: m.Auth("user", tt.pass)})
					if !tt.ok {
						if !errors.Is(err, ErrSASL) {
							t.Fatalf("dial with a wrong password: %v; want ErrSASL", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if _, err := c.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
						t.Fatalf("request after SASL: %v", err)
					}
					if !c.SessionExpiry().IsZero() {
						t.Fatalf("session expiry %v without connections.max.reauth.ms", c.SessionExpiry())
					}
				})
			}
		})
	}
}

// oddMechanism is a mechanism no broker knows.
type oddMechanism struct{}

func (oddMechanism) Name() string { return "ODD" }
func (oddMechanism) Authenticate(context.Context, string) (sasl.Session, []byte, error) {
	return nil, nil, errors.New("not reached")
}

func TestSASLUnsupportedMechanism(t *testing.T) {
	cluster := newCluster(t, kfake.EnableSASL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, cluster.ListenAddrs()[0], &Config{SASL: oddMechanism{}})
	if !errors.Is(err, ErrSASL) || !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Fatalf("dial with an unknown mechanism: %v", err)
	}
}

func TestSASLSessionLifetime(t *testing.T) {
	cluster := newCluster(t,
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "user", "secret"),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "60000"}),
	)
	before := time.Now()
	c := dialT(t, cluster.ListenAddrs()[0], &Config{SASL: plain.Auth{User: "user", Pass: "secret"}.AsMechanism()})
	exp := c.SessionExpiry()
	if exp.Before(before.Add(60*time.Second)) || exp.After(time.Now().Add(60*time.Second)) {
		t.Fatalf("session expiry %v not 60s after the dial at %v", exp, before)
	}
	if !c.reauthAt.After(before.Add(50*time.Second)) || !c.reauthAt.Before(c.retireAt) || !c.retireAt.Before(exp) {
		t.Fatalf("reauth at %v, retire at %v, expiry %v", c.reauthAt, c.retireAt, exp)
	}
}

func TestTLS(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	serverCfg, clientCfg := pki.ServerTLS(false), pki.ClientTLS(false)
	tlsCluster := newCluster(t, kfake.TLS(serverCfg))
	plainCluster := newCluster(t)
	strangerCfg := kafkatest.NewPKI(t).ClientTLS(false) // trusts a different CA

	tests := []struct {
		name    string
		addr    string
		cfg     *Config
		check   func(error) bool
		maxTime time.Duration
	}{
		{
			name:  "trusted CA",
			addr:  tlsCluster.ListenAddrs()[0],
			cfg:   &Config{TLS: clientCfg},
			check: func(err error) bool { return err == nil },
		},
		{
			name: "unknown CA",
			addr: tlsCluster.ListenAddrs()[0],
			cfg:  &Config{TLS: strangerCfg},
			check: func(err error) bool {
				var unknown x509.UnknownAuthorityError
				return errors.Is(err, ErrTLS) && errors.As(err, &unknown)
			},
		},
		{
			name: "wrong server name",
			addr: tlsCluster.ListenAddrs()[0],
			cfg:  &Config{TLS: withServerName(clientCfg, "kafka.example.com")},
			check: func(err error) bool {
				var hostErr x509.HostnameError
				return errors.Is(err, ErrTLS) && errors.As(err, &hostErr)
			},
		},
		{
			name:    "TLS to a plaintext port",
			addr:    plainCluster.ListenAddrs()[0],
			cfg:     &Config{TLS: clientCfg, DialTimeout: 300 * time.Millisecond},
			check:   func(err error) bool { return errors.Is(err, ErrTLS) && errors.Is(err, context.DeadlineExceeded) },
			maxTime: 2 * time.Second,
		},
		{
			name: "plaintext to a TLS port",
			addr: tlsCluster.ListenAddrs()[0],
			cfg:  &Config{DialTimeout: 2 * time.Second},
			check: func(err error) bool {
				// Real brokers answer with a TLS alert; Go's TLS server
				// (used by the fake cluster) just hangs up.
				return errors.Is(err, ErrMalformedResponse) || errors.Is(err, io.EOF)
			},
			maxTime: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, tt.addr, tt.cfg)
			if !tt.check(err) {
				t.Fatalf("unexpected dial result: %v", err)
			}
			if tt.maxTime > 0 && time.Since(start) > tt.maxTime {
				t.Fatalf("dial took %v", time.Since(start))
			}
			if c == nil {
				return
			}
			defer c.Close()
			if _, err := c.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
				t.Fatalf("request over TLS: %v", err)
			}
		})
	}
}

func withServerName(cfg *tls.Config, name string) *tls.Config {
	c := cfg.Clone()
	c.ServerName = name
	return c
}

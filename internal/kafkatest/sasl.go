package kafkatest

import (
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASLMechanism is a SASL mechanism a test runs against: its name as a
// broker knows it (kfake.Superuser takes it) and a client's credentials for
// it, for kprod and for kgo alike.
type SASLMechanism struct {
	Name string
	Auth func(user, pass string) sasl.Mechanism
}

// SASLMechanisms are the mechanisms kprod supports, for tests that run
// once per mechanism.
var SASLMechanisms = []SASLMechanism{
	{"PLAIN", func(u, p string) sasl.Mechanism { return plain.Auth{User: u, Pass: p}.AsMechanism() }},
	{"SCRAM-SHA-256", func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha256Mechanism() }},
	{"SCRAM-SHA-512", func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha512Mechanism() }},
}

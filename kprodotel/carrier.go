package kprodotel

import (
	"go.opentelemetry.io/otel/propagation"

	"github.com/kprod/kprod/producer"
)

// HeaderCarrier lets an OpenTelemetry propagator read and write the headers
// of a record: it is a propagation.TextMapCarrier over a []producer.Header.
// Use it through a pointer to the record's slice, so Set can grow it:
//
//	prop.Inject(ctx, kprodotel.NewHeaderCarrier(&rec.Headers))
//	ctx = prop.Extract(ctx, kprodotel.NewHeaderCarrier(&headers))
//
// Keys match exactly (Kafka header keys are case-sensitive). Get returns
// the value of the last header with the key, as Java's Headers.lastHeader
// does; Set leaves exactly one header with the key, replacing the value of
// the first in place and dropping any later ones.
type HeaderCarrier []producer.Header

var _ propagation.TextMapCarrier = (*HeaderCarrier)(nil)

// NewHeaderCarrier returns the carrier over *h; it is (*HeaderCarrier)(h).
func NewHeaderCarrier(h *[]producer.Header) *HeaderCarrier {
	return (*HeaderCarrier)(h)
}

// Get returns the value of the last header with key, "" if there is none.
func (c *HeaderCarrier) Get(key string) string {
	hs := *c
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value)
		}
	}
	return ""
}

// Set gives key the value: the first header with key takes it and later
// ones are removed; without one, a header is appended. Set changes the
// slice in place (the record's own headers).
func (c *HeaderCarrier) Set(key, value string) {
	hs := *c
	out := hs[:0]
	found := false
	for _, h := range hs {
		if h.Key == key {
			if found {
				continue
			}
			found = true
			h.Value = []byte(value)
		}
		out = append(out, h)
	}
	if !found {
		out = append(out, producer.Header{Key: key, Value: []byte(value)})
	}
	*c = out
}

// Keys returns the header keys, each once, in order of first appearance.
func (c *HeaderCarrier) Keys() []string {
	hs := *c
	keys := make([]string, 0, len(hs))
	for i, h := range hs {
		dup := false
		for _, p := range hs[:i] {
			if p.Key == h.Key {
				dup = true
				break
			}
		}
		if !dup {
			keys = append(keys, h.Key)
		}
	}
	return keys
}

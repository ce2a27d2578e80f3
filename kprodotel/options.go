package kprodotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Option configures a Tracer or a Meter. Each constructor takes the options
// that concern it and ignores the others, so one list can serve both.
type Option func(*config)

type config struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	clientID string
}

// WithTracerProvider sets where the Tracer's spans go (default: the global
// provider, otel.GetTracerProvider(), looked up when NewTracer runs).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets where the Meter's instruments live (default: the
// global provider, otel.GetMeterProvider(), looked up when NewMeter runs).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagator sets how the Tracer writes trace context into record
// headers and reads it back in Extract. Default: the global propagator,
// otel.GetTextMapPropagator(), as it is when NewTracer runs. The global
// propagator does nothing until the program sets one with
// otel.SetTextMapPropagator, so when it has no fields then the Tracer uses
// W3C Trace Context, propagation.TraceContext{}, and keeps it even if a
// global propagator is set later: set the global one before NewTracer, or
// pass it here.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithClientID records id as messaging.client.id on spans and metrics, to
// tell several producers of one process apart. Pass the client id the
// producer was given (producer.WithClientID); default: not recorded.
func WithClientID(id string) Option {
	return func(c *config) { c.clientID = id }
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
		if len(c.prop.Fields()) == 0 {
			c.prop = propagation.TraceContext{}
		}
	}
	return c
}

// scope is the instrumentation scope name of the Tracer and the Meter.
const scope = "github.com/kprod/kprod/kprodotel"

// Package kprodotel connects a kprod producer to OpenTelemetry. It is a
// module of its own, so the core module does not depend on OpenTelemetry.
//
// A Tracer gives each record a span of kind Producer ("send <topic>") from
// Send to its answer, a child of the span in the ctx given to Send, with the
// messaging semantic conventions' attributes for Kafka (semconv v1.43.0),
// and writes the span's context into the record's headers; a consumer reads
// it back with Tracer.Extract. A Meter records the semantic conventions'
// messaging.client.sent.messages and messaging.client.operation.duration
// and kprod's batch, request, retry and producer id metrics
// (kprod.producer.*). Both are producer hooks:
//
//	otel.SetTextMapPropagator(propagation.TraceContext{}) // the global default propagates nothing
//	tracer := kprodotel.NewTracer(kprodotel.WithClientID("orders"))
//	meter, err := kprodotel.NewMeter(kprodotel.WithClientID("orders"))
//	...
//	p, err := producer.New(producer.WithBrokers(addrs...), producer.WithClientID("orders"),
//		producer.WithHooks(tracer, meter))
//
// Without options both use the global providers and propagator of package
// otel, as they are when NewTracer and NewMeter run; the Tracer falls back to
// W3C Trace Context when the global propagator writes nothing.
//
// Failed records carry error.type: the name of the producer's error
// (record_too_large, delivery_timeout, unknown_topic, buffer_full, ...),
// else the Kafka error code a broker answered (MESSAGE_TOO_LARGE, ...), else
// _OTHER.
package kprodotel

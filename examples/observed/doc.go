// Command observed is a small HTTP service that produces one Kafka record
// per request and shows how a production service watches kprod: traces
// through OpenTelemetry (package kprodotel) and metrics for Prometheus
// (package kprodprom), both installed with producer.WithHooks.
//
// POST /events?topic=T with the event as the body writes one record to
// topic T (one of -topics; the first by default) and answers 202 Accepted
// with the record's partition, offset and trace id once it is
// acknowledged. The request's span (continuing the caller's trace when a
// traceparent header came with it) is the parent of the record's send
// span, and the record carries that span's context in a traceparent
// header, so a consumer can continue the trace. GET /metrics serves the
// producer's metrics in Prometheus' text format. Finished spans are
// written to standard output as JSON.
//
// It lives in a Go module of its own, as the adapters do, so their
// dependencies stay out of the core module. With no -brokers it starts an
// embedded three-broker cluster:
//
//	cd examples/observed && go run .
//	curl -i -d 'hello' 'localhost:8080/events?topic=events'
//	curl -s localhost:8080/metrics | grep kprod_
package main

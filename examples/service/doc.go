// Command service is a small HTTP service that produces one Kafka record per
// request, written the way a production service should be and tested the
// way producertest makes easy.
//
// POST /events with the event as the body (and optionally a "key" query
// parameter or X-Event-Key header, which becomes the record key) answers
// 202 Accepted with the record's partition and offset once the record is
// acknowledged; 503 Service Unavailable when it could not be written (the
// client may retry); 400 Bad Request for a record Kafka refuses whatever
// happens (too large, ...).
//
// On SIGTERM (or Ctrl-C) it shuts down within a deadline: the HTTP server
// stops accepting connections and waits for the requests in progress (each
// waits for its record's acknowledgement), then the producer sends what is
// buffered and closes. Whatever is still unanswered when the deadline passes
// fails with 503.
//
// The handler takes a producer.Client, so its unit tests hand it a
// producertest.MockProducer (handler_test.go); the integration tests run the
// whole service against producertest's embedded cluster with injected
// produce faults (service_test.go).
//
// With no -brokers it starts an embedded three-broker cluster:
//
//	go run ./examples/service
//	curl -i -d 'hello' 'localhost:8080/events?key=user-1'
//	go run ./examples/service -brokers localhost:9092 -topic events -addr :8080
package main

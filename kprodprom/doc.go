// Package kprodprom exports a kprod producer's metrics to Prometheus. New
// returns a Metrics that is both the producer's hooks (records, batches,
// retries, requests, producer id resets, as they happen) and a
// prometheus.Collector; Watch adds the gauges read from the producer at
// each scrape (buffer memory, produce requests in flight). It lives in its
// own Go module so the core module does not depend on client_golang.
//
// Wiring:
//
//	m := kprodprom.New()
//	p, err := producer.New(producer.WithBrokers(addrs...), producer.WithHooks(m))
//	if err != nil { ... }
//	m.Watch(p)
//	prometheus.MustRegister(m) // or reg.MustRegister(m) on a registry of your own
//
// # Metrics
//
// With the default namespace "kprod" (WithNamespace changes the prefix;
// WithConstLabels adds fixed labels to all of them):
//
//	name                                   type       labels       what
//	kprod_records_sent_total               counter    topic        records acknowledged by the brokers
//	kprod_records_failed_total             counter    topic        records answered with an error: refused by Send, or not delivered
//	kprod_record_bytes_sent_total          counter    topic        encoded bytes of acknowledged records (uncompressed)
//	kprod_send_ack_latency_seconds         histogram  topic        Send → acknowledgement of each acknowledged record
//	kprod_records_retried_total            counter    topic        records in batches sent again after a retriable error
//	kprod_batches_written_total            counter    topic        batches acknowledged by the brokers
//	kprod_batch_bytes                      histogram  topic        size of each acknowledged batch as written (compressed, with header)
//	kprod_batch_records                    histogram  topic        records in each acknowledged batch
//	kprod_batch_uncompressed_bytes_total   counter    topic        bytes of the acknowledged batches before compression
//	kprod_producer_id_resets_total         counter                 moves to a new producer id or epoch to recover from an error
//	kprod_request_latency_seconds          histogram  broker, api  request written → answered (or failed), every request kind
//	kprod_request_errors_total             counter    broker, api  requests that failed: timed out, connection lost, not written
//	kprod_request_throttle_seconds_total   counter    broker       quota throttle time stated by the brokers
//	kprod_requests_in_flight               gauge      broker       requests written and not yet answered, every request kind
//	kprod_buffer_bytes_in_use              gauge                   buffer.memory held by unacknowledged records (Watch)
//	kprod_buffer_bytes_available           gauge                   buffer.memory free for new records (Watch)
//	kprod_produce_requests_in_flight       gauge                   produce requests written and not yet answered (Watch)
//	kprod_callback_panics_total            counter                 panics recovered from callbacks, interceptors and hooks (Watch)
//
// topic is the record's topic; records refused because their topic is no
// valid Kafka topic name count under topic="<invalid>". broker is the
// broker's node id, negative (-1, -2, ...) for a bootstrap address before
// the cluster's brokers are known. api is the request's name in the Kafka
// protocol: Produce, Metadata, InitProducerId, ...
//
// The compression ratio is
// rate(kprod_batch_bytes_sum[5m]) / rate(kprod_batch_uncompressed_bytes_total[5m]).
//
// The latency histograms have buckets from 0.5 ms to 10 s
// (WithLatencyBuckets changes them), kprod_batch_bytes from 256 B to 1 MiB,
// doubling, and kprod_batch_records from 1 to 16384, doubling.
//
// # Cost
//
// Each topic's series (and each broker's and request kind's) are resolved
// once, when first seen; after that a record costs a few atomic additions,
// with no label lookup and no allocation. It reads nothing of the
// caller's records (sizes come from producer.Ack.Size), so callers may
// reuse a record once Send returns, hook or not.
package kprodprom

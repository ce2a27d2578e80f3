// Command perf is kprod's producer performance test, the counterpart of
// Kafka's kafka-producer-perf-test: it sends -records records of -record-size
// bytes as fast as it can (or at -throughput records/s), measures each
// record's send→callback latency, prints progress about once a second and
// ends with one summary line:
//
//	records=N bytes=B seconds=S records_per_sec=R mb_per_sec=M latency_avg_ms=A latency_p50_ms=P50 latency_p99_ms=P99 latency_max_ms=X errors=E
//
// With no -brokers it starts an embedded kfake cluster in this process
// (-blackhole makes it discard what it is sent, which keeps broker storage out
// of the figures). Producer settings come from the flags -acks, -linger,
// -batch-size, -compression and -idempotent (each applied only when given, so
// the producer's own defaults hold otherwise) and from -producer-props, which
// takes Java property names:
//
//	go run ./examples/perf -records 1000000 -record-size 100
//	go run ./examples/perf -brokers localhost:9092 -topic perf -throughput 10000 \
//		-producer-props linger.ms=0,compression.type=lz4
//
// The exit status is 0 only when every record was acknowledged.
package main

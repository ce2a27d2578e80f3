// Command benchcmp measures kprod's producer side by side with the producers
// users choose between — franz-go's kgo, IBM/sarama, segmentio/kafka-go,
// confluent-kafka-go (librdkafka) and the Java producer — and with a ceiling
// client, on the same machine, against the same broker, in the same run.
// It is a Go module of its own (the peers' dependencies, cgo included, stay
// out of kprod's go.mod), so it runs from its folder:
//
//	cd examples/benchcmp
//	go run .                                        # kfake blackhole, every client and workload
//	go run . -broker kafka -svg ../../docs/benchmarks.svg   # real Apache Kafka (run kafka/fetch.sh once)
//	go run . -workloads a,e -libs kprod,kgo,ceiling -runs 7
//
// The broker (-broker) is either one kfake broker that acknowledges produce
// requests without storing them (BlackholeProduce: what limits a run is the
// client), in a process of its own, or one real Apache Kafka 4.4 node
// (KRaft) started from the jars kafka/fetch.sh caches, as a child process
// stopped by its pid. The broker's CPU time per record is read from its
// /proc/<pid>/stat around every run.
//
// Every run is a fresh child process, so its CPU time (rusage), allocation
// count and peak resident memory belong to one client alone; runs alternate
// clients within a workload (A B C … A B C …), and the report gives medians
// with each client's ratio to kprod and the min–max spread. The Go clients
// run in the re-executed benchcmp binary; the Java producer runs as Kafka's
// own ProducerPerformance tool (see java.go for how its figures are read).
// Before each workload, one unmeasured run of the ceiling client warms the
// broker (-broker-warmup).
//
// The workloads, each client configured alike — acks=all, idempotence on
// (sarama allows it only with one request in flight; kafka-go has no
// idempotent producer), the workload's linger.ms, batch.size and
// compression.type:
//
//	a  100-byte values, no compression, linger 5ms, batch.size 16 KiB, as fast as possible
//	b  1 KiB values, lz4, otherwise as a
//	c  100-byte values, zstd, otherwise as a
//	d  100-byte values at a steady 10,000 records/s with linger 0: latency (9 runs by default)
//	e  as a with 64 KiB batches
//	f  as a with 1,000 distinct keys over a topic of 12 partitions
//
// Every record is sent with a callback that notes its send→callback latency
// (one in -sample for throughput workloads, all for d). The ceiling client
// (ceiling.go) sends produce requests encoded before the clock starts, as
// fast as the broker answers them: what no client can beat on this broker
// and machine.
//
// The report is Markdown: a table per workload (records/s, client CPU µs
// per record, allocations per record for the Go clients, broker CPU µs per
// record, records per batch and request where the client says, latency for
// d, peak RSS), then issue 14's targets with a verdict each — met, missed,
// or "not measured" when a client they name did not run — then every run's
// figures. -svg also draws records/s and CPU µs per record per client and
// workload as an SVG chart.
package main

// Command benchcmp measures kprod's producer side by side with franz-go's
// kgo producer, on the same machine, against the same broker, in the same
// run:
//
//	go run ./examples/benchcmp                     # every workload, 5 runs each
//	go run ./examples/benchcmp -workloads a,d -runs 7 -records 2000000
//
// It starts one kfake broker that acknowledges produce requests without
// storing records (BlackholeProduce) in a process of its own, then runs each
// workload in fresh child processes, kprod and kgo alternately (A B A B …),
// so that every run's CPU time, allocation count and peak resident memory
// belong to one producer alone. The workloads:
//
//	a  100-byte values, no compression, acks=all, idempotent, linger 5ms, as fast as possible
//	b  1 KiB values, lz4, otherwise as a
//	c  100-byte values, zstd, otherwise as a
//	d  100-byte values at a steady 10,000 records/s with linger 0: latency
//
// Every record is sent with a callback that notes its send→callback latency;
// both drivers recycle their per-record state, so the harness itself
// allocates nothing per record. The report is a Markdown table of medians
// with the kprod/kgo ratio of records/s, CPU µs per record, allocations per
// record, peak RSS and (for d) p50/p99 latency, each checked against the
// project's targets.
package main

// Package producer is kprod's Kafka producer: the public API (Producer,
// Record, Future, options, errors), the record accumulator that batches
// records per partition as they are sent, the buffer pool that bounds their
// memory, and the sender goroutine that drains batches to partition leaders,
// retries in order and answers every record exactly once.
//
// A record travels: Send → interceptors → partitioner → encoded into its
// partition's open batch (so the caller's buffers are free at once); the
// batch is closed when full, after linger, or on Flush/Close → finished
// (compressed) by the sender → drained per leader into a produce request →
// answered through the record's Future and callback. docs/ARCHITECTURE.md
// walks the same path through the files.
//
// Defaults are the Java producer's (acks=all, idempotence on, linger 5ms,
// batch.size 16 KiB, buffer.memory 32 MiB, ...); WithProperties accepts the
// Java property names.
//
// Code that sends records can take a Client (or TxnClient) instead of a
// *Producer: package producer/producertest has a MockProducer for unit tests
// and an embedded cluster with fault hooks for integration tests.
package producer

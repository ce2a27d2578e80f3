// Command eos is a consume-transform-produce pipeline that reads and writes
// exactly once: it reads an input topic in a consumer group (franz-go's kgo
// consumer, read_committed), upper-cases each record's value, and writes it
// with the same key to an output topic through kprod's transactional
// producer, committing the consumed offsets in the same transaction.
//
// Each polled batch is one transaction:
//
//	BeginTransaction
//	Send the transformed records
//	SendOffsetsToTransaction(next offset per input partition, group metadata)
//	CommitTransaction
//
// so the output records and the input position become visible together or
// not at all. When a transaction cannot commit (an abortable error) it is
// aborted and the consumer rewinds to the committed offsets, by starting a
// new consumer, which resumes there. A fenced producer (another instance
// took over the transactional id) stops.
//
// An instance that dies mid-transaction leaves nothing behind that a reader
// could see: the next instance with the same transactional id fences it
// when it calls InitTransactions, which aborts the open transaction, and
// its consumer resumes at the offsets the last committed transaction
// recorded. The tests kill an instance this way and check that every input
// record appears in the output exactly once, in input order per partition.
//
// A record that can never be written (larger than max.request.size, say)
// makes every attempt of its transaction abort; a real service would route
// it to a dead-letter topic rather than retry forever.
//
// With no -brokers flag the program starts an embedded three-broker cluster
// (kfake), fills the input topic and processes it; with -brokers it runs
// against your cluster until it has processed -records records (0: until
// interrupted).
//
//	go run ./examples/eos
//	go run ./examples/eos -brokers localhost:9092 -input in -output out -records 0
package main

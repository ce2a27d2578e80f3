// Command transactional shows kprod's transactional producer in its classic
// shape: InitTransactions once, then BeginTransaction, Send,
// CommitTransaction for every unit of work that must land all together or
// not at all.
//
// It commits one transaction of three records, then writes two records in a
// second transaction and aborts it on purpose. Errors are handled as a
// transactional producer must: a fenced producer (another instance took over
// its transactional id) closes and the program exits non-zero; an abortable
// error aborts the transaction and tries the work again.
//
// It then reads the topic back with franz-go's kgo consumer. A
// read_uncommitted reader sees all five records in the log; a read_committed
// reader must see exactly the three committed ones. The program exits 0 only
// if it does.
//
// With no flags it runs against an embedded three-broker cluster (kfake);
// -brokers points it at a real cluster, where the topic must exist.
//
//	go run ./examples/transactional
//	go run ./examples/transactional -brokers localhost:9092 -topic payments
package main

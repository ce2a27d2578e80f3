// Package txn holds what kprod's transactional producer needs beyond
// idempotence: the transaction state machine and the client of the
// transaction and group coordinators.
//
// [Machine] is the state machine. Its one table of valid transitions
// decides which of the producer's calls (InitTransactions,
// BeginTransaction, CommitTransaction, AbortTransaction,
// SendOffsetsToTransaction) may run now; a call out of order gets a
// [*StateError] matching [ErrInvalidState]. The sender reports records
// that failed inside a transaction with [Machine.Fail].
//
// [Client] speaks the protocol. It finds the coordinator of the
// transactional id with FindCoordinator and follows it when it moves,
// obtains the producer id and epoch with InitProducerId (which fences
// older producers with the same transactional id), registers partitions
// with AddPartitionsToTxn, joins consumer offsets to the transaction with
// AddOffsetsToTxn and TxnOffsetCommit (the latter to the group's own
// coordinator), and ends transactions with EndTxn. Retriable coordinator
// errors are retried; CONCURRENT_TRANSACTIONS after a short backoff.
//
// Two protocol generations are spoken. In the classic flow partitions are
// added explicitly and the epoch stays the same across transactions. With
// transactions v2 (KIP-890; [Client.V2]) the broker adds partitions when
// the first Produce v12+ batch arrives, TxnOffsetCommit v5+ adds the
// group, and every EndTxn returns a new epoch for the next transaction.
//
// Errors classify with errors.Is: [ErrFenced] and [ErrFatal] end the
// producer, [ErrAbortable] ends the transaction, [ErrTimeout] says the
// same call may be made again.
//
// A typical transaction, as the producer drives it:
//
//	m := txn.NewMachine()
//	c := txn.NewClient(pool, txn.Config{TransactionalID: "orders-1"})
//	_ = m.Transition(txn.Initializing)
//	id, err := c.InitProducerID(ctx, idempotence.None)
//	if err != nil {
//		m.Fail(err, true)
//		return err
//	}
//	_ = m.Transition(txn.Ready)
//	_ = m.Transition(txn.InTransaction)
//	if !c.V2() {
//		err = c.AddPartitions(ctx, id, map[string][]int32{"orders": {0}})
//	}
//	// ... produce transactional batches with id, wait for their acks ...
//	_ = m.Transition(txn.Committing)
//	id, err = c.EndTxn(ctx, id, true)
//	_ = m.Transition(txn.Ready)
package txn

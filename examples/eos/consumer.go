package main

import "github.com/twmb/franz-go/pkg/kgo"

// newConsumer joins the group that reads the input topic. It reads only
// committed records, commits offsets only through the producer's
// transactions, and starts where the last committed transaction left the
// group's offsets (waiting while a transaction that commits offsets is
// still open). Rebalances wait while polled records are being processed, so
// the offsets a transaction commits belong to partitions this member still
// owns.
func newConsumer(cfg config) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(cfg.brokers...),
		kgo.ClientID("eos-"+cfg.txnID),
		kgo.ConsumerGroup(cfg.group),
		kgo.ConsumeTopics(cfg.input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.RequireStableFetchOffsets(), // always on in current kgo; stated for older versions
		kgo.BlockRebalanceOnPoll(),
	)
}

// Package metadata keeps kprod's view of the cluster: which brokers exist
// and, for every topic the producer uses, its partitions and their
// leaders.
//
// A [Client] refreshes on demand — when a topic is first needed
// ([Client.Wait]), when the sender reports a stale leader
// ([Client.Trigger]) — and every [Config.MaxAge] for the topics in use,
// never more often than once per [Config.MinInterval]. Each refresh sends
// one Metadata request through the connection pool, hands the broker
// addresses to it, and publishes an immutable snapshot, so that
// [Client.Topic], on every record's path, is a lock-free map lookup.
//
//	md := metadata.New(pool, metadata.Config{AllowAutoCreate: true})
//	defer md.Close()
//	t, err := md.Wait(ctx, "orders")
//	if errors.Is(err, metadata.ErrUnknownTopic) {
//		// a broker answered that the topic does not exist, until ctx ended
//	}
package metadata

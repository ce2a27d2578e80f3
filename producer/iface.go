package producer

import "context"

// Client is what a service calls to send records: take a Client rather than
// a *Producer and tests can hand it a producertest.MockProducer instead.
// Every method behaves as documented on Producer.
type Client interface {
	Send(ctx context.Context, rec *Record, cb Callback) Future
	TrySend(ctx context.Context, rec *Record, cb Callback) Future
	SendSync(ctx context.Context, rec *Record) (RecordMetadata, error)
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// TxnClient is a Client that also runs transactions (a producer with a
// transactional id); both *Producer and producertest.MockProducer
// implement it.
type TxnClient interface {
	Client
	InitTransactions(ctx context.Context) error
	BeginTransaction() error
	SendOffsetsToTransaction(ctx context.Context, offsets map[string]map[int32]OffsetAndMetadata, group GroupMetadata) error
	CommitTransaction(ctx context.Context) error
	AbortTransaction(ctx context.Context) error
}

var _ TxnClient = (*Producer)(nil)

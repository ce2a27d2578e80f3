package batch

import "errors"

// Sentinel errors of the package. Errors returned by this package wrap one of
// them, so callers classify with errors.Is.
var (
	// ErrUnknownCodec reports a compression codec name or number that
	// Kafka does not define.
	ErrUnknownCodec = errors.New("batch: unknown compression codec")

	// ErrInvalidLevel reports a compression level outside the range its
	// codec accepts.
	ErrInvalidLevel = errors.New("batch: invalid compression level")

	// ErrCorrupt reports compressed or encoded data that cannot be read
	// back, including data that would decompress beyond MaxDecompressedSize.
	ErrCorrupt = errors.New("batch: corrupt data")

	// ErrEmpty reports an attempt to close a batch that holds no record;
	// brokers reject empty batches.
	ErrEmpty = errors.New("batch: batch has no records")

	// ErrTooLarge reports a batch whose size or record count does not fit
	// the batch header's int32 fields.
	ErrTooLarge = errors.New("batch: batch too large")

	// ErrCompression reports a codec that failed to compress a batch.
	ErrCompression = errors.New("batch: compression failed")

	// ErrFinished reports an attempt to finish a batch that is already finished.
	ErrFinished = errors.New("batch: batch already finished")
)

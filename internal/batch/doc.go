// Package batch builds Kafka v2 record batches ("magic 2", brokers 0.11 and
// later) for a producer that cares about speed.
//
// A [Builder] is one partition's open batch. Each record is encoded into the
// batch's own buffer the moment it is appended, so the caller may reuse its
// key and value slices at once. [Builder.Finish] writes the 61-byte header and
// compresses the records section once, in place, with a [Compressor].
// [Builder.Stamp] writes the producer id, epoch, base sequence and
// transactional bit into a finished batch without touching the records: the
// CRC is recomputed from the header alone and the stored CRC of the records,
// so stamping costs the same for a 1 KiB batch and a 1 MiB one, and may be
// repeated when a retry needs new values.
//
// The codecs are the ones a Kafka broker understands: gzip, snappy (written
// in the xerial framing the Java producer uses), lz4 (an LZ4 frame with
// independent 64 KiB blocks) and zstd. Compression levels follow the Java
// producer's compression.<codec>.level settings. [Decompress] reads every
// codec back, bounds its output and reports bad input as [ErrCorrupt].
//
// Appending, sizing, closing and stamping allocate nothing once a batch's
// buffer and the package's pools are warm; the package imports nothing else
// of this module.
package batch

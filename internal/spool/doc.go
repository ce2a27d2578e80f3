// Package spool keeps closed record batches in append-only segment files on
// disk while Kafka cannot take them (unreachable brokers, full buffer
// memory), so that a producer restarted on the same directory, even after a
// kill -9, finds them and sends them again before anything new.
//
// The spool stores and returns bytes; it does not interpret them. Each entry
// is the caller's metadata blob (topic, partition, producer id, epoch,
// sequence, in whatever encoding the caller likes) and the batch bytes, plus
// an id the spool assigns, increasing in append order. Batches are stamped
// with their producer id, epoch and base sequence before they are spooled, so
// a batch sent twice (once before a crash, once on replay) is de-duplicated by
// the broker, as long as the broker still knows the producer id; the spool
// persists acknowledgements too, so a batch acknowledged long ago is not
// sent again after the broker may have forgotten it.
//
// The files of a spool directory:
//
//	LOCK                              held with flock by the one open Spool
//	<first id, 20 digits>.seg         a segment: frames, see frame.go
//	<first id, 20 digits>.seg.tmp     a quarantined segment's valid prefix being rewritten
//	<first id, 20 digits>.seg.quarantined  a segment with corruption, never read again
//
// The life of an entry: appended (Append: framed and written to the current
// segment; durable once synced, see SyncPolicy) → pending (readable by id
// with Read; returned by Open after a restart, in append order) → done
// (Done: the broker acknowledged it; a done frame naming it is written to
// the current segment before Done returns, and synced with the next fsync
// of the policy, so Open no longer returns it, even after a kill -9) →
// deleted (its segment's file removed once every entry in it and in every
// older segment is done, and it is not the current segment). Segments go
// only as a prefix of the list because a done frame lives in its entry's
// segment or a newer one: deleting the newer one while the entry's stayed
// would bring the entry back.
//
// Open recovers what a crash may leave: a torn frame at the end of the last
// segment is cut off; a corrupt frame anywhere else sends the rest of its
// segment to quarantine (the file is renamed, the entries before the
// corruption are kept and returned). Report says what was cut and why.
package spool

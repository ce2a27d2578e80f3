package spool

import (
	"fmt"
	"time"
)

// SyncPolicy says when the current segment is fsynced, which decides when an
// appended entry, or a Done's frame, survives a crash of the machine (a
// crash of the process alone loses nothing that Append or Done wrote,
// whatever the policy).
type SyncPolicy int

const (
	// SyncAlways fsyncs the segment before Append returns: the entry is
	// durable when Append returns (and so is every done frame before it).
	SyncAlways SyncPolicy = iota
	// SyncInterval fsyncs the segment every Options.SyncEvery if anything
	// was written; Durable reports how far that got, Sync forces it.
	SyncInterval
	// SyncNever leaves writing back to the OS; the segment is still synced
	// when it is rolled, on Sync and on Close.
	SyncNever
)

// Defaults for the zero values of Options.
const (
	DefaultSegmentBytes = 64 << 20
	DefaultMaxBytes     = 1 << 30
	DefaultSyncEvery    = 100 * time.Millisecond

	// MaxFrameBytes bounds an entry's metadata and data together. It is a
	// constant, not an option, because Open judges frames on disk by it: a
	// frame claiming more is corrupt, whoever wrote it.
	MaxFrameBytes = 128 << 20
)

// Options configure a Spool; the zero value takes every default.
type Options struct {
	// SegmentBytes bounds a segment file (default 64 MiB): an Append that
	// would take the current segment past it starts a new one first. An
	// entry larger than this gets a segment alone. Done frames never start
	// a segment (that would fsync), so they may take one past the bound.
	SegmentBytes int64
	// MaxBytes bounds the bytes of all segments not yet deleted, counting
	// the frames of done entries and the done frames until their segment
	// goes (default 1 GiB). Only Append is refused for it: done frames,
	// which lead to room being freed, may take the bytes a little past.
	MaxBytes int64
	// Sync is the fsync policy (default SyncAlways).
	Sync SyncPolicy
	// SyncEvery is SyncInterval's period (default 100 ms).
	SyncEvery time.Duration
	// MetaOnly makes Open return entries without their data (Data nil,
	// DataLen set; Read gives the data): a large spool is then recovered
	// without holding its bytes in memory. Open still reads and checks
	// every frame.
	MetaOnly bool
}

// withDefaults checks o and fills in its zero values.
func (o Options) withDefaults() (Options, error) {
	if o.SegmentBytes < 0 || o.MaxBytes < 0 || o.SyncEvery < 0 {
		return o, fmt.Errorf("spool: negative option in %+v", o)
	}
	if o.Sync < SyncAlways || o.Sync > SyncNever {
		return o, fmt.Errorf("spool: unknown sync policy %d", o.Sync)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	return o, nil
}

package spool

import "errors"

var (
	// ErrLocked reports an Open of a directory another Spool holds open, in
	// this process or another.
	ErrLocked = errors.New("spool: directory locked by another spool")

	// ErrClosed reports a call on a Spool after Close.
	ErrClosed = errors.New("spool: closed")

	// ErrFull reports an Append that would take the pending bytes over
	// Options.MaxBytes; nothing was written.
	ErrFull = errors.New("spool: full")

	// ErrDiskFull reports an Append the file system had no room for
	// (ENOSPC). The partial frame was cut off again and the spool stays
	// usable. The error matches syscall.ENOSPC with errors.Is as well.
	ErrDiskFull = errors.New("spool: disk full")

	// ErrTooLarge reports an Append whose metadata and data together exceed
	// MaxFrameBytes.
	ErrTooLarge = errors.New("spool: entry too large")

	// ErrNotPending reports a Done, DoneMany or Read of an id that is not
	// pending: never appended, already done, or in a segment already
	// deleted.
	ErrNotPending = errors.New("spool: id not pending")

	// ErrDoneUnwritten reports a Done or DoneMany whose done frame could
	// not be written (the cause is wrapped: ErrDiskFull when the disk is
	// full). The ids are done all the same: segments they complete are
	// deleted, which is how a full disk gets room back. Their frame is
	// written with the next Done, Sync or Close that can; a crash before
	// that returns the entries again from Open (Stats.DoneUnwritten counts
	// them meanwhile).
	ErrDoneUnwritten = errors.New("spool: done frame not written")

	// ErrBroken reports a call on a Spool whose files are in an unknown
	// state after a failed fsync or a failed cut of a partial frame; the
	// cause is wrapped too. Close it and Open the directory again, which
	// recovers the files.
	ErrBroken = errors.New("spool: broken by an earlier i/o error")

	// ErrCorrupt is matched by the reasons in Report.Quarantined: a frame
	// with a bad CRC, an impossible header, an id not above the one before
	// it, or a truncated frame in a segment that is not the last; and by
	// Read's error for a frame that fails its CRC or is not where and what
	// it was when written.
	ErrCorrupt = errors.New("spool: corrupt segment")
)

package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/spool"
)

// spooler is the producer's side of the disk spool (WithSpool): which closed
// batches go to disk and when, reading them back to send them, the stamps
// they carry on disk, and when their records become durable. The sender
// goroutine owns it and every field below but refusedErr; the spool
// (internal/spool) holds the files. nil without WithSpool.
//
// The rules it keeps, so that a batch is never written twice by a replay:
//   - A batch carries on disk the stamp (producer id, epoch, base sequence)
//     it is sent under: a batch stamped after it was spooled gets a stamp
//     entry, written before the batch goes out under that stamp.
//   - Stamps are given in queue order (a partition's sequences follow its
//     queue); replay sends a partition's stamped batches in sequence order,
//     then its unstamped ones in queue order (each entry says where it
//     was: life and order).
//   - An entry is done (Spool.Done) when its batch was answered, except
//     when the producer is closing or failed: then it stays for the next
//     producer on the directory, and its records are answered ErrSpooled.
type spooler struct {
	sp   *spool.Spool
	cfg  *spoolConfig
	log  *slog.Logger
	m    *metrics
	meta []byte // metadata scratch

	durableWait []durableRef // spooled batches whose records are not yet durable, by spool id
	reported    uint64       // spool ids up to this one were polled from Spool.Durable
	unsynced    bool         // SyncAlways: something was written since the last Sync

	// Batches read back from disk use buffers outside buffer.memory, at
	// most reloadLimit bytes together, so the spool drains even while Send
	// keeps buffer.memory full.
	reloadUsed, reloadLimit int
	spareBufs               [][]byte // read-back buffers for reuse; with reloadUsed, within reloadLimit
	spareBytes              int

	foreign int    // replayed batches stamped by an earlier producer, not yet answered
	life    uint64 // this producer's mark on its entries: above every id left by earlier ones

	refused error     // why the last Append failed (full, disk full); nil when it worked
	retryAt time.Time // when to try spooling again after a refusal
	// refusedErr is refused for Send's goroutines, which add it to
	// ErrBufferFull; the only field not owned by the sender.
	refusedErr atomic.Pointer[error]
	scratch    []*recBatch
}

// durableRef is a spooled batch's records waiting to be durable; results
// are never reused, so a batch answered meanwhile is harmless here.
type durableRef struct {
	id  uint64
	res *result
	n   int
}

// openSpool opens the spool directory and queues what an earlier producer
// left in it (replay.go) before the sender starts.
func openSpool(cfg *config, acc *accumulator, m *metrics) (*spooler, error) {
	// MetaOnly: the replay reads each batch back when it goes out, so a
	// restart on a large spool does not hold it all in memory.
	opts := spool.Options{MaxBytes: cfg.spool.maxBytes, SyncEvery: cfg.spool.syncEvery, MetaOnly: true}
	switch cfg.spool.sync {
	case SyncAlways, SyncNever:
		opts.Sync = spool.SyncNever // SyncAlways: the spooler syncs each group of appends itself
	case SyncInterval:
		opts.Sync = spool.SyncInterval
	}
	sp, entries, report, err := spool.Open(cfg.spool.dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: kprod.spool.dir (WithSpool): %w", ErrInvalidConfig, err)
	}
	s := &spooler{sp: sp, cfg: &cfg.spool, log: cfg.logger, m: m,
		reloadLimit: int(min(max(cfg.bufferMemory/4, int64(2*cfg.maxRequestSize)), 16<<20))}
	s.noteReport(report)
	s.replay(acc, entries)
	return s, nil
}

// noteReport counts and logs what Open cut and quarantined.
func (s *spooler) noteReport(r spool.Report) {
	s.m.spoolTorn.Add(int64(r.TornFrames))
	s.m.spoolQuarantined.Add(int64(len(r.Quarantined)))
	if r.TornFrames > 0 {
		s.logf(slog.LevelWarn, "spool: cut a torn write at the end of the last segment (never reported durable)",
			"frames", r.TornFrames, "bytes", r.TornBytes)
	}
	for _, q := range r.Quarantined {
		s.logf(slog.LevelError, "spool: corrupt segment quarantined; its entries after the corruption are not replayed",
			"file", q.File, "offset", q.Offset, "bytes", q.Bytes, "err", q.Err)
	}
}

func (s *spooler) logf(level slog.Level, msg string, args ...any) {
	if s.log != nil {
		s.log.Log(context.Background(), level, "kprod: "+msg, args...)
	}
}

// step runs once per sender step: it reports what became durable and moves
// batches to disk under memory pressure or an outage. It returns when it
// wants to look again.
func (sp *spooler) step(s *sender, now time.Time) time.Time {
	next := now.Add(time.Minute)
	if sp.refused != nil && now.Before(sp.retryAt) {
		next = sp.retryAt
	} else {
		pressure := s.bufs.waiting()
		for _, p := range s.acc.partitions() {
			outage, due := sp.stuck(s, p, now)
			if !outage {
				next = minTime(next, due)
			}
			if !outage && !pressure {
				continue
			}
			if !sp.spoolPartition(s, p, !outage) {
				next = minTime(next, sp.retryAt)
				break
			}
			if pressure && !outage {
				pressure = s.bufs.waiting()
			}
		}
	}
	sp.sync()
	sp.pollDurable(s)
	if len(sp.durableWait) > 0 && sp.cfg.sync == SyncInterval {
		next = minTime(next, now.Add(sp.cfg.syncEvery/2))
	}
	return next
}

// stuck reports whether p is in an outage: batches have waited in its queue
// for the outage time with none acknowledged meanwhile. Otherwise due is
// when it would be, if nothing changes.
func (sp *spooler) stuck(s *sender, p *partition, now time.Time) (outage bool, due time.Time) {
	var head time.Time
	s.acc.eachQueued(p, func(rb *recBatch) bool {
		if rb.finished && !rb.onDisk {
			head = rb.created
			return false
		}
		return true
	})
	if head.IsZero() {
		return false, now.Add(time.Minute)
	}
	since := head
	if p.lastAck.After(since) {
		since = p.lastAck
	}
	due = since.Add(sp.cfg.outage)
	return !due.After(now), due
}

// spoolPartition moves p's queued batches to disk: in an outage every
// finished one; under memory pressure (spareHead) the newest first, sparing
// the head (which may go out soon), until no Send waits for memory. Stamps
// are given in queue order first, when the producer has an id. It returns
// false when the spool refused an append.
func (sp *spooler) spoolPartition(s *sender, p *partition, spareHead bool) bool {
	canStamp := s.ids.id.Valid() && !s.ids.needEpoch && !s.ids.initializing
	list := sp.scratch[:0]
	s.acc.eachQueued(p, func(rb *recBatch) bool {
		if !rb.finished || rb.finishErr != nil {
			return false
		}
		list = append(list, rb)
		return true
	})
	defer func() { clear(list); sp.scratch = list[:0] }()
	for _, rb := range list {
		if canStamp && rb.seq < 0 && !rb.foreign {
			if !s.stampSpooled(p, rb) {
				return false
			}
		}
	}
	if spareHead {
		for i := len(list) - 1; i > 0 && s.bufs.waiting(); i-- {
			if rb := list[i]; !rb.onDisk && !sp.spoolOut(s, rb) {
				return false
			}
		}
		return true
	}
	for _, rb := range list {
		if !rb.onDisk && !sp.spoolOut(s, rb) {
			return false
		}
	}
	return true
}

// spoolOut writes rb to disk (unless it is there already, read back) and
// gives its memory back.
func (sp *spooler) spoolOut(s *sender, rb *recBatch) bool {
	if rb.spoolIDs == nil {
		pid, epoch, seq, stamped := rb.b.Stamped()
		m := spoolMeta{kind: spoolKindBatch, stamped: stamped, topic: rb.part.topic, partition: rb.part.id,
			producerID: pid, epoch: epoch, seq: seq, records: int32(rb.numRecords()), rawLen: int32(rb.b.Len()),
			life: sp.life, order: rb.order}
		if !stamped {
			m.producerID, m.epoch, m.seq = 0, 0, 0
		}
		id, ok := sp.append(&m, rb.b.Bytes())
		if !ok {
			return false
		}
		rb.spoolIDs = append(rb.spoolIDs, id)
		rb.diskLen, rb.rawLen = len(rb.b.Bytes()), rb.b.Len()
		sp.durableWait = append(sp.durableWait, durableRef{id: id, res: rb.res, n: rb.numRecords()})
		sp.m.spooledBatches.Add(1)
		sp.m.spooledRecords.Add(int64(rb.numRecords()))
	}
	sp.release(s, rb)
	rb.b = batch.Builder{}
	rb.onDisk = true
	if !rb.hasCB && len(rb.hooked) == 0 && len(s.cfg.interceptors) == 0 && len(rb.recs) > 0 {
		// Nothing per record is left to answer (no callback, ack hook or
		// interceptor): keep only the count, so an outage of
		// fire-and-forget records holds no memory per record.
		rb.spilled += len(rb.recs)
		rb.recs = nil
	}
	return true
}

// append writes one entry, noting a refusal (the spool full, the disk full)
// so that spooling pauses for a while instead of failing at every step.
func (sp *spooler) append(m *spoolMeta, data []byte) (uint64, bool) {
	sp.meta = m.appendTo(sp.meta[:0])
	id, err := sp.sp.Append(sp.meta, data)
	if err != nil {
		if sp.refused == nil || err.Error() != sp.refused.Error() {
			sp.logf(slog.LevelWarn, "spool: cannot write; batches stay in memory", "err", err)
		}
		sp.m.spoolRefusals.Add(1)
		sp.refused, sp.retryAt = err, time.Now().Add(time.Second)
		sp.refusedErr.Store(&err)
		return 0, false
	}
	if sp.refused != nil {
		sp.refused = nil
		sp.refusedErr.Store(nil)
	}
	sp.unsynced = true
	return id, true
}

// stampSpooled stamps rb, queued in p, with the next sequence; when rb is in
// the spool, the stamp entry goes to disk first, and without it rb is not
// stamped (and cannot go out). Sender goroutine only.
func (s *sender) stampSpooled(p *partition, rb *recBatch) bool {
	if sp := s.spool; sp != nil && rb.spoolIDs != nil {
		m := spoolMeta{kind: spoolKindStamp, stamped: true, topic: p.topic, partition: p.id,
			producerID: s.ids.id.ProducerID, epoch: s.ids.id.Epoch, seq: p.seq.next,
			records: int32(rb.numRecords()), of: rb.spoolIDs[0]}
		id, ok := sp.append(&m, nil)
		if !ok {
			return false
		}
		rb.spoolIDs = append(rb.spoolIDs, id)
	}
	s.stamp(p, rb)
	return true
}

// release gives back the memory rb's bytes hold: a read-back buffer to the
// spooler, a batch buffer to buffer.memory.
func (sp *spooler) release(s *sender, rb *recBatch) {
	if rb.reloaded > 0 {
		sp.reloadUsed -= rb.reloaded
		if buf := rb.reloadBuf; sp.reloadUsed+sp.spareBytes+cap(buf) <= sp.reloadLimit {
			sp.spareBufs = append(sp.spareBufs, buf)
			sp.spareBytes += cap(buf)
		}
		rb.reloaded, rb.reloadBuf = 0, nil
		return
	}
	if !rb.onDisk {
		s.bufs.release(rb.b.Buffer(), rb.reserved)
		rb.reserved = 0
	}
}

// reload reads rb's bytes back from disk so it can go out. It returns false
// when the read-back allowance is used up (rb waits), and fails rb when
// its entry cannot be read.
func (sp *spooler) reload(s *sender, rb *recBatch) bool {
	if sp.reloadUsed > 0 && sp.reloadUsed+rb.diskLen > sp.reloadLimit {
		return false
	}
	var buf []byte
	if n := len(sp.spareBufs); n > 0 {
		buf, sp.spareBufs = sp.spareBufs[n-1], sp.spareBufs[:n-1]
		sp.spareBytes -= cap(buf)
	}
	if need := rb.diskLen + spoolMetaFixed + len(rb.part.topic); cap(buf) < need {
		// Sizes rounded up to 16 KiB, so that spares fit the next batches.
		buf = make([]byte, 0, (need+16<<10-1)/(16<<10)*(16<<10))
	}
	e, err := sp.sp.ReadInto(rb.spoolIDs[0], buf)
	if err == nil {
		err = rb.b.Load(e.Data, rb.rawLen)
	}
	if err != nil {
		sp.m.spoolUnreadable.Add(1)
		sp.logf(slog.LevelError, "spool: a spooled batch cannot be read back; its records fail",
			"topic", rb.part.topic, "partition", rb.part.id, "records", rb.numRecords(), "err", err)
		s.acc.pop(rb.part, rb)
		s.fail(rb, fmt.Errorf("%w: %w", ErrSpoolUnreadable, err))
		return false
	}
	switch {
	case rb.foreign:
		rb.b.Stamp(rb.fpid, rb.fepoch, rb.seq, false) // its latest stamp entry's, maybe newer than the bytes'
	case rb.seq >= 0:
		rb.b.Stamp(s.ids.id.ProducerID, s.ids.id.Epoch, rb.seq, false)
	}
	rb.onDisk = false
	rb.reloadBuf = buf[:0] // the whole buffer (the entry's metadata, then the batch), kept for reuse
	rb.reloaded = max(cap(buf), 1)
	sp.reloadUsed += rb.reloaded
	sp.m.spoolReads.Add(1)
	return true
}

// answered is called as rb is answered: its memory goes back, and its
// entries are done unless fail left it for the next producer on the
// directory (ErrSpooled).
func (sp *spooler) answered(s *sender, rb *recBatch, err error) {
	sp.release(s, rb)
	if rb.spoolIDs == nil {
		return
	}
	if rb.foreign {
		sp.foreign--
	}
	if errors.Is(err, ErrSpooled) {
		return
	}
	if err := sp.sp.DoneMany(rb.spoolIDs); err != nil {
		sp.logf(slog.LevelWarn, "spool: cannot mark a batch done; a restart may send it again (the broker drops it as a duplicate while it remembers the producer)",
			"err", err)
	}
	// Under SyncAlways the done frame is synced at the end of this step, so
	// that after a crash of the machine at most the batches answered in one
	// step (five a partition at most, all within the broker's memory of the
	// producer's last batches) come back as duplicates.
	sp.unsynced = true
}

// sync fsyncs what was written since the last sync, under SyncAlways.
func (sp *spooler) sync() {
	if !sp.unsynced || sp.cfg.sync != SyncAlways {
		return
	}
	sp.unsynced = false
	if err := sp.sp.Sync(); err != nil {
		sp.logf(slog.LevelError, "spool: fsync failed; spooled records are not durable", "err", err)
	}
}

// pollDurable marks the records of spooled batches durable up to what the
// spool has synced.
func (sp *spooler) pollDurable(s *sender) {
	d := sp.sp.Durable()
	if d <= sp.reported {
		return
	}
	sp.reported = d
	i := 0
	for i < len(sp.durableWait) && sp.durableWait[i].id <= d {
		ref := sp.durableWait[i]
		if ref.res.markDurable() && len(s.hooks.durable) > 0 {
			s.hooks.durableBatch(ref.res.topic, ref.res.partition, ref.n)
		}
		i++
	}
	sp.durableWait = slices.Delete(sp.durableWait, 0, i)
}

// close closes the spool after the sender exited: what is still in it stays
// for the next producer on the directory.
func (sp *spooler) close() error {
	sp.sync()
	return sp.sp.Close()
}

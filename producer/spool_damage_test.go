package producer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/brokerproc"
	"github.com/kprod/kprod/internal/spool"
)

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// spooledIDs opens a copy of a spool directory and returns the record ids
// its pending batches hold, and what Open reported.
func spooledIDs(t *testing.T, dir string) (map[int]bool, spool.Report) {
	t.Helper()
	sp, entries, report, err := spool.Open(copyDir(t, dir), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	ids := map[int]bool{}
	for _, e := range entries {
		m, err := parseSpoolMeta(e.Meta)
		if err != nil || m.kind != spoolKindBatch {
			continue
		}
		var b batch.Builder
		if err := b.Load(e.Data, int(m.rawLen)); err != nil {
			t.Fatalf("entry %d: %v", e.ID, err)
		}
		b.EachRecord(func(r batch.Record) bool { ids[valueID(t, r.Value)] = true; return true })
	}
	return ids, report
}

// spoolThroughOutage sends record 0 and waits for it, stops the cluster,
// sends records 1..n and waits until each is durable (spooled and synced).
func spoolThroughOutage(ctx context.Context, t *testing.T, p *Producer, bp *brokerproc.Proc, topic string, n int) []Future {
	t.Helper()
	if _, err := p.SendSync(ctx, &Record{Topic: topic, Value: paddedValue(0, 50)}); err != nil {
		t.Fatal(err)
	}
	if err := bp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	futures := make([]Future, n)
	for i := range n {
		futures[i] = p.Send(ctx, &Record{Topic: topic, Value: paddedValue(1+i, 50)}, nil)
	}
	for i, f := range futures {
		select {
		case <-f.Durable():
		case <-ctx.Done():
			t.Fatalf("record %d not durable: %v", 1+i, ctx.Err())
		}
	}
	return futures
}

// onlySegment is the one segment file of a spool directory.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var largest string
	var size int64
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Size() > size {
			largest, size = s, fi.Size()
		}
	}
	if largest == "" {
		t.Fatalf("no segment with data in %s (%v)", dir, segs)
	}
	return largest
}

// TestSpoolDamagedReplay spools records while the cluster is down, closes
// the producer (its records answered ErrSpooled), damages the spool files
// (a torn tail, a flipped byte in the middle of the segment) and restarts a
// producer on them: it replays the batches whose frames are intact, exactly
// those, once and in order, and reports what it cut and quarantined.
func TestSpoolDamagedReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	const topic, n = "damaged", 3000
	bp, spec := startRestartable(t, 1, topic, 2)
	dir := t.TempDir()
	opts := func(dir string) []Opt {
		return []Opt{WithBrokers(bp.Addrs()...), WithLinger(2 * time.Millisecond), WithBatchSize(2048),
			WithRequestTimeout(time.Second), WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond),
			WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond), WithLogger(testLogger(t)),
			WithSpool(dir, SpoolSync(SyncAlways), SpoolOutageAfter(50*time.Millisecond))}
	}
	p, err := New(opts(dir)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 2*time.Minute)
	futures := spoolThroughOutage(ctx, t, p, bp, topic, n)
	closeCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	p.Close(closeCtx)
	cancel()
	for i, f := range futures {
		if _, err := f.Get(ctx); !errors.Is(err, ErrSpooled) {
			t.Fatalf("record %d: %v, want ErrSpooled", 1+i, err)
		}
	}
	all, _ := spooledIDs(t, dir)
	if len(all) != n {
		t.Fatalf("the spool holds %d of the %d records", len(all), n)
	}
	clusterData := copyDir(t, spec.DataDir)

	for _, tc := range []struct {
		name   string
		damage func(seg string)
		check  func(t *testing.T, r spool.Report, m Metrics)
	}{
		{"intact", func(string) {}, func(t *testing.T, r spool.Report, m Metrics) {
			if m.SpoolTornFrames != 0 || m.SpoolQuarantined != 0 {
				t.Fatalf("nothing damaged, yet %d torn frames and %d quarantined segments reported", m.SpoolTornFrames, m.SpoolQuarantined)
			}
		}},
		{"torn-tail", func(seg string) {
			fi, _ := os.Stat(seg)
			if err := os.Truncate(seg, fi.Size()-100); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, r spool.Report, m Metrics) {
			if r.TornFrames == 0 || m.SpoolTornFrames != int64(r.TornFrames) {
				t.Fatalf("torn frames: the spool saw %d, the producer reported %d", r.TornFrames, m.SpoolTornFrames)
			}
		}},
		{"corrupt-middle", func(seg string) {
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)*2/5] ^= 0x40
			if err := os.WriteFile(seg, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, r spool.Report, m Metrics) {
			if len(r.Quarantined) != 1 || m.SpoolQuarantined != 1 {
				t.Fatalf("quarantined: the spool saw %d, the producer reported %d", len(r.Quarantined), m.SpoolQuarantined)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := copyDir(t, dir)
			tc.damage(onlySegment(t, work))
			want, report := spooledIDs(t, work)
			if tc.name != "intact" && len(want) == n {
				t.Fatal("the damage took no record away: the test proves nothing")
			}
			cspec := spec
			cspec.DataDir = copyDir(t, clusterData)
			cbp := startBrokers(t, cspec)
			defer cbp.Kill()
			q, err := New(opts(work)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			m := q.Metrics()
			if err := q.Close(ctx); err != nil {
				t.Fatal(err)
			}
			tc.check(t, report, m)
			if m.ReplayedRecords != int64(len(want)) || m.RecordsSent != int64(len(want)) || m.ReplayFallbacks != 0 {
				t.Fatalf("replayed %d records, %d acknowledged, %d fallbacks; the intact batches hold %d",
					m.ReplayedRecords, m.RecordsSent, m.ReplayFallbacks, len(want))
			}
			read, err := readLog(cbp.Addrs(), []string{topic}, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]bool{}
			last := map[int32]int{}
			for _, r := range read {
				id := valueID(t, r.Value)
				if got[id] {
					t.Fatalf("record %d twice in the log", id)
				}
				got[id] = true
				if prev, ok := last[r.Partition]; ok && id < prev {
					t.Fatalf("partition %d: %d after %d", r.Partition, id, prev)
				}
				last[r.Partition] = id
			}
			delete(got, 0) // sent before the outage
			if !mapsEqual(got, want) {
				t.Fatalf("the log holds %d spooled records, the intact batches %d", len(got), len(want))
			}
			left, _ := filepath.Glob(filepath.Join(work, "*.seg"))
			t.Logf("%d of %d spooled records replayed (torn frames %d, quarantined %s); %d segment files left",
				len(want), n, m.SpoolTornFrames, strings.Join(quarantinedNames(report), ","), len(left))
		})
	}
}

func mapsEqual(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func quarantinedNames(r spool.Report) []string {
	var out []string
	for _, q := range r.Quarantined {
		out = append(out, filepath.Base(q.File))
	}
	return slices.Clip(out)
}

// TestSpoolUnreadableWhileRunning damages a spooled batch on disk while its
// producer runs (the cluster down): when the cluster returns, that batch's
// records fail with ErrSpoolUnreadable, every other record is written once,
// and the log holds exactly the records answered without error.
func TestSpoolUnreadableWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	const topic, n = "unreadable", 2000
	bp, spec := startRestartable(t, 1, topic, 2)
	dir := t.TempDir()
	p, err := New(WithBrokers(bp.Addrs()...), WithLinger(2*time.Millisecond), WithBatchSize(2048),
		WithRequestTimeout(time.Second), WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond),
		WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond), WithLogger(testLogger(t)),
		WithSpool(dir, SpoolSync(SyncAlways), SpoolOutageAfter(50*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctxTimeout(t, 5*time.Second))
	ctx := ctxTimeout(t, 2*time.Minute)
	futures := spoolThroughOutage(ctx, t, p, bp, topic, n)
	seg := onlySegment(t, dir)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := int64(len(b) / 2)
	if _, err := f.WriteAt([]byte{b[at] ^ 0x10}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bp = startBrokers(t, spec)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ok := map[int]bool{0: true}
	failed := 0
	for i, f := range futures {
		_, err := f.Get(ctx)
		switch {
		case err == nil:
			ok[1+i] = true
		case errors.Is(err, ErrSpoolUnreadable):
			failed++
		default:
			t.Fatalf("record %d: %v", 1+i, err)
		}
	}
	if m := p.Metrics(); failed == 0 || m.SpoolUnreadable != 1 {
		t.Fatalf("%d records failed unreadable, SpoolUnreadable %d; want one batch's records", failed, m.SpoolUnreadable)
	}
	read, err := readLog(bp.Addrs(), []string{topic}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, r := range read {
		id := valueID(t, r.Value)
		if got[id] || !ok[id] {
			t.Fatalf("record %d in the log: twice, or answered with an error", id)
		}
		got[id] = true
	}
	if len(got) != len(ok) {
		t.Fatalf("%d records in the log, %d answered without error", len(got), len(ok))
	}
	t.Logf("one damaged batch: %d records failed with ErrSpoolUnreadable, %d written once", failed, len(ok))
}

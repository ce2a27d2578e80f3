package main

import (
	"fmt"
	"io"
	"time"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

// progress prints a line per interval about the records answered in it,
// until stop is closed.
func progress(w io.Writer, st *loadgen.Tally, interval time.Duration, recordSize int, stop <-chan struct{}) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastSum, lastAt := int64(0), int64(0), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n, sum := st.Answered(), st.LatencySum()
			secs := now.Sub(lastAt).Seconds()
			win := n - last
			avg := 0.0
			if win > 0 {
				avg = float64(sum-lastSum) / float64(win) / 1e6
			}
			fmt.Fprintf(w, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency\n",
				win, float64(win)/secs, float64(win)*float64(recordSize)/secs/(1<<20), avg, float64(st.TakeWindowMax())/1e6)
			last, lastSum, lastAt = n, sum, now
		}
	}
}

// summary is the final line of a run, in the one format scripts parse.
func summary(st *loadgen.Tally, recordSize int, elapsed time.Duration) string {
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	records, n := st.Records(), st.Answered()
	bytes := records * int64(recordSize)
	avg := 0.0
	if n > 0 {
		avg = float64(st.LatencySum()) / float64(n) / 1e6
	}
	return fmt.Sprintf("records=%d bytes=%d seconds=%.3f records_per_sec=%.1f mb_per_sec=%.2f "+
		"latency_avg_ms=%.3f latency_p50_ms=%.3f latency_p99_ms=%.3f latency_max_ms=%.3f errors=%d",
		records, bytes, secs, float64(records)/secs, float64(bytes)/secs/(1<<20),
		avg, float64(st.Quantile(0.50))/1e6, float64(st.Quantile(0.99))/1e6,
		float64(st.MaxLatency())/1e6, st.Errors()+records-n)
}

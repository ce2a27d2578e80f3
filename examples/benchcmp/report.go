package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// bufferMemory is kprod's default buffer.memory; the RSS target is measured
// against it.
const bufferMemory = 32 << 20

// rssAllowance is the overhead over buffer.memory the RSS target allows:
// the growth of peak RSS over the process's RSS before the producer
// started must stay within buffer.memory plus this.
const rssAllowance = 16 << 20

// median is the middle of xs (the mean of the middle two for an even count),
// 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// column pulls one figure out of each result.
func column(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// metric is one row of a workload's table.
type metric struct {
	name string
	get  func(result) float64
	prec int  // decimals
	show bool // only for latency workloads when false
	// applies says whether lib reports the figure (nil: every client).
	applies func(lib string, r result) bool
}

// reportsBatches and reportsRequests: the clients whose batch and request
// counts benchcmp reads.
func reportsBatches(_ string, r result) bool  { return r.RecordsPerBatch > 0 }
func reportsRequests(_ string, r result) bool { return r.RecordsPerRequest > 0 }

// metrics are the rows of each workload's table, in order.
var metrics = []metric{
	{name: "records/s", get: func(r result) float64 { return r.RecordsPerSec }, prec: 0, show: true},
	{name: "CPU µs/record", get: func(r result) float64 { return r.CPUMicrosPerRec }, prec: 3, show: true},
	{name: "allocs/record", get: func(r result) float64 { return r.AllocsPerRec }, prec: 3, show: true,
		applies: func(lib string, _ result) bool { return lib != libJava }},
	{name: "alloc bytes/record", get: func(r result) float64 { return r.BytesPerRec }, prec: 1, show: true,
		applies: func(lib string, _ result) bool { return lib != libJava }},
	{name: "broker CPU µs/record", get: func(r result) float64 { return r.BrokerCPUMicrosPerRec }, prec: 3, show: true},
	{name: "records/batch", get: func(r result) float64 { return r.RecordsPerBatch }, prec: 1, show: true, applies: reportsBatches},
	{name: "records/request", get: func(r result) float64 { return r.RecordsPerRequest }, prec: 1, show: true, applies: reportsRequests},
	{name: "p50 latency ms", get: func(r result) float64 { return r.P50Ms }, prec: 3},
	{name: "p99 latency ms", get: func(r result) float64 { return r.P99Ms }, prec: 3},
	{name: "max latency ms", get: func(r result) float64 { return r.MaxMs }, prec: 3},
	{name: "peak RSS MiB", get: func(r result) float64 { return float64(r.PeakRSSKiB) / 1024 }, prec: 1, show: true},
	{name: "RSS growth MiB", get: func(r result) float64 { return float64(r.PeakRSSKiB-r.StartRSSKiB) / 1024 }, prec: 1, show: true,
		applies: func(lib string, _ result) bool { return lib != libJava }},
}

// outcome is what the runs of one workload gave, per client.
type outcome struct {
	w          workload
	partitions int // of the workload's topic
	runs       map[string][]result
}

// medianOf is the median of m over lib's runs in o; ok is false when lib
// did not run or does not report m.
func (o outcome) medianOf(lib string, m metric) (v float64, ok bool) {
	rs := o.runs[lib]
	if len(rs) == 0 || (m.applies != nil && !m.applies(lib, rs[0])) {
		return 0, false
	}
	return median(column(rs, m.get)), true
}

// clientsOf are the clients that ran in any of outs, in report order.
func clientsOf(outs []outcome) []string {
	var libs []string
	for _, lib := range reportOrder {
		for _, o := range outs {
			if len(o.runs[lib]) > 0 {
				libs = append(libs, lib)
				break
			}
		}
	}
	return libs
}

// writeReport prints, per workload, a Markdown table of medians with each
// client's ratio to kprod and the records/s spread; then the targets and
// their verdicts; then every run's records/s (p99 for latency workloads)
// and peak RSS. It returns how many targets were missed.
func writeReport(w io.Writer, outs []outcome, brokerKind string) (missed int) {
	libs := clientsOf(outs)
	for _, o := range outs {
		fmt.Fprintf(w, "### %s %s (batch.size %d KiB, %d partitions in the topic of this run)\n\n", o.w.name, o.w.title, o.w.batchSize>>10, partitionsOf(o))
		fmt.Fprintf(w, "| metric | %s |\n", strings.Join(libs, " | "))
		fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(libs)))
		for _, m := range metrics {
			if !m.show && !o.w.latency {
				continue
			}
			k, kok := o.medianOf(libKprod, m)
			cells := make([]string, len(libs))
			for i, lib := range libs {
				v, ok := o.medianOf(lib, m)
				switch {
				case !ok:
					cells[i] = "–"
				case lib != libKprod && kok && k > 0:
					cells[i] = fmt.Sprintf("%s (%.2f)", group(v, m.prec), v/k)
				default:
					cells[i] = group(v, m.prec)
				}
			}
			fmt.Fprintf(w, "| %s | %s |\n", m.name, strings.Join(cells, " | "))
		}
		spread := func(name string, get func(result) float64, prec int) {
			cells := make([]string, len(libs))
			for i, lib := range libs {
				cells[i] = spreadCell(o.runs[lib], get, prec)
			}
			fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
		}
		spread("records/s min–max", func(r result) float64 { return r.RecordsPerSec }, 0)
		spread("CPU µs/record min–max", func(r result) float64 { return r.CPUMicrosPerRec }, 3)
		if o.w.latency {
			spread("p99 ms min–max", func(r result) float64 { return r.P99Ms }, 3)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "(ratio to kprod in parentheses; – where a client does not report the figure.)")
	if slices.Contains(libs, libJava) {
		fmt.Fprintln(w, "(java: ProducerPerformance prints its latency percentiles in whole milliseconds, rounded down, and no allocation or batch counts",
			"(records/request is the producer's records-per-request-avg metric); its CPU per record covers the records answered after its warm-up.)")
	}
	fmt.Fprintln(w)

	ts := checkTargets(outs, brokerKind)
	if len(ts) > 0 {
		fmt.Fprintln(w, "| target | workload | figures | verdict |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, t := range ts {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.target, t.workload, t.figures, t.verdict)
			if t.verdict == verdictMissed {
				missed++
			}
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "```")
	for _, o := range outs {
		for _, lib := range reportOrder {
			rs := o.runs[lib]
			if len(rs) == 0 {
				continue
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %-10s records/s per run:", o.w.name, lib)
			for _, r := range rs {
				fmt.Fprintf(&b, " %s", group(r.RecordsPerSec, 0))
			}
			if o.w.latency {
				b.WriteString("; p99 ms:")
				for _, r := range rs {
					fmt.Fprintf(&b, " %.3f", r.P99Ms)
				}
			}
			b.WriteString("; peak RSS MiB:")
			for _, r := range rs {
				fmt.Fprintf(&b, " %.1f", float64(r.PeakRSSKiB)/1024)
			}
			fmt.Fprintln(w, b.String())
		}
	}
	fmt.Fprintln(w, "```")
	return missed
}

// partitionsOf is how many partitions o's topic had (-partitions' default
// when the outcome does not say).
func partitionsOf(o outcome) int {
	if o.partitions > 0 {
		return o.partitions
	}
	return o.w.topicPartitions(3)
}

// spreadCell is "min–max" of a figure over rs, – for no runs.
func spreadCell(rs []result, get func(result) float64, prec int) string {
	if len(rs) == 0 {
		return "–"
	}
	xs := column(rs, get)
	return group(slices.Min(xs), prec) + "–" + group(slices.Max(xs), prec)
}

// group formats v with prec decimals and thousands separators.
func group(v float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, v)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

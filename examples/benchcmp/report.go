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

// metric is one row of the report.
type metric struct {
	name string
	get  func(result) float64
	// target judges the medians of kprod and kgo; it returns the target's
	// text and whether it was met. A nil target is informational.
	target func(w workload, kprod, kgo float64) (string, bool)
	prec   int  // decimals
	show   bool // only for latency workloads when false
}

// ratioAtLeast is a target on the kprod/kgo ratio of a figure.
func ratioAtLeast(min float64) func(workload, float64, float64) (string, bool) {
	return func(_ workload, k, g float64) (string, bool) {
		return fmt.Sprintf("ratio ≥ %.2f", min), g > 0 && k/g >= min
	}
}

// metrics are the report's rows, in order.
var metrics = []metric{
	{name: "records/s", get: func(r result) float64 { return r.RecordsPerSec }, prec: 0, show: true,
		target: func(w workload, k, g float64) (string, bool) {
			switch w.name {
			case "a":
				return ratioAtLeast(1.25)(w, k, g)
			case "b", "c":
				return ratioAtLeast(1.0)(w, k, g)
			}
			return "", true
		}},
	{name: "CPU µs/record", get: func(r result) float64 { return r.CPUMicrosPerRec }, prec: 3, show: true},
	{name: "allocs/record", get: func(r result) float64 { return r.AllocsPerRec }, prec: 3, show: true,
		target: func(_ workload, k, _ float64) (string, bool) { return "kprod ≤ 0.1", k <= 0.1 }},
	{name: "alloc bytes/record", get: func(r result) float64 { return r.BytesPerRec }, prec: 1, show: true},
	{name: "broker CPU µs/record", get: func(r result) float64 { return r.BrokerCPUMicrosPerRec }, prec: 3, show: true},
	{name: "records/batch", get: func(r result) float64 { return r.RecordsPerBatch }, prec: 1, show: true},
	{name: "records/request", get: func(r result) float64 { return r.RecordsPerRequest }, prec: 1, show: true},
	{name: "p50 latency ms", get: func(r result) float64 { return r.P50Ms }, prec: 3},
	{name: "p99 latency ms", get: func(r result) float64 { return r.P99Ms }, prec: 3,
		target: func(_ workload, k, g float64) (string, bool) { return "kprod ≤ kgo", k <= g }},
	{name: "peak RSS MiB", get: func(r result) float64 { return float64(r.PeakRSSKiB) / 1024 }, prec: 1, show: true},
	{name: "RSS growth MiB", get: func(r result) float64 { return float64(r.PeakRSSKiB-r.StartRSSKiB) / 1024 }, prec: 1, show: true,
		target: func(_ workload, k, _ float64) (string, bool) {
			lim := float64(bufferMemory+rssAllowance) / (1 << 20)
			return fmt.Sprintf("kprod ≤ %.0f", lim), k <= lim
		}},
}

// outcome is what the runs of one workload gave, per library.
type outcome struct {
	w    workload
	runs map[string][]result
}

// writeReport prints the Markdown table of medians and ratios, then the
// records/s (p99 for latency workloads) and peak RSS of every run, so the
// spread is visible. It returns how many
// targets were missed.
func writeReport(w io.Writer, outs []outcome) (missed int) {
	fmt.Fprintln(w, "| workload | metric | kprod | kgo | kprod/kgo | target | met |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---|")
	for _, o := range outs {
		kp, kg := o.runs["kprod"], o.runs["kgo"]
		for _, m := range metrics {
			if !m.show && !o.w.latency {
				continue
			}
			k, g := median(column(kp, m.get)), median(column(kg, m.get))
			ratio := "–"
			if g > 0 && len(kp) > 0 {
				ratio = fmt.Sprintf("%.2f", k/g)
			}
			text, met := "", ""
			if m.target != nil && len(kp) > 0 && len(kg) > 0 {
				var ok bool
				if text, ok = m.target(o.w, k, g); text != "" {
					met = "yes"
					if !ok {
						met = "**no**"
						missed++
					}
				}
			}
			fmt.Fprintf(w, "| %s %s | %s | %s | %s | %s | %s | %s |\n", o.w.name, o.w.title, m.name,
				cell(kp, k, m.prec), cell(kg, g, m.prec), ratio, text, met)
		}
	}
	fmt.Fprintln(w)
	for _, o := range outs {
		for _, lib := range libraries {
			rs := o.runs[lib]
			if len(rs) == 0 {
				continue
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %-5s records/s per run:", o.w.name, lib)
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
	return missed
}

// cell formats a median, or a dash when the library did not run.
func cell(rs []result, v float64, prec int) string {
	if len(rs) == 0 {
		return "–"
	}
	return group(v, prec)
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

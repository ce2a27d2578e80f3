package main

import (
	"fmt"
	"strings"
)

// The verdicts of a target.
const (
	verdictMet         = "met"
	verdictMissed      = "**missed**"
	verdictNotMeasured = "not measured"
)

// targetCheck is one target judged on one workload's medians.
type targetCheck struct {
	target, workload, figures, verdict string
}

// allocTarget is the most allocations per record kprod may make on the
// callback path.
const allocTarget = 0.05

// checkTargets judges issue 14's targets on the medians of outs. A target
// about a client that did not run is "not measured", never met.
func checkTargets(outs []outcome, brokerKind string) []targetCheck {
	var ts []targetCheck
	rps := metricNamed("records/s")
	cpu := metricNamed("CPU µs/record")
	p99 := metricNamed("p99 latency ms")
	allocs := metricNamed("allocs/record")
	growth := metricNamed("RSS growth MiB")
	for _, o := range outs {
		if _, ran := o.medianOf(libKprod, rps); !ran {
			continue
		}
		name := o.w.name
		add := func(target, figures, verdict string) {
			ts = append(ts, targetCheck{target: target, workload: name, figures: figures, verdict: verdict})
		}
		// ratio judges kprod's median of m against want × lib's.
		ratio := func(target string, m metric, lib string, want float64, atLeast bool) {
			kv, _ := o.medianOf(libKprod, m)
			v, ok := o.medianOf(lib, m)
			if !ok || v <= 0 {
				add(target, lib+" did not run", verdictNotMeasured)
				return
			}
			met := kv <= want*v
			if atLeast {
				met = kv >= want*v
			}
			add(target, fmt.Sprintf("kprod %s, %s %s: %.2f×", group(kv, m.prec), lib, group(v, m.prec), kv/v), verdictOf(met))
		}

		if brokerKind == brokerKafka && !o.w.latency {
			for _, lib := range peers {
				ratio("records/s ≥ "+lib+"'s", rps, lib, 1, true)
			}
			ratio("CPU/record ≤ 0.5× java's", cpu, libJava, 0.5, false)
			ratio("CPU/record ≤ 0.8× kgo's", cpu, libKgo, 0.8, false)
			ratio("CPU/record ≤ 0.8× librdkafka's", cpu, libRdkafka, 0.8, false)
		}
		if brokerKind == brokerKfake {
			switch name {
			case "a", "b", "c":
				ratio("records/s ≥ 1.5× kgo's", rps, libKgo, 1.5, true)
			}
			switch name {
			case "a", "e":
				ratio("records/s ≥ 0.8× the ceiling's", rps, libCeiling, 0.8, true)
			}
		}
		if o.w.latency {
			kv, _ := o.medianOf(libKprod, p99)
			best, bestLib, missing := 0.0, "", []string{}
			for _, lib := range peers {
				v, ok := o.medianOf(lib, p99)
				if !ok {
					missing = append(missing, lib)
					continue
				}
				if bestLib == "" || v < best {
					best, bestLib = v, lib
				}
			}
			switch {
			case bestLib == "":
				add("p99 ≤ the best peer's", "no peer ran", verdictNotMeasured)
			case kv > best:
				add("p99 ≤ the best peer's", fmt.Sprintf("kprod %.3f ms, best %s %.3f ms over %d runs", kv, bestLib, best, len(o.runs[libKprod])), verdictMissed)
			case len(missing) > 0:
				add("p99 ≤ the best peer's", fmt.Sprintf("kprod %.3f ms ≤ best measured %s %.3f ms; %s not measured", kv, bestLib, best, strings.Join(missing, ", ")), verdictNotMeasured)
			default:
				add("p99 ≤ the best peer's", fmt.Sprintf("kprod %.3f ms, best %s %.3f ms over %d runs", kv, bestLib, best, len(o.runs[libKprod])), verdictMet)
			}
		}
		switch name {
		case "a", "b", "c":
			g, _ := o.medianOf(libKprod, growth)
			lim := float64(bufferMemory+rssAllowance) / (1 << 20)
			add(fmt.Sprintf("RSS growth ≤ buffer.memory + 16 MiB (%.0f MiB)", lim), fmt.Sprintf("kprod %.1f MiB", g), verdictOf(g <= lim))
		}
		a, _ := o.medianOf(libKprod, allocs)
		add(fmt.Sprintf("allocs/record ≤ %.2f", allocTarget), fmt.Sprintf("kprod %.3f", a), verdictOf(a <= allocTarget))
	}
	return ts
}

func verdictOf(met bool) string {
	if met {
		return verdictMet
	}
	return verdictMissed
}

// metricNamed is the report row called name.
func metricNamed(name string) metric {
	for _, m := range metrics {
		if m.name == name {
			return m
		}
	}
	panic("benchcmp: no metric " + name)
}

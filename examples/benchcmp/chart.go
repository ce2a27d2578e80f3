package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// The chart -svg writes: two panels, records/s and client CPU µs per record,
// each a group of bars per workload with one bar per client (the median of
// its runs), a logarithmic value axis with a grid line per power of ten (the
// workloads' figures span four of them: on a linear axis the latency
// workload's records/s and the throughput workloads' CPU would not show),
// and a legend of the clients' colours. Plain SVG 1.1 written by hand, so
// the module needs nothing for it.

// chartColors are the clients' bar colours, in libraries order.
var chartColors = map[string]string{
	libKprod:     "#1b6ac9",
	libKgo:       "#e07b00",
	libSarama:    "#8e44ad",
	libSegmentio: "#2e9e44",
	libRdkafka:   "#c0392b",
	libJava:      "#7f6a00",
	libCeiling:   "#7a7a7a",

	libKprodNewRecord:     "#7fb2ee",
	libKprodSpoolAlways:   "#1f4e8c",
	libKprodSpoolInterval: "#3a6fb0",
	libKprodSpoolNever:    "#5b8fd1",
}

// Chart geometry, in SVG user units.
const (
	chartWidth   = 960
	panelHeight  = 300
	chartTop     = 70 // title and legend
	panelGap     = 84 // room for the workload labels under a panel
	chartLeft    = 90 // value axis labels
	chartRight   = 20
	chartBottom  = 20
	groupPadding = 0.2 // share of a group's width left empty
)

// chartPanel is one metric of the chart.
type chartPanel struct {
	title string
	get   func(result) float64
}

var chartPanels = []chartPanel{
	{title: "records/s (median, log scale; higher is better)", get: func(r result) float64 { return r.RecordsPerSec }},
	{title: "client CPU µs per record (median, log scale; lower is better)", get: func(r result) float64 { return r.CPUMicrosPerRec }},
}

// chartSVG draws outs' medians for libs, on the broker named brokerKind.
func chartSVG(outs []outcome, libs []string, brokerKind string) []byte {
	var shown []string // clients with at least one run, in report order
	for _, lib := range clientsOf(outs) {
		for _, l := range libs {
			if l == lib {
				shown = append(shown, lib)
			}
		}
	}
	height := chartTop + len(chartPanels)*(panelHeight+panelGap) + chartBottom
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, height)
	broker := "kfake blackhole broker"
	if brokerKind == brokerKafka {
		broker = "Apache Kafka broker (one node)"
	}
	fmt.Fprintf(&b, `<text class="title" x="%d" y="22" font-size="16" font-weight="bold">kprod and its peers, %s</text>`+"\n",
		chartLeft, html.EscapeString(broker))
	// Legend.
	x := chartLeft
	for _, lib := range shown {
		fmt.Fprintf(&b, `<g class="legend-item"><rect x="%d" y="36" width="12" height="12" fill="%s"/><text x="%d" y="46">%s</text></g>`+"\n",
			x, chartColors[lib], x+16, html.EscapeString(lib))
		x += 28 + 7*len(lib)
	}
	plotW := float64(chartWidth - chartLeft - chartRight)
	for pi, p := range chartPanels {
		top := float64(chartTop + pi*(panelHeight+panelGap))
		bottom := top + panelHeight
		fmt.Fprintf(&b, `<g class="panel" data-metric="%s">`+"\n", html.EscapeString(p.title))
		fmt.Fprintf(&b, `<text class="axis-label" transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n",
			(top+bottom)/2, html.EscapeString(p.title))
		// The value axis: the powers of ten around the medians.
		var vals []float64
		for _, o := range outs {
			for _, lib := range shown {
				if rs := o.runs[lib]; len(rs) > 0 {
					vals = append(vals, median(column(rs, p.get)))
				}
			}
		}
		lo, hi := logAxis(vals)
		height := func(v float64) float64 {
			if v <= 0 {
				return 0
			}
			return math.Max(0, math.Min(1, (math.Log10(v)-float64(lo))/float64(hi-lo))) * panelHeight
		}
		for e := lo; e <= hi; e++ {
			y := bottom - height(math.Pow(10, float64(e)))
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", chartLeft, y, chartWidth-chartRight, y)
			fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", chartLeft-6, y+4, axisNumber(math.Pow(10, float64(e))))
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", chartLeft, top, chartLeft, bottom)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", chartLeft, bottom, chartWidth-chartRight, bottom)
		groupW := plotW / float64(max(len(outs), 1))
		barW := groupW * (1 - groupPadding) / float64(max(len(shown), 1))
		for gi, o := range outs {
			gx := float64(chartLeft) + float64(gi)*groupW + groupW*groupPadding/2
			for bi, lib := range shown {
				rs := o.runs[lib]
				if len(rs) == 0 {
					continue
				}
				v := median(column(rs, p.get))
				h := height(v)
				fmt.Fprintf(&b, `<rect class="bar" data-client="%s" data-workload="%s" data-value="%g" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`+"\n",
					lib, o.w.name, v, gx+float64(bi)*barW, bottom-h, math.Max(barW-1, 1), h, chartColors[lib],
					html.EscapeString(lib), html.EscapeString(o.w.name), axisNumber(v))
			}
			cx := gx + groupW*(1-groupPadding)/2
			fmt.Fprintf(&b, `<text class="workload" x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`+"\n", cx, bottom+16, html.EscapeString(o.w.name))
			for li, line := range wrapTitle(o.w.title) {
				fmt.Fprintf(&b, `<text class="workload-title" x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n",
					cx, bottom+30+float64(li)*12, html.EscapeString(line))
			}
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// wrapTitle cuts a workload's title in two lines at the comma nearest its
// middle, so six groups' titles do not run into each other.
func wrapTitle(title string) []string {
	best := -1
	for i := 0; i+1 < len(title); i++ {
		if title[i] == ',' && title[i+1] == ' ' && (best < 0 || abs(i-len(title)/2) < abs(best-len(title)/2)) {
			best = i
		}
	}
	if best < 0 {
		return []string{title}
	}
	return []string{title[:best+1], title[best+2:]}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// logAxis returns the powers of ten a log axis spans to hold every
// positive value of vals: 10^lo ≤ v ≤ 10^hi, hi > lo.
func logAxis(vals []float64) (lo, hi int) {
	first := true
	for _, v := range vals {
		if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		l, h := int(math.Floor(math.Log10(v))), int(math.Ceil(math.Log10(v)))
		if first || l < lo {
			lo = l
		}
		if first || h > hi {
			hi = h
		}
		first = false
	}
	if first {
		return 0, 1
	}
	if hi == lo {
		hi++
	}
	return lo, hi
}

// axisNumber formats an axis or bar value briefly: 2.5M, 340k, 0.44.
func axisNumber(v float64) string {
	switch {
	case v >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case v >= 1e3:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case v >= 10:
		return trimZeros(fmt.Sprintf("%.1f", v))
	case v >= 0.01 || v == 0:
		return trimZeros(fmt.Sprintf("%.3f", v))
	}
	return fmt.Sprintf("%.0e", v)
}

func trimZeros(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

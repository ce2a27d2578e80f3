package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestChartSVG parses the chart as XML and checks it has a bar per client,
// workload and panel with the median as its value, an axis label per panel,
// the workloads under the bars and a legend entry per client.
func TestChartSVG(t *testing.T) {
	a, _ := findWorkload("a")
	d, _ := findWorkload("d")
	outs := []outcome{
		{w: a, runs: map[string][]result{
			"kprod":   runsOf("kprod", "a", 0, 1, 100, 300, 200),
			"kgo":     runsOf("kgo", "a", 0, 1, 150),
			"ceiling": runsOf("ceiling", "a", 0, 1, 900),
		}},
		{w: d, runs: map[string][]result{
			"kprod":   runsOf("kprod", "d", 0, 1, 10),
			"kgo":     runsOf("kgo", "d", 0, 1, 10),
			"ceiling": runsOf("ceiling", "d", 0, 1, 10),
		}},
	}
	svg := chartSVG(outs, []string{"kprod", "kgo", "sarama", "ceiling"}, brokerKfake)

	type bar struct {
		client, workload, metric string
		value                    float64
	}
	var bars []bar
	var texts []string
	metric := ""
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v\n%s", err, svg)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			attr := func(name string) string {
				for _, a := range e.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			if e.Name.Local == "g" && attr("class") == "panel" {
				metric = attr("data-metric")
			}
			if e.Name.Local == "rect" && attr("class") == "bar" {
				v, err := strconv.ParseFloat(attr("data-value"), 64)
				if err != nil {
					t.Errorf("bar value %q: %v", attr("data-value"), err)
				}
				if h, _ := strconv.ParseFloat(attr("height"), 64); h < 0 || h > panelHeight {
					t.Errorf("bar height %v", h)
				}
				bars = append(bars, bar{attr("data-client"), attr("data-workload"), metric, v})
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(e)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	// 3 clients ran (sarama did not) × 2 workloads × 2 panels.
	if len(bars) != 12 {
		t.Fatalf("%d bars, want 12: %+v", len(bars), bars)
	}
	for _, b := range bars {
		if b.client == "kprod" && b.workload == "a" && strings.HasPrefix(b.metric, "records/s") && b.value != 200 {
			t.Errorf("kprod's a bar is %v, want the median 200", b.value)
		}
		if b.client == "sarama" {
			t.Errorf("a bar for a client that did not run: %+v", b)
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"records/s (median, log scale; higher is better)", "client CPU µs per record (median, log scale; lower is better)",
		"kprod", "kgo", "ceiling", "a", "d", "100 B, none,", "linger 5ms", "100 B at 10k/s,", "linger 0", "kfake"} {
		if !strings.Contains(joined, want) {
			t.Errorf("chart text lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "sarama") {
		t.Errorf("legend names a client that did not run")
	}
}

func TestWrapTitle(t *testing.T) {
	for title, want := range map[string]string{
		"100 B, 1,000 keys, 12 partitions": "100 B, 1,000 keys,|12 partitions",
		"100 B, none, linger 5ms":          "100 B, none,|linger 5ms",
		"no commas":                        "no commas",
	} {
		if got := strings.Join(wrapTitle(title), "|"); got != want {
			t.Errorf("wrapTitle(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestLogAxis(t *testing.T) {
	for _, tc := range []struct {
		vals   []float64
		lo, hi int
	}{
		{nil, 0, 1}, {[]float64{0, -1}, 0, 1}, {[]float64{1}, 0, 1}, {[]float64{10_000, 2_442_112}, 4, 7},
		{[]float64{0.44, 70}, -1, 2}, {[]float64{0.069, 0}, -2, -1},
	} {
		if lo, hi := logAxis(tc.vals); lo != tc.lo || hi != tc.hi {
			t.Errorf("logAxis(%v) = %d, %d; want %d, %d", tc.vals, lo, hi, tc.lo, tc.hi)
		}
	}
	for v, want := range map[float64]string{2_500_000: "2.5M", 340_000: "340k", 12: "12", 0.44: "0.44", 0: "0", 0.001: "1e-03"} {
		if got := axisNumber(v); got != want {
			t.Errorf("axisNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

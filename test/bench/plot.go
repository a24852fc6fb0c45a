package main

import (
	"fmt"
	"math"
	"strings"
)

// scalePlotFile is the plot's file name, beside BENCHMARKS.md (and in the results
// directory), which the report links.
const scalePlotFile = "BENCHMARKS-scale.svg"

// plotLine is one line of a panel: a contender in one series.
type plotLine struct {
	label  string
	color  string
	dashed bool
	square bool
	pts    [][2]float64 // x, y
}

// plotPanel is one chart with log-scaled axes.
type plotPanel struct {
	title, yUnit string
	lines        []plotLine
}

// scalePlot draws, against endpoints, the steady RSS and (c)'s relist peak, and the
// time from process start to the last service answering: an SVG that needs no tool.
func scalePlot(points []scalePoint) string {
	rss := plotPanel{title: "RSS against endpoints", yUnit: "MiB"}
	ready := plotPanel{title: "Process start to every name served (/ready)", yUnit: "s"}
	for _, series := range []string{"imports", "endpoints"} {
		var pts []scalePoint
		for _, p := range points {
			if p.Series == series || (series == "imports" && p.Series == "") {
				pts = append(pts, p)
			}
		}
		if len(pts) == 0 {
			continue
		}
		name := "5 clusters, 10 endpoints a service"
		if series == "endpoints" {
			name = fmt.Sprintf("%d clusters", pts[0].Clusters)
		}
		sq := series == "endpoints"
		for _, c := range []contender{inTree, ours} {
			color := "#1f77b4"
			if c == inTree {
				color = "#d62728"
			}
			steady := plotLine{label: fmt.Sprintf("%s steady, %s", c.label(), name), color: color, square: sq}
			answer := plotLine{label: fmt.Sprintf("%s, %s", c.label(), name), color: color, square: sq}
			peak := plotLine{label: fmt.Sprintf("%s relist peak, %s", c.label(), name), color: color, square: sq, dashed: true}
			for _, p := range pts {
				r := p.result(c)
				x := float64(p.Endpoints)
				if r.Steady > 0 {
					steady.pts = append(steady.pts, [2]float64{x, mib(r.Steady)})
					peak.pts = append(peak.pts, [2]float64{x, mib(r.RelistPeak)})
				}
				if r.servedSecs() > 0 {
					answer.pts = append(answer.pts, [2]float64{x, r.servedSecs()})
				}
			}
			rss.lines = append(rss.lines, steady)
			if c == ours {
				rss.lines = append(rss.lines, peak)
			}
			ready.lines = append(ready.lines, answer)
		}
	}
	const w, h = 1000, 430
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	rss.draw(&b, 60, 30, 400, 260)
	ready.draw(&b, 560, 30, 400, 260)
	rss.legend(&b, 60, 330)
	ready.legend(&b, 560, 330)
	b.WriteString("</svg>\n")
	return b.String()
}

// logRange returns powers of ten enclosing the values.
func logRange(vals []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		return 1, 10
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	if lo == hi {
		hi *= 10
	}
	return lo, hi
}

func (p plotPanel) draw(b *strings.Builder, x0, y0, pw, ph float64) {
	var xs, ys []float64
	for _, l := range p.lines {
		for _, pt := range l.pts {
			xs, ys = append(xs, pt[0]), append(ys, pt[1])
		}
	}
	xlo, xhi := logRange(xs)
	ylo, yhi := logRange(ys)
	px := func(v float64) float64 {
		return x0 + pw*(math.Log10(v)-math.Log10(xlo))/(math.Log10(xhi)-math.Log10(xlo))
	}
	py := func(v float64) float64 {
		return y0 + ph - ph*(math.Log10(v)-math.Log10(ylo))/(math.Log10(yhi)-math.Log10(ylo))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="13" font-weight="bold">%s</text>`+"\n", x0, y0-12, p.title)
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", x0, y0, pw, ph)
	for v := xlo; v <= xhi*1.0001; v *= 10 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			px(v), y0, px(v), y0+ph, px(v), y0+ph+14, siNumber(v))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle">endpoints (log)</text>`+"\n", x0+pw/2, y0+ph+30)
	for v := ylo; v <= yhi*1.0001; v *= 10 {
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, py(v), x0+pw, py(v), x0-4, py(v)+4, siNumber(v))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle" transform="rotate(-90 %.0f %.0f)">%s (log)</text>`+"\n", x0-42, y0+ph/2, x0-42, y0+ph/2, p.yUnit)
	for _, l := range p.lines {
		if len(l.pts) == 0 {
			continue
		}
		var path []string
		for _, pt := range l.pts {
			path = append(path, fmt.Sprintf("%.1f,%.1f", px(pt[0]), py(pt[1])))
		}
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>`+"\n", strings.Join(path, " "), l.color, dash)
		for _, pt := range l.pts {
			b.WriteString(marker(px(pt[0]), py(pt[1]), l))
		}
	}
}

func (p plotPanel) legend(b *strings.Builder, x0, y0 float64) {
	for i, l := range p.lines {
		y := y0 + float64(i)*15
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="1.8"%s/>`, x0, y, x0+24, y, l.color, dash)
		b.WriteString(marker(x0+12, y, l))
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", x0+30, y+4, l.label)
	}
}

// marker is a circle for the imports series and a square for the endpoints series.
func marker(x, y float64, l plotLine) string {
	if l.square {
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>`, x-3.5, y-3.5, l.color)
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, x, y, l.color)
}

// siNumber writes 1000 as 1k, 1000000 as 1M.
func siNumber(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// Command plot draws the scale benchmark's figures (bench/scale.sh writes
// them as a TSV) into one SVG: seconds against image count, and seconds
// against bytes with the one big image marked beside the small-image sets,
// both on log axes so that linear growth is a line of slope one and a
// per-image cost shows as a bend. Hand-written SVG because the project
// takes no new dependency for a chart.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

type point struct {
	set            string
	images, bytes  float64
	step           string
	seconds, rssKB float64
}

var colors = map[string]string{"push": "#7f7f7f", "pull": "#1f77b4", "export": "#2ca02c", "verify": "#d62728", "import": "#9467bd", "pull-serve": "#ff7f0e", "crane-pull": "#8c564b"}

func main() {
	in := flag.String("in", "out/bench/scale/scale.tsv", "figures written by bench/scale.sh")
	out := flag.String("out", "out/bench/scale/scale.svg", "SVG to write")
	flag.Parse()
	pts, steps, err := read(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
	var b strings.Builder
	const w, h = 960, 400
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	panel(&b, pts, steps, 0, "seconds against image count (small images)", "images", func(p point) (float64, bool) { return p.images, p.set != "big" })
	panel(&b, pts, steps, w/2, "seconds against bytes (hollow: one big image)", "bytes", func(p point) (float64, bool) { return p.bytes, true })
	b.WriteString("</svg>\n")
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func read(path string) ([]point, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var pts []point
	var steps []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		c := strings.Split(sc.Text(), "\t")
		if line == 0 {
			continue // header
		}
		if len(c) < 7 {
			return nil, nil, fmt.Errorf("%s:%d: %d columns, want 8", path, line+1, len(c))
		}
		var v [4]float64
		for i, col := range []int{1, 3, 5, 6} {
			if v[i], err = strconv.ParseFloat(c[col], 64); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
			}
		}
		pts = append(pts, point{set: c[0], images: v[0], bytes: v[1], step: c[4], seconds: v[2], rssKB: v[3]})
		if !seen[c[4]] {
			seen[c[4]] = true
			steps = append(steps, c[4])
		}
	}
	if len(pts) == 0 {
		return nil, nil, fmt.Errorf("%s: no figures", path)
	}
	return pts, steps, sc.Err()
}

// panel draws one log-log chart at x offset ox: x from xOf (points it
// rejects are left out), y the seconds, one line per step through the
// small-image sets and a hollow marker for the big image.
func panel(b *strings.Builder, pts []point, steps []string, ox int, title, xlabel string, xOf func(point) (float64, bool)) {
	const pw, ph, left, top, bottom = 480, 400, 60, 30, 50
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if x, ok := xOf(p); ok && x > 0 && p.seconds > 0 {
			x0, x1 = math.Min(x0, x), math.Max(x1, x)
			y0, y1 = math.Min(y0, p.seconds), math.Max(y1, p.seconds)
		}
	}
	lx0, lx1 := math.Floor(math.Log10(x0)), math.Ceil(math.Log10(x1))
	ly0, ly1 := math.Floor(math.Log10(y0)), math.Ceil(math.Log10(y1))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	iw, ih := float64(pw-left-20), float64(ph-top-bottom)
	px := func(x float64) float64 { return float64(ox+left) + (math.Log10(x)-lx0)/(lx1-lx0)*iw }
	py := func(y float64) float64 { return float64(top) + ih - (math.Log10(y)-ly0)/(ly1-ly0)*ih }
	fmt.Fprintf(b, `<text x="%d" y="18" font-weight="bold">%s</text>`+"\n", ox+left, title)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", ox+left, top, iw, ih)
	for e := lx0; e <= lx1; e++ {
		x := px(math.Pow(10, e))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			x, top, x, float64(top)+ih, x, float64(top)+ih+16, tick(e, xlabel == "bytes"))
	}
	for e := ly0; e <= ly1; e++ {
		y := py(math.Pow(10, e))
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			ox+left, y, float64(ox+left)+iw, y, ox+left-4, y+4, tick(e, false))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(ox+left)+iw/2, ph-12, xlabel)
	fmt.Fprintf(b, `<text x="%d" y="%.0f" text-anchor="middle" transform="rotate(-90 %d %.0f)">seconds</text>`+"\n", ox+16, float64(top)+ih/2, ox+16, float64(top)+ih/2)
	for i, st := range steps {
		var line []string
		for _, p := range pts {
			x, ok := xOf(p)
			if !ok || p.step != st || x <= 0 || p.seconds <= 0 {
				continue
			}
			if p.set == "big" {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="5" fill="white" stroke="%s" stroke-width="2"/>`+"\n", px(x), py(p.seconds), colors[st])
				continue
			}
			line = append(line, fmt.Sprintf("%.1f,%.1f", px(x), py(p.seconds)))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(x), py(p.seconds), colors[st])
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(line, " "), colors[st])
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			ox+left+8, top+8+i*16, colors[st], ox+left+22, top+17+i*16, st)
	}
}

// tick labels a power of ten: as decimal bytes (kB, MB, GB: the ticks are
// powers of ten) or as a number.
func tick(e float64, bytes bool) string {
	v := math.Pow(10, e)
	if bytes {
		for _, u := range []struct {
			s string
			n float64
		}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}} {
			if v >= u.n {
				return strconv.FormatFloat(v/u.n, 'g', -1, 64) + " " + u.s
			}
		}
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

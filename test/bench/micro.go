package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// microResult is the median of the runs of one Go benchmark.
type microResult struct {
	Name        string  `json:"name"`
	Runs        int     `json:"runs"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	// Other holds the medians of metrics a benchmark reports itself (b.ReportMetric),
	// by unit.
	Other map[string]float64 `json:"other,omitempty"`
}

// micro runs the root package's microbenchmarks.
func (b *bench) micro(ctx context.Context) error {
	b.waitQuiet(ctx, "microbenchmarks")
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(b.opts.MicroCount), "."}
	b.res.MicroCommand = "go " + strings.Join(args, " ")
	outPath := b.path("micro.txt")
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.root
	cmd.Stdout, cmd.Stderr = out, out
	log.Printf("%s (in %s)", b.res.MicroCommand, b.root)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v (output in %s)", b.res.MicroCommand, err, outPath)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	b.res.Micro, err = parseGoBench(out)
	if err != nil {
		return err
	}
	if len(b.res.Micro) == 0 {
		return fmt.Errorf("no benchmark results in %s", outPath)
	}
	return nil
}

var benchLineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGoBench reads `go test -bench -benchmem` output and returns the median of every
// metric per benchmark, in order of first appearance.
func parseGoBench(r io.Reader) ([]microResult, error) {
	type acc struct {
		ns, by, al []float64
		other      map[string][]float64
		units      []string
	}
	var order []string
	runs := map[string]*acc{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		a := runs[m[1]]
		if a == nil {
			a = &acc{other: map[string][]float64{}}
			runs[m[1]] = a
			order = append(order, m[1])
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "B/op":
				a.by = append(a.by, v)
			case "allocs/op":
				a.al = append(a.al, v)
			default:
				u := f[i+1]
				if _, ok := a.other[u]; !ok {
					a.units = append(a.units, u)
				}
				a.other[u] = append(a.other[u], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []microResult
	for _, name := range order {
		a := runs[name]
		r := microResult{Name: name, Runs: len(a.ns), NsPerOp: median(a.ns), BytesPerOp: median(a.by), AllocsPerOp: median(a.al)}
		for _, u := range a.units {
			if r.Other == nil {
				r.Other = map[string]float64{}
			}
			r.Other[u] = median(a.other[u])
		}
		out = append(out, r)
	}
	return out, nil
}

// median of values (NaN-free); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

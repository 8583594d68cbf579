// Command benchratio reads `go test -bench` output on stdin, echoes it, and
// then prints every figure next to its baseline measured in the same run.
//
// Convention: a benchmark name contains a segment "impl=<name>"; the segment
// "impl=baseline" is the baseline of every benchmark whose name is equal once
// that segment is removed. Throughput metrics (unit ending in "/s") are
// compared as target/baseline; time and size metrics (ns/op, B/op, ms, …) as
// baseline/target, so a ratio of 1.0 always means "as good as the baseline"
// and higher is better.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

type result struct {
	name    string
	metrics map[string]float64
	units   []string
}

var gomaxprocsSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var results []result
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		if r, ok := parse(line); ok {
			results = append(results, r)
		}
	}
	report(results)
}

func parse(line string) (result, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return result{}, false
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return result{}, false
	}
	r := result{name: gomaxprocsSuffix.ReplaceAllString(fields[0], ""), metrics: map[string]float64{}}
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			continue
		}
		unit := fields[i+1]
		if _, seen := r.metrics[unit]; !seen {
			r.units = append(r.units, unit)
		}
		r.metrics[unit] = v
	}
	return r, true
}

// split returns the name without its impl segment, and the impl.
func split(name string) (key, impl string) {
	parts := strings.Split(name, "/")
	kept := parts[:0:0]
	for _, p := range parts {
		if v, ok := strings.CutPrefix(p, "impl="); ok {
			impl = v
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "/"), impl
}

func report(results []result) {
	baselines := map[string]result{}
	for _, r := range results {
		if key, impl := split(r.name); impl == "baseline" {
			baselines[key] = r
		}
	}
	if len(baselines) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("== figures against their same-run baselines (ratio 1.0 = baseline; higher is better)")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\timpl\tmetric\tvalue\tbaseline\tratio")
	sort.SliceStable(results, func(i, j int) bool { return results[i].name < results[j].name })
	for _, r := range results {
		key, impl := split(r.name)
		base, ok := baselines[key]
		if impl == "" || impl == "baseline" || !ok {
			continue
		}
		for _, unit := range r.units {
			bv, ok := base.metrics[unit]
			v := r.metrics[unit]
			if !ok || bv == 0 || v == 0 || unit == "allocs/op" || unit == "B/op" {
				continue
			}
			ratio := v / bv
			if !strings.HasSuffix(unit, "/s") {
				ratio = bv / v
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%.4g\t%.2f\n", key, impl, unit, v, bv, ratio)
		}
	}
	tw.Flush()
}

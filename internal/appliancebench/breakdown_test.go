package appliancebench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kinds are the process kinds of a tree, in the order a breakdown prints them.
var kinds = []string{"server", "browser", "gpu", "network", "storage", "utility", "zygote", "renderer", "crashpad", "other"}

// breakdown is the PSS of one sample of a tree by process kind, and how many
// processes of each kind it had.
type breakdown struct {
	pss   map[string]int64
	anon  map[string]int64 // the part of pss that is anonymous memory: heaps
	procs map[string]int
}

func (b breakdown) total() int64 {
	var t int64
	for _, p := range b.pss {
		t += p
	}
	return t
}

// kindOf names what a process of s's tree is from its command line: the
// server's own process (prerenderd, node, the naive renderer), then Chromium's
// by its --type switch.
func (s *server) kindOf(pid int) string {
	if s.cmd != nil && s.cmd.Process != nil && pid == s.cmd.Process.Pid {
		return "server"
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "other"
	}
	// Zygote-forked children rewrite their command line into one
	// space-separated string.
	args := strings.FieldsFunc(string(cmdline), func(r rune) bool { return r == 0 || r == ' ' })
	var typ, sub string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--type="); ok {
			typ = v
		}
		if v, ok := strings.CutPrefix(a, "--utility-sub-type="); ok {
			sub = v
		}
	}
	switch {
	case typ == "crashpad-handler" || len(args) > 0 && strings.Contains(args[0], "crashpad_handler"):
		return "crashpad"
	case typ == "gpu-process":
		return "gpu"
	case typ == "utility" && strings.Contains(sub, "NetworkService"):
		return "network"
	case typ == "utility" && strings.Contains(sub, "StorageService"):
		return "storage"
	case typ == "utility":
		return "utility"
	case typ == "zygote":
		return "zygote"
	case typ == "renderer":
		return "renderer"
	case typ == "" && len(args) > 0 && strings.Contains(args[0], "chrom"):
		return "browser"
	}
	return "other"
}

// sampleBreakdown reads the PSS of every process of s's tree by kind.
func (s *server) sampleBreakdown() breakdown {
	b := breakdown{pss: map[string]int64{}, anon: map[string]int64{}, procs: map[string]int{}}
	for _, pid := range s.tree() {
		r, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			continue
		}
		p, ok := rollupField(r, "Pss:")
		if !ok {
			continue
		}
		anon, _ := rollupField(r, "Pss_Anon:")
		k := s.kindOf(pid)
		b.pss[k] += p
		b.anon[k] += anon
		b.procs[k]++
	}
	return b
}

// rollupField reads one line of an smaps_rollup file, in bytes.
func rollupField(rollup []byte, name string) (int64, bool) {
	for line := range strings.SplitSeq(string(rollup), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}

// printBreakdowns writes one column per breakdown (the medians of each kind
// over its samples), a row per process kind.
func printBreakdowns(w io.Writer, title string, names []string, samples [][]breakdown) {
	fmt.Fprintf(w, "\n%s: PSS by process kind (median of %d samples): total/anonymous, processes in parentheses\n", title, len(samples[0]))
	fmt.Fprintf(w, "%-10s", "kind")
	for _, n := range names {
		fmt.Fprintf(w, " %-22s", n)
	}
	fmt.Fprintln(w)
	med := func(bs []breakdown, get func(breakdown) int64) int64 {
		v := make([]int64, len(bs))
		for i, b := range bs {
			v[i] = get(b)
		}
		return medianI(v)
	}
	for _, k := range kinds {
		var any bool
		for _, bs := range samples {
			for _, b := range bs {
				any = any || b.procs[k] > 0
			}
		}
		if !any {
			continue
		}
		fmt.Fprintf(w, "%-10s", k)
		for _, bs := range samples {
			procs := slices.MaxFunc(bs, func(a, b breakdown) int { return a.procs[k] - b.procs[k] }).procs[k]
			fmt.Fprintf(w, " %-22s", fmt.Sprintf("%s/%s (%d)", mib(med(bs, func(b breakdown) int64 { return b.pss[k] })),
				strings.TrimSuffix(mib(med(bs, func(b breakdown) int64 { return b.anon[k] })), " MiB"), procs))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-10s", "total")
	for _, bs := range samples {
		fmt.Fprintf(w, " %-22s", mib(med(bs, breakdown.total)))
	}
	fmt.Fprintln(w)
}

// settledBreakdown waits for s to settle and samples its breakdown.
func settledBreakdown(s *server, wait time.Duration) breakdown {
	time.Sleep(wait)
	return s.sampleBreakdown()
}

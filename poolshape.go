package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// poolSize is render.browsers or render.tabs_per_browser as config.toml holds it:
// a number, or "auto" (n = 0), chosen from the machine by autoShape.
type poolSize struct {
	n    int
	auto bool
}

// UnmarshalTOML takes an integer or the string "auto". The range of a number
// is checked with the other keys, by name; the TOML decoder names the key of a
// value this refuses.
func (p *poolSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v > maxPoolSize {
			return fmt.Errorf("%d is more than %d", v, maxPoolSize)
		}
		*p = poolSize{n: int(max(v, -1))}
		return nil
	case string:
		if v == "auto" {
			*p = poolSize{auto: true}
			return nil
		}
		return fmt.Errorf("%q is neither a number nor \"auto\"", v)
	default:
		return fmt.Errorf("%v is neither a number nor \"auto\"", v)
	}
}

// maxPoolSize bounds an explicit number: far past what any machine runs, and
// small enough that browsers × tabs cannot overflow.
const maxPoolSize = 1 << 16

// machine is what autoShape sizes the pool by.
type machine struct {
	CPUs   int   // the CPUs this process may use: GOMAXPROCS, which follows the CPU affinity and a cgroup's CPU limit
	Memory int64 // bytes: physical memory, or the cgroup's limit when lower
}

// The rule's constants, from the measurements in README ("Sizing the browser
// pool"): make bench-shapes on 2 cores.
const (
	// tabsPerCPU: on 2 cores 6 tabs rendered more pages/s than 4 on light
	// pages, at a third more p90 latency and a quarter more memory; 4 is the
	// balance of throughput against latency and memory.
	tabsPerCPU = 2
	// cpusPerBrowser: one Chromium served 4 tabs on 2 cores as fast as two of
	// 2 tabs with three quarters of the memory (its browser process is not the
	// bottleneck); a second browser pays off only as cores make more tabs, and
	// bounds what one crash or recycle takes down.
	cpusPerBrowser = 4
	// tabMemory is the peak PSS a busy tab adds (its renderer and the browser
	// process's share), rounded up; browserMemory what a Chromium costs before
	// its first tab; and at most memoryShare of the machine goes to the pool.
	tabMemory     = 150 << 20
	browserMemory = 200 << 20
	memoryShare   = 0.5
	// maxAutoTabs bounds what auto chooses on a large machine; explicit numbers
	// may go past it.
	maxAutoTabs = 64
)

// autoShape chooses the pool's shape for m: tabsPerCPU tabs per CPU, one browser
// per cpusPerBrowser CPUs, fewer tabs when memoryShare of the memory cannot hold
// them. browsers or tabs not 0 are explicit and kept; the other is derived from
// the total. why says how the shape was chosen, for the start-up log.
func autoShape(m machine, browsers, tabs int) (b, t int, why string) {
	total := max(tabsPerCPU*m.CPUs, 1)
	why = fmt.Sprintf("%d tabs per CPU", tabsPerCPU)
	if total > maxAutoTabs {
		total = maxAutoTabs
		why = fmt.Sprintf("%d tabs per CPU, at most %d", tabsPerCPU, maxAutoTabs)
	}
	b = max(ceilDiv(m.CPUs, cpusPerBrowser), 1)
	if browsers > 0 {
		b = browsers
	}
	boundedByMemory := false
	if m.Memory > 0 {
		budget := int64(float64(m.Memory) * memoryShare)
		// When memory bounds the pool, one browser (the leaner shape) holds
		// it, unless the config names the browsers.
		nb := b
		if browsers == 0 && budget < int64(b)*browserMemory+int64(total)*tabMemory {
			nb = 1
		}
		if byMem := int((budget - int64(nb)*browserMemory) / tabMemory); byMem < total {
			total = max(byMem, 1)
			b = nb
			boundedByMemory = true
			why = fmt.Sprintf("bounded by memory: %d MiB of %d MiB for the pool, %d MiB per browser and %d MiB per tab",
				budget>>20, m.Memory>>20, browserMemory>>20, tabMemory>>20)
		}
	}
	switch {
	case browsers > 0 && tabs > 0:
		return browsers, tabs, "set in the config"
	case browsers > 0:
		return browsers, ceilDiv(total, browsers), why + fmt.Sprintf(", spread over the %d browsers of the config", browsers)
	case tabs > 0:
		return max(ceilDiv(total, tabs), 1), tabs, why + fmt.Sprintf(", %d per browser as the config says", tabs)
	case boundedByMemory:
		return b, total, why
	}
	b = min(b, total)
	return b, ceilDiv(total, b), why + fmt.Sprintf(", one browser per %d CPUs", cpusPerBrowser)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// thisMachine reads the CPUs and memory this process may use.
func thisMachine() machine {
	return machine{CPUs: runtime.GOMAXPROCS(0), Memory: memoryLimit()}
}

// memoryLimit is MemTotal of /proc/meminfo, or the memory limit of this
// process's cgroup (v2 memory.max, v1 memory.limit_in_bytes) when that is lower;
// 0 when neither can be read.
func memoryLimit() int64 {
	limit := meminfoTotal()
	if c := cgroupMemoryLimit(); c > 0 && (limit == 0 || c < limit) {
		limit = c
	}
	return limit
}

func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// cgroupMemoryLimit finds this process's memory cgroup in /proc/self/cgroup and
// reads its limit; a container usually sees its own cgroup at the root of the
// mount, so the root is tried too. 0 = no limit found.
func cgroupMemoryLimit() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	var limit int64
	take := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		s := strings.TrimSpace(string(data))
		n, err := strconv.ParseInt(s, 10, 64)
		// "max" (v2) or a page-rounded MaxInt64 (v1) mean no limit.
		if err != nil || n <= 0 || n >= 1<<62 {
			return
		}
		if limit == 0 || n < limit {
			limit = n
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			take(filepath.Join("/sys/fs/cgroup", f[2], "memory.max"))
			take("/sys/fs/cgroup/memory.max")
		case strings.Contains(","+f[1]+",", ",memory,"):
			take(filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes"))
			take("/sys/fs/cgroup/memory/memory.limit_in_bytes")
		}
	}
	return limit
}

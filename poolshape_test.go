package main

import (
	"strings"
	"testing"
)

func TestAutoShapeChoosesThePoolFromTheMachine(t *testing.T) {
	const gib = int64(1) << 30
	tests := []struct {
		name           string
		m              machine
		browsers, tabs int // from the config; 0 = "auto"
		wantB, wantT   int
		why            string
	}{
		{"one CPU gets one browser of two tabs", machine{1, 8 * gib}, 0, 0, 1, 2, "tabs per CPU"},
		{"two CPUs get one browser of four tabs (measured: 1x4 beat 2x2)", machine{2, 24 * gib}, 0, 0, 1, 4, "one browser per 4 CPUs"},
		{"four CPUs get one browser of eight tabs", machine{4, 16 * gib}, 0, 0, 1, 8, "tabs per CPU"},
		{"eight CPUs get two browsers of eight tabs", machine{8, 32 * gib}, 0, 0, 2, 8, "one browser per 4 CPUs"},
		{"a large machine stops at the cap", machine{64, 256 * gib}, 0, 0, 16, 4, "at most 64"},
		{"little memory bounds the tabs", machine{8, 1 * gib}, 0, 0, 1, 2, "bounded by memory"},
		{"memory too small for one tab still gets one", machine{4, 256 << 20}, 0, 0, 1, 1, "bounded by memory"},
		{"unknown memory leaves the CPU rule", machine{2, 0}, 0, 0, 1, 4, "tabs per CPU"},
		{"explicit numbers win", machine{2, 24 * gib}, 3, 5, 3, 5, "set in the config"},
		{"explicit numbers win over little memory", machine{2, 512 << 20}, 2, 2, 2, 2, "set in the config"},
		{"explicit browsers spread the auto tabs", machine{2, 24 * gib}, 2, 0, 2, 2, "spread over the 2 browsers"},
		{"explicit browsers get at least one tab each", machine{2, 24 * gib}, 8, 0, 8, 1, "spread over the 8 browsers"},
		{"explicit tabs make as many browsers as the total needs", machine{8, 32 * gib}, 0, 4, 4, 4, "4 per browser"},
		{"explicit tabs past the total get one browser", machine{2, 24 * gib}, 0, 6, 1, 6, "6 per browser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, tabs, why := autoShape(tc.m, tc.browsers, tc.tabs)
			if b != tc.wantB || tabs != tc.wantT {
				t.Fatalf("autoShape(%+v, %d, %d) = %dx%d (%s), want %dx%d", tc.m, tc.browsers, tc.tabs, b, tabs, why, tc.wantB, tc.wantT)
			}
			if !strings.Contains(why, tc.why) {
				t.Fatalf("why = %q, want it to say %q", why, tc.why)
			}
		})
	}
}

func TestThePoolShapeIsAutoOrNumbers(t *testing.T) {
	tests := []struct {
		name, body   string
		wantB, wantT func(m machine) int
	}{
		{"the default is auto for both", "",
			func(m machine) int { b, _, _ := autoShape(m, 0, 0); return b },
			func(m machine) int { _, t, _ := autoShape(m, 0, 0); return t }},
		{"auto written out is auto", "[render]\nbrowsers = \"auto\"\ntabs_per_browser = \"auto\"\n",
			func(m machine) int { b, _, _ := autoShape(m, 0, 0); return b },
			func(m machine) int { _, t, _ := autoShape(m, 0, 0); return t }},
		{"numbers are taken as they are", "[render]\nbrowsers = 3\ntabs_per_browser = 5\n",
			func(machine) int { return 3 }, func(machine) int { return 5 }},
		{"a number beside auto is kept", "[render]\nbrowsers = 2\n",
			func(machine) int { return 2 },
			func(m machine) int { _, t, _ := autoShape(m, 2, 0); return t }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(writeConfig(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.Browsers != tc.wantB(c.Machine) || c.TabsPerBrowser != tc.wantT(c.Machine) || c.PoolShape == "" {
				t.Fatalf("got %dx%d (%q) on %+v, want %dx%d", c.Browsers, c.TabsPerBrowser, c.PoolShape, c.Machine, tc.wantB(c.Machine), tc.wantT(c.Machine))
			}
		})
	}
}

func TestABadPoolShapeIsRefusedNamingTheKey(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"zero tabs", "[render]\ntabs_per_browser = 0\n", "render.tabs_per_browser"},
		{"negative browsers", "[render]\nbrowsers = -2\n", "render.browsers"},
		{"a word other than auto", "[render]\nbrowsers = \"many\"\n", "browsers"},
		{"Auto in capitals", "[render]\ntabs_per_browser = \"AUTO\"\n", "tabs_per_browser"},
		{"a fraction", "[render]\ntabs_per_browser = 2.5\n", "tabs_per_browser"},
		{"a number past any machine", "[render]\nbrowsers = 100000\n", "browsers"},
		{"a list", "[render]\nbrowsers = [1, 2]\n", "browsers"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tc.body))
			if err == nil {
				t.Fatalf("config %q was accepted", tc.body)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestTheMachineIsRead(t *testing.T) {
	m := thisMachine()
	if m.CPUs < 1 || m.Memory < 64<<20 {
		t.Fatalf("thisMachine() = %+v: want at least one CPU and the memory of a machine that runs Go", m)
	}
}

package main

import (
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}}
	tests := []struct {
		name              string
		bi                *debug.BuildInfo
		ldVersion, ldRev  string
		version, revision string
		modified          bool
	}{
		{"the Makefile's stamp wins over what Go recorded", stamped, "v1.2.0-3-g0abc", "0abcdef", "v1.2.0-3-g0abc", "0abcdef", true},
		{"a -dirty commit from the Makefile is a modified tree", nil, "dev", "0abcdef-dirty", "dev", "0abcdef", true},
		{"a -dirty version from git describe is a modified tree", nil, "v1.2.0-dirty", "0abcdef", "v1.2.0-dirty", "0abcdef", true},
		{"a plain go build in a checkout reports Go's vcs stamp", stamped, "", "", "dev", "abc123", true},
		{"go install module@version reports the module version", installed, "", "", "v1.4.0", "unknown", false},
		{"nothing recorded at all is dev at an unknown commit", nil, "", "", "dev", "unknown", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := describeBuild(tc.bi, tc.ldVersion, tc.ldRev)
			if d.Version != tc.version || d.Commit != tc.revision || d.Modified != tc.modified || !strings.HasPrefix(d.GoVersion, "go1.") {
				t.Fatalf("got %+v, want version %q commit %q modified %v", d, tc.version, tc.revision, tc.modified)
			}
		})
	}
}

func TestTheVersionIsPrintedByTheFlagAndByTheCommand(t *testing.T) {
	for _, args := range [][]string{{"-version"}, {"version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := exec.Command(binary, args...).Output()
			if err != nil {
				t.Fatalf("prerenderd %s: %v", args[0], err)
			}
			for _, want := range []string{"prerenderd " + testVersion, testCommit, runtime.Version()} {
				if !strings.Contains(string(out), want) {
					t.Errorf("prerenderd %s does not print %q:\n%s", args[0], want, out)
				}
			}
		})
	}
}

func TestAnUnknownCommandIsRefusedInsteadOfStarting(t *testing.T) {
	out, err := exec.Command(binary, "frobnicate").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown command "frobnicate"`) {
		t.Fatalf("prerenderd frobnicate: %v\n%s", err, out)
	}
}

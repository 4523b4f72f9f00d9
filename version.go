package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set by the Makefile at link time
// (-ldflags "-X main.version=… -X main.commit=…", from git describe and git rev-parse);
// a plain `go build` or `go install` leaves them empty and buildVersion falls back to
// what the Go toolchain stamped into the binary.
var (
	version string
	commit  string
)

// buildDesc says which build a binary is: printed by -version, logged at start-up and
// exposed as prerender_build_info.
type buildDesc struct {
	Version   string // "v1.2.0", "v1.2.0-3-gabc1234", or "dev"
	Commit    string // the git revision, "unknown" when nothing recorded it
	Modified  bool   // built from a tree with uncommitted changes
	GoVersion string // the toolchain that built it
}

// currentBuild describes this binary.
func currentBuild() buildDesc {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(bi, version, commit)
}

// describeBuild prefers what the Makefile set; else the module version a
// `go install module@version` records and the vcs.* settings `go build` stamps in a
// git checkout (unless -buildvcs=false).
func describeBuild(bi *debug.BuildInfo, ldVersion, ldCommit string) buildDesc {
	d := buildDesc{Version: ldVersion, Commit: ldCommit, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			d.GoVersion = bi.GoVersion
		}
		if d.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			d.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if d.Commit == "" {
					d.Commit = s.Value
				}
			case "vcs.modified":
				if s.Value == "true" {
					d.Modified = true
				}
			}
		}
	}
	// The Makefile marks a tree with uncommitted changes with -dirty, as git describe does.
	if strings.HasSuffix(d.Version, "-dirty") || strings.HasSuffix(d.Commit, "-dirty") {
		d.Modified = true
		d.Commit = strings.TrimSuffix(d.Commit, "-dirty")
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	if d.Commit == "" {
		d.Commit = "unknown"
	}
	return d
}

// String is the answer of `prerenderd -version`.
func (d buildDesc) String() string {
	c := d.Commit
	if d.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("prerenderd %s\ncommit     %s\ngo         %s %s/%s\n", d.Version, c, d.GoVersion, runtime.GOOS, runtime.GOARCH)
}

package crawlers

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
)

// Formats are the forms Write prints the list in.
var Formats = []string{"text", "json", "nginx", "caddy", "regex"}

// ErrUnknownFormat is Write's answer to a format not in Formats.
var ErrUnknownFormat = errors.New("unknown format")

// Document is the JSON form of the list (GET /crawlers, `prerenderd crawlers -format
// json`).
type Document struct {
	Updated  string    `json:"updated"`
	Groups   []Group   `json:"groups"`
	Crawlers []Crawler `json:"crawlers"`
}

var jsonDoc = func() []byte {
	b, err := json.MarshalIndent(Document{Updated: list.Updated, Groups: Groups(), Crawlers: list.Crawlers}, "", "  ")
	if err != nil {
		panic(err) // plain strings and bools always marshal
	}
	return append(b, '\n')
}()

// JSON returns the JSON form of the list. The slice is shared: do not modify it.
func JSON() []byte { return jsonDoc }

// Regexp returns one case-insensitive regular expression (RE2 and PCRE alike) that
// matches the User-Agent of every crawler Match knows.
func Regexp() string {
	quoted := make([]string, len(matched))
	for i, c := range matched {
		quoted[i] = regexp.QuoteMeta(strings.ToLower(c.Pattern))
	}
	return "(?i)(?:" + strings.Join(quoted, "|") + ")"
}

// Write prints the list in format (one of Formats):
//   - text: a table for people;
//   - json: the Document;
//   - nginx: a map from $http_user_agent to the crawler's group ("" for a browser,
//     and for prerenderd's and prerender.io's own Chromium, whose User-Agent says
//     "prerender"), for the http {} block;
//   - caddy: a header_regexp line for a Caddyfile named matcher;
//   - regex: Regexp().
func Write(w io.Writer, format string) error {
	var err error
	switch format {
	case "text":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "GROUP\tNAME\tPATTERN\tVENDOR\tSOURCE\n")
		for _, g := range Groups() {
			for _, c := range list.Crawlers {
				if c.Group != g {
					continue
				}
				name := c.Name
				if c.TokenOnly {
					name += " (robots.txt token only)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Group, name, c.Pattern, c.Vendor, c.Source)
			}
		}
		err = tw.Flush()
	case "json":
		_, err = w.Write(jsonDoc)
	case "nginx":
		err = writeNginx(w)
	case "caddy":
		_, err = fmt.Fprintf(w, "# %s\nheader_regexp User-Agent \"%s\"\n", header(), Regexp())
	case "regex":
		_, err = fmt.Fprintln(w, Regexp())
	default:
		return fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	return err
}

func header() string {
	return fmt.Sprintf("prerenderd crawler list of %s, %d crawlers (prerenderd crawlers -format nginx|caddy|regex)", list.Updated, len(matched))
}

func writeNginx(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", header())
	b.WriteString("# The first regex that matches wins: the guard against prerenderd's own Chromium comes first.\n")
	b.WriteString("map $http_user_agent $prerender_crawler {\n")
	b.WriteString("    default \"\";\n")
	b.WriteString("    \"~*prerender\" \"\";\n")
	for _, g := range Groups() {
		first := true
		for _, c := range matched {
			if c.Group != g {
				continue
			}
			if first {
				fmt.Fprintf(&b, "    # %s\n", g)
				first = false
			}
			fmt.Fprintf(&b, "    \"~*%s\" %s;\n", regexp.QuoteMeta(strings.ToLower(c.Pattern)), g)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

const usage = `usage: prerenderd crawlers [-format text|json|nginx|caddy|regex]

Prints the crawler list prerenderd, its Go middleware and the files in deploy/ use:
  text    a table: group, name, pattern, vendor, source (the default)
  json    what GET /crawlers answers
  nginx   a map $http_user_agent $prerender_crawler {...} for the http {} block
  caddy   a header_regexp line for a Caddyfile named matcher
  regex   one case-insensitive regular expression (RE2 and PCRE)
`

// Main runs `prerenderd crawlers args…` and returns the exit code: 0 printed, 1 the
// output could not be written, 2 bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("prerenderd crawlers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	format := fs.String("format", "text", "text, json, nginx, caddy or regex")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "prerenderd crawlers: unexpected argument %q\n%s", fs.Arg(0), usage)
		return 2
	}
	if err := Write(stdout, *format); err != nil {
		fmt.Fprintf(stderr, "prerenderd crawlers: %v\n", err)
		if errors.Is(err, ErrUnknownFormat) {
			return 2
		}
		return 1
	}
	return 0
}

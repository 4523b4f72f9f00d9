package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"prerenderd/api"
)

const usage = `usage: prerenderd cache <command> [args] [flags]

commands:
  ls [QUERY]          list cached pages whose URL contains QUERY (or matches it, with %)
  purge URL|PATTERN   remove one URL at once, or every URL matching a pattern with %
                      ("%" alone removes everything); waits for a pattern to finish
  status              the last pattern clear: its job id, progress and result
  recache URL...      queue URLs for a priority recache (at most 1000)

flags common to every command (before or after the arguments):
  -addr ADDR          appliance address (default: $PRERENDERD_ADDR, else server.listen)
  -token TOKEN        admin token (default: $PRERENDERD_TOKEN); not needed on loopback
                      while server.tokens is empty
  -variant V          desktop or mobile (default: both)
  -json               print the API's JSON answers, for scripts (default: a table)
run "prerenderd cache <command> -h" for the flags of one command.
`

// Main runs `prerenderd cache args…` and returns the exit code: 0 done, 1 the
// appliance refused or failed, 2 bad usage.
func Main(args []string, defaultAddr string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("prerenderd cache "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("PRERENDERD_ADDR", defaultAddr), "appliance address, host:port or http://host:port (default $PRERENDERD_ADDR, else server.listen)")
	token := fs.String("token", os.Getenv("PRERENDERD_TOKEN"), "admin token, one of the appliance's server.tokens (default $PRERENDERD_TOKEN)")
	variant := fs.String("variant", "", "desktop or mobile (default: both)")
	asJSON := fs.Bool("json", false, "print the API's JSON answers, for scripts")
	c := &Client{HTTP: &http.Client{Timeout: time.Minute}}
	var args0 []string // the positional arguments, wherever the flags were
	var run func() error
	switch cmd {
	case "ls":
		start := fs.Int("start", 0, "skip this many results (pages of 200)")
		exact := fs.Bool("exact", false, "QUERY is one URL, matched exactly after normalization")
		all := fs.Bool("all", false, "follow every page of results, not only the first 200")
		run = func() error {
			if len(args0) > 1 {
				return usageError(fmt.Sprintf("ls takes at most one QUERY, got %d (%s): quote a QUERY that holds spaces", len(args0), quoteAll(args0)))
			}
			q := api.SearchRequest{Start: *start, AdaptiveType: *variant}
			if *exact {
				if len(args0) == 0 {
					return usageError("ls -exact takes the URL to look up")
				}
				q.ExactMatch = args0[0]
			} else if len(args0) == 1 {
				q.Query = args0[0]
			}
			return c.list(stdout, q, *all, *asJSON)
		}
	case "purge":
		noWait := fs.Bool("no-wait", false, "with a pattern, return once the clear job has started")
		run = func() error {
			if len(args0) != 1 {
				return usageError(fmt.Sprintf("purge takes one URL or pattern, got %d (%s)", len(args0), quoteAll(args0)))
			}
			return c.purge(stdout, stderr, args0[0], *variant, !*noWait, *asJSON)
		}
	case "status":
		run = func() error {
			if len(args0) != 0 {
				return usageError(fmt.Sprintf("status takes no arguments, got %s", quoteAll(args0)))
			}
			return c.status(stdout, *asJSON)
		}
	case "recache":
		run = func() error {
			if len(args0) == 0 {
				return usageError("recache takes at least one URL")
			}
			return c.recache(stdout, args0, *variant, *asJSON)
		}
	default:
		fmt.Fprintf(stderr, "prerenderd cache: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var err error
	args0, err = parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.Base = baseURL(*addr)
	c.Token = *token
	if err := run(); err != nil {
		fmt.Fprintf(stderr, "prerenderd cache %s: %v\n", cmd, err)
		if h := hint(err, c.Base); h != "" {
			fmt.Fprintf(stderr, "  next step: %s\n", h)
		}
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they stand among the arguments
// (`ls product -json` as `ls -json product`) and returns the arguments in order.
// After "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, ", ")
}

// hint names the flag or the step that fixes err, "" when there is none to name.
func hint(err error, base string) string {
	var refused *APIError
	var conn *connError
	switch {
	case errors.As(err, &conn):
		return fmt.Sprintf("is prerenderd running at %s? start it (make run, or prerenderd -config FILE), or point -addr (or $PRERENDERD_ADDR) at it", base)
	case !errors.As(err, &refused):
		return ""
	}
	switch refused.Reason {
	case "token-missing":
		return "pass -token TOKEN (or set $PRERENDERD_TOKEN) to one of the appliance's server.tokens"
	case "token-invalid":
		return "the token given by -token (or $PRERENDERD_TOKEN) is not one of the appliance's server.tokens"
	case "admin-not-loopback":
		return "the appliance has no server.tokens, so its admin routes answer its own host only: run this there, or set server.tokens and pass -token"
	case "bad-adaptive-type":
		return "-variant takes desktop or mobile"
	case "bad-url", "no-valid-url":
		return "give absolute http(s) URLs, e.g. https://shop.example/p/1"
	case "private-address":
		return "set security.allow_private = true in the appliance's config to recache sites on private addresses"
	case "host-not-allowed":
		return "add the host to security.allow_hosts in the appliance's config"
	case "clear-running":
		return "another pattern clear is running: follow it with prerenderd cache status, then try again"
	case "method-not-allowed", "not-found":
		return fmt.Sprintf("%s does not look like a prerenderd of this version: check -addr", base)
	}
	return ""
}

type usageError string

func (u usageError) Error() string { return string(u) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func baseURL(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimSuffix(addr, "/")
	}
	return "http://" + addr
}

// Client calls the admin API of one appliance.
type Client struct {
	Base  string // http://host:port
	Token string
	HTTP  *http.Client
}

// APIError is a refusal of the appliance: its status, reject reason and message.
type APIError struct {
	Status int
	Reason string
	Msg    string
}

// Error is "401 token-missing: prerenderToken (or X-Prerender-Token) is required":
// the appliance starts its plain-text answers with the reason, which is not repeated.
func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Msg)
	if e.Reason != "" {
		msg = strings.TrimPrefix(msg, e.Reason+": ")
	}
	switch {
	case e.Reason == "" && msg == "":
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	case e.Reason == "":
		return fmt.Sprintf("%d %s", e.Status, msg)
	case msg == "":
		return fmt.Sprintf("%d %s", e.Status, e.Reason)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Reason, msg)
}

// connError: the appliance could not be reached at all.
type connError struct {
	base string
	err  error
}

func (e *connError) Error() string {
	return fmt.Sprintf("cannot reach the appliance at %s: %v", e.base, e.err)
}
func (e *connError) Unwrap() error { return e.err }

// call sends body (nil for none) to path and decodes a 2xx answer into out.
func (c *Client) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if c.Token != "" {
		req.Header.Set("X-Prerender-Token", c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, &connError{base: c.Base, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("cannot read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Reason: resp.Header.Get("X-Prerender-Reject-Reason"), Msg: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("cannot decode the answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Search calls POST /search.
func (c *Client) Search(ctx context.Context, q api.SearchRequest) (api.SearchResponse, error) {
	var out api.SearchResponse
	q.Token = c.Token
	_, err := c.call(ctx, http.MethodPost, "/search", q, &out)
	return out, err
}

func (c *Client) list(w io.Writer, q api.SearchRequest, all, asJSON bool) error {
	ctx := context.Background()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "STATUS\tVARIANT\tHITS\tSIZE\tRENDERED\tEXPIRES\tURL")
	}
	shown, total := 0, 0
	for {
		r, err := c.Search(ctx, q)
		if err != nil {
			return err
		}
		total = r.Total
		if asJSON {
			if err := json.NewEncoder(w).Encode(r); err != nil {
				return err
			}
		}
		for _, it := range r.Results {
			if !asJSON {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", it.Status, it.Variant, it.Hits, it.Size,
					it.RenderedAt.Format(time.RFC3339), it.ExpiresAt.Format(time.RFC3339), it.URL)
			}
		}
		shown += len(r.Results)
		q.Start += len(r.Results)
		if !all || len(r.Results) == 0 || q.Start >= r.Total {
			break
		}
	}
	if asJSON {
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d shown of %d\n", shown, total)
	return nil
}

// Clear calls POST /cache-clear; with a pattern the answer is the started job.
func (c *Client) Clear(ctx context.Context, query, variant string) (api.ClearResponse, error) {
	var out api.ClearResponse
	_, err := c.call(ctx, http.MethodPost, "/cache-clear", api.ClearRequest{Token: c.Token, Query: query, AdaptiveType: variant}, &out)
	return out, err
}

// ClearStatus calls GET /cache-clear-status.
func (c *Client) ClearStatus(ctx context.Context) (api.ClearResponse, error) {
	var out api.ClearResponse
	_, err := c.call(ctx, http.MethodGet, "/cache-clear-status", nil, &out)
	return out, err
}

func (c *Client) purge(stdout, stderr io.Writer, query, variant string, wait, asJSON bool) error {
	ctx := context.Background()
	st, err := c.Clear(ctx, query, variant)
	if err != nil {
		return err
	}
	if st.Status == "done" {
		if asJSON {
			return writeJSON(stdout, st)
		}
		fmt.Fprintf(stdout, "removed %d page(s) of %s\n", st.Deleted, st.Query)
		return nil
	}
	if !wait {
		if asJSON {
			return writeJSON(stdout, st)
		}
		fmt.Fprintf(stdout, "clear job %d of %q started; follow it with: prerenderd cache status\n", st.ID, st.Query)
		return nil
	}
	id, last := st.ID, -1
	for {
		time.Sleep(200 * time.Millisecond)
		st, err = c.ClearStatus(ctx)
		if err != nil {
			return err
		}
		if st.ID != id {
			return fmt.Errorf("clear job %d was replaced by clear job %d before it could be followed", id, st.ID)
		}
		if st.Deleted != last && st.Status == "running" {
			fmt.Fprintf(stderr, "clear job %d: %d matched, %d removed so far\n", id, st.Matched, st.Deleted)
			last = st.Deleted
		}
		switch st.Status {
		case "running":
			continue
		case "done":
			if asJSON {
				return writeJSON(stdout, st)
			}
			fmt.Fprintf(stdout, "removed %d page(s) matching %q", st.Deleted, st.Query)
			if st.Busy > 0 {
				fmt.Fprintf(stdout, " (%d being rendered were left to their render)", st.Busy)
			}
			fmt.Fprintln(stdout)
			return nil
		default:
			return fmt.Errorf("clear job %d %s after removing %d page(s): %s", id, st.Status, st.Deleted, st.Error)
		}
	}
}

// status prints the last pattern clear job.
func (c *Client) status(w io.Writer, asJSON bool) error {
	st, err := c.ClearStatus(context.Background())
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, st)
	}
	if st.ID == 0 {
		fmt.Fprintln(w, "no pattern clear has run since the appliance started")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tMATCHED\tREMOVED\tRENDERING\tSTARTED\tFINISHED\tPATTERN")
	fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", st.ID, st.Status, st.Matched, st.Deleted, st.Busy,
		timeOrDash(st.StartedAt), timeOrDash(st.FinishedAt), st.Query)
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.Error != "" {
		fmt.Fprintf(w, "error: %s\n", st.Error)
	}
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *Client) recache(w io.Writer, urls []string, variant string, asJSON bool) error {
	if len(urls) > 1000 {
		return usageError(fmt.Sprintf("%d URLs: the API takes at most 1000 per call", len(urls)))
	}
	var out api.RecacheAnswer
	_, err := c.call(context.Background(), http.MethodPost, "/recache", api.RecacheRequest{Token: c.Token, URLs: urls, AdaptiveType: variant}, &out)
	var refused *APIError
	if errors.As(err, &refused) && refused.Reason == "no-valid-url" {
		// Every URL was refused: the answer still lists why, URL by URL.
		if json.Unmarshal([]byte(refused.Msg), &out) != nil {
			return err
		}
		if werr := c.printRecache(w, out, asJSON); werr != nil {
			return werr
		}
		return &APIError{Status: refused.Status, Reason: refused.Reason,
			Msg: fmt.Sprintf("none of the %d URL(s) was queued (each one's reason is above)", len(urls))}
	}
	if err != nil {
		return err
	}
	return c.printRecache(w, out, asJSON)
}

func (c *Client) printRecache(w io.Writer, a api.RecacheAnswer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, a)
	}
	fmt.Fprintf(w, "queued %d, already queued %d, refused %d\n", a.Queued, a.Duplicate, len(a.Invalid))
	if len(a.Invalid) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFUSED\tURL\tWHY")
	for _, in := range a.Invalid {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", in.Reason, in.URL, in.Error)
	}
	return tw.Flush()
}

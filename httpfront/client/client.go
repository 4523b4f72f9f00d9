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

	"prerenderd/httpfront"
)

const usage = `usage: prerenderd cache <command> [flags] [args]

commands:
  ls [QUERY]          list cached pages whose URL contains QUERY (or matches it, with %)
  purge URL|PATTERN   remove one URL at once, or every URL matching a pattern with %
                      ("%" alone removes everything); waits for a pattern to finish
  recache URL...      queue URLs for a priority recache (at most 1000)

flags common to every command:
  -addr ADDR          appliance address (default: $PRERENDERD_ADDR, else server.listen)
  -token TOKEN        admin token (default: $PRERENDERD_TOKEN); not needed on loopback
                      while server.tokens is empty
  -variant V          desktop or mobile (default: both)
run "prerenderd cache <command> -h" for the flags of one command.
`

// Main runs `prerenderd cache args…` and returns the exit code: 0 done, 1 the
// appliance refused or failed, 2 bad usage.
func Main(args []string, defaultAddr string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("prerenderd cache "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("PRERENDERD_ADDR", defaultAddr), "appliance address, host:port or http://host:port")
	token := fs.String("token", os.Getenv("PRERENDERD_TOKEN"), "admin token")
	variant := fs.String("variant", "", "desktop or mobile (default: both)")
	c := &Client{HTTP: &http.Client{Timeout: time.Minute}}
	var run func() error
	switch cmd {
	case "ls":
		start := fs.Int("start", 0, "skip this many results (pages of 200)")
		exact := fs.Bool("exact", false, "QUERY is one URL, matched exactly after normalization")
		all := fs.Bool("all", false, "follow every page of results, not only the first 200")
		asJSON := fs.Bool("json", false, "print the API's JSON answers")
		run = func() error {
			if fs.NArg() > 1 {
				return usageError("ls takes at most one QUERY")
			}
			q := SearchRequest{Start: *start, AdaptiveType: *variant}
			if *exact {
				q.ExactMatch = fs.Arg(0)
			} else {
				q.Query = fs.Arg(0)
			}
			return c.list(stdout, q, *all, *asJSON)
		}
	case "purge":
		noWait := fs.Bool("no-wait", false, "with a pattern, return once the clear has started")
		run = func() error {
			if fs.NArg() != 1 {
				return usageError("purge takes one URL or pattern")
			}
			return c.purge(stdout, stderr, fs.Arg(0), *variant, !*noWait)
		}
	case "recache":
		run = func() error {
			if fs.NArg() == 0 {
				return usageError("recache takes at least one URL")
			}
			return c.recache(stdout, fs.Args(), *variant)
		}
	default:
		fmt.Fprintf(stderr, "prerenderd cache: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.Base = baseURL(*addr)
	c.Token = *token
	if err := run(); err != nil {
		fmt.Fprintf(stderr, "prerenderd cache %s: %v\n", cmd, err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
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

// SearchRequest is the body of POST /search.
type SearchRequest struct {
	Token        string `json:"prerenderToken,omitempty"`
	Query        string `json:"query,omitempty"`
	ExactMatch   string `json:"exactMatch,omitempty"`
	Start        int    `json:"start,omitempty"`
	AdaptiveType string `json:"adaptiveType,omitempty"`
}

// APIError is a refusal of the appliance: its status, reject reason and message.
type APIError struct {
	Status int
	Reason string
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Reason, strings.TrimSpace(e.Msg))
}

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
		return 0, fmt.Errorf("cannot reach the appliance at %s: %w", c.Base, err)
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
func (c *Client) Search(ctx context.Context, q SearchRequest) (httpfront.SearchResponse, error) {
	var out httpfront.SearchResponse
	q.Token = c.Token
	_, err := c.call(ctx, http.MethodPost, "/search", q, &out)
	return out, err
}

func (c *Client) list(w io.Writer, q SearchRequest, all, asJSON bool) error {
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

type clearRequest struct {
	Token        string `json:"prerenderToken,omitempty"`
	Query        string `json:"query"`
	AdaptiveType string `json:"adaptiveType,omitempty"`
}

// Clear calls POST /cache-clear; with a pattern the answer is the started job.
func (c *Client) Clear(ctx context.Context, query, variant string) (httpfront.ClearResponse, error) {
	var out httpfront.ClearResponse
	_, err := c.call(ctx, http.MethodPost, "/cache-clear", clearRequest{Token: c.Token, Query: query, AdaptiveType: variant}, &out)
	return out, err
}

// ClearStatus calls GET /cache-clear-status.
func (c *Client) ClearStatus(ctx context.Context) (httpfront.ClearResponse, error) {
	var out httpfront.ClearResponse
	_, err := c.call(ctx, http.MethodGet, "/cache-clear-status", nil, &out)
	return out, err
}

func (c *Client) purge(stdout, stderr io.Writer, query, variant string, wait bool) error {
	ctx := context.Background()
	st, err := c.Clear(ctx, query, variant)
	if err != nil {
		return err
	}
	if st.Status == "done" {
		fmt.Fprintf(stdout, "removed %d page(s) of %s\n", st.Deleted, st.Query)
		return nil
	}
	if !wait {
		fmt.Fprintf(stdout, "clear %d of %q started; see GET /cache-clear-status\n", st.ID, st.Query)
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
			return fmt.Errorf("clear %d was replaced by clear %d before it could be followed", id, st.ID)
		}
		if st.Deleted != last && st.Status == "running" {
			fmt.Fprintf(stderr, "… %d matched, %d removed\n", st.Matched, st.Deleted)
			last = st.Deleted
		}
		switch st.Status {
		case "running":
			continue
		case "done":
			fmt.Fprintf(stdout, "removed %d page(s) matching %q", st.Deleted, st.Query)
			if st.Busy > 0 {
				fmt.Fprintf(stdout, " (%d being rendered were left to their render)", st.Busy)
			}
			fmt.Fprintln(stdout)
			return nil
		default:
			return fmt.Errorf("clear %d %s after removing %d page(s): %s", id, st.Status, st.Deleted, st.Error)
		}
	}
}

type recacheRequest struct {
	Token        string   `json:"prerenderToken,omitempty"`
	URLs         []string `json:"urls"`
	AdaptiveType string   `json:"adaptiveType,omitempty"`
}

func (c *Client) recache(w io.Writer, urls []string, variant string) error {
	if len(urls) > 1000 {
		return usageError(fmt.Sprintf("%d URLs: the API takes at most 1000 per call", len(urls)))
	}
	var out json.RawMessage
	if _, err := c.call(context.Background(), http.MethodPost, "/recache", recacheRequest{Token: c.Token, URLs: urls, AdaptiveType: variant}, &out); err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintf(w, "%s\n", out)
	return nil
}

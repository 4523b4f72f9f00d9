package browser

import (
	"encoding/json"
	"fmt"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
)

// maxHAREntries bounds what one HAR render records: a page that polls
// forever would otherwise grow the recording until the page timeout.
const maxHAREntries = 5000

// harRecorder records the network events of one render for renderType=har.
// handle runs on chromedp's event loop of the tab; encode runs after the page
// is done; mu serializes both.
type harRecorder struct {
	mu      sync.Mutex
	entries []*harRecord
	current map[network.RequestID]int // request id → its latest entry (a redirect starts a new one)
	firstTS cdp.MonotonicTime         // the first request, the page's time origin
	first   time.Time
	domTS   cdp.MonotonicTime
	loadTS  cdp.MonotonicTime
}

type harRecord struct {
	sent     *network.EventRequestWillBeSent
	resp     *network.Response
	size     int64 // decoded bytes received
	encoded  float64
	end      cdp.MonotonicTime // loading finished or failed
	errorMsg string
}

func newHARRecorder() *harRecorder {
	return &harRecorder{current: make(map[network.RequestID]int)}
}

// handle is a chromedp listener: it must return fast and run no command.
func (h *harRecorder) handle(ev any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		if i, ok := h.current[ev.RequestID]; ok && ev.RedirectResponse != nil {
			// The hop that redirected ends here, answered by the redirect.
			h.entries[i].resp = ev.RedirectResponse
			h.entries[i].end = ev.Timestamp
		}
		if len(h.entries) >= maxHAREntries {
			return
		}
		if len(h.entries) == 0 {
			h.firstTS, h.first = ev.Timestamp, wallTime(ev.WallTime)
		}
		h.current[ev.RequestID] = len(h.entries)
		h.entries = append(h.entries, &harRecord{sent: ev})
	case *network.EventResponseReceived:
		if r := h.record(ev.RequestID); r != nil {
			r.resp = ev.Response
		}
	case *network.EventDataReceived:
		if r := h.record(ev.RequestID); r != nil {
			r.size += ev.DataLength
		}
	case *network.EventLoadingFinished:
		if r := h.record(ev.RequestID); r != nil {
			r.end, r.encoded = ev.Timestamp, ev.EncodedDataLength
		}
	case *network.EventLoadingFailed:
		if r := h.record(ev.RequestID); r != nil {
			r.end = ev.Timestamp
			r.errorMsg = ev.ErrorText
			if ev.BlockedReason != "" {
				r.errorMsg += " (blocked: " + string(ev.BlockedReason) + ")"
			}
		}
	case *page.EventDomContentEventFired:
		if h.domTS == 0 {
			h.domTS = ev.Timestamp
		}
	case *page.EventLoadEventFired:
		if h.loadTS == 0 {
			h.loadTS = ev.Timestamp
		}
	}
}

func (h *harRecorder) record(id network.RequestID) *harRecord {
	if i, ok := h.current[id]; ok {
		return h.entries[i]
	}
	return nil
}

func wallTime(t cdp.TimeSinceEpoch) time.Time {
	sec := float64(t)
	return time.Unix(0, int64(sec*1e9)).UTC()
}

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the fields the npm
// prerender server writes.
type harFile struct {
	Log harLog `json:"log"`
}

type harLog struct {
	Version string     `json:"version"`
	Creator harCreator `json:"creator"`
	Pages   []harPage  `json:"pages"`
	Entries []harEntry `json:"entries"`
}

type harCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type harPage struct {
	StartedDateTime string         `json:"startedDateTime"`
	ID              string         `json:"id"`
	Title           string         `json:"title"`
	PageTimings     harPageTimings `json:"pageTimings"`
}

type harPageTimings struct {
	OnContentLoad float64 `json:"onContentLoad"`
	OnLoad        float64 `json:"onLoad"`
}

type harEntry struct {
	PageRef         string      `json:"pageref"`
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
	ServerIPAddress string      `json:"serverIPAddress,omitempty"`
	Connection      string      `json:"connection,omitempty"`
	ResourceType    string      `json:"_resourceType,omitempty"`
	Error           string      `json:"_error,omitempty"`
}

type harRequest struct {
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	HTTPVersion string    `json:"httpVersion"`
	Cookies     []harPair `json:"cookies"`
	Headers     []harPair `json:"headers"`
	QueryString []harPair `json:"queryString"`
	HeadersSize int       `json:"headersSize"`
	BodySize    int       `json:"bodySize"`
}

type harResponse struct {
	Status       int64      `json:"status"`
	StatusText   string     `json:"statusText"`
	HTTPVersion  string     `json:"httpVersion"`
	Cookies      []harPair  `json:"cookies"`
	Headers      []harPair  `json:"headers"`
	Content      harContent `json:"content"`
	RedirectURL  string     `json:"redirectURL"`
	HeadersSize  int        `json:"headersSize"`
	BodySize     int        `json:"bodySize"`
	TransferSize float64    `json:"_transferSize"`
}

type harContent struct {
	Size     int64  `json:"size"`
	MimeType string `json:"mimeType"`
}

type harPair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// encode writes the HAR of the render of pageURL: one page and an entry per
// request that was answered or failed (requests still open are left out).
func (h *harRecorder) encode(pageURL string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := harFile{Log: harLog{
		Version: "1.2",
		Creator: harCreator{Name: "prerenderd", Version: moduleVersion()},
		Pages: []harPage{{
			StartedDateTime: h.first.Format(time.RFC3339Nano),
			ID:              "page_1",
			Title:           pageURL,
			PageTimings:     harPageTimings{OnContentLoad: h.since(h.domTS), OnLoad: h.since(h.loadTS)},
		}},
		Entries: []harEntry{},
	}}
	for _, r := range h.entries {
		if r.resp == nil && r.errorMsg == "" {
			continue
		}
		f.Log.Entries = append(f.Log.Entries, r.entry())
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the HAR: %w", err)
	}
	return b, nil
}

// since is the time from the first request to ts in milliseconds, -1 when the
// event never came.
func (h *harRecorder) since(ts cdp.MonotonicTime) float64 {
	if ts == 0 || h.firstTS == 0 {
		return -1
	}
	return ms(float64(ts) - float64(h.firstTS))
}

func ms(seconds float64) float64 { return float64(int64(seconds*1e6)) / 1e3 }

func (r *harRecord) entry() harEntry {
	req := r.sent.Request
	e := harEntry{
		PageRef:         "page_1",
		StartedDateTime: wallTime(r.sent.WallTime).Format(time.RFC3339Nano),
		Request: harRequest{
			Method:      req.Method,
			URL:         req.URL + req.URLFragment,
			HTTPVersion: "unknown",
			Cookies:     []harPair{},
			Headers:     headerPairs(req.Headers),
			QueryString: queryPairs(req.URL),
			HeadersSize: -1,
			BodySize:    0,
		},
		Response: harResponse{
			HTTPVersion: "unknown",
			Cookies:     []harPair{},
			Headers:     []harPair{},
			HeadersSize: -1,
			BodySize:    -1,
		},
		ResourceType: strings.ToLower(string(r.sent.Type)),
		Error:        r.errorMsg,
		Timings:      harTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1},
	}
	if req.HasPostData {
		e.Request.BodySize = -1
	}
	if r.end != 0 {
		e.Time = ms(float64(r.end) - float64(r.sent.Timestamp))
		e.Timings.Receive = e.Time
	}
	resp := r.resp
	if resp == nil {
		return e
	}
	if resp.Protocol != "" {
		e.Request.HTTPVersion, e.Response.HTTPVersion = resp.Protocol, resp.Protocol
	}
	if len(resp.RequestHeaders) > 0 {
		e.Request.Headers = headerPairs(resp.RequestHeaders)
	}
	e.Response.Status = resp.Status
	e.Response.StatusText = resp.StatusText
	e.Response.Headers = headerPairs(resp.Headers)
	e.Response.Content = harContent{Size: r.size, MimeType: resp.MimeType}
	e.Response.TransferSize = r.encoded
	for _, p := range e.Response.Headers {
		if strings.EqualFold(p.Name, "Location") {
			e.Response.RedirectURL = p.Value
		}
	}
	e.ServerIPAddress = strings.Trim(resp.RemoteIPAddress, "[]")
	if resp.ConnectionID != 0 {
		e.Connection = fmt.Sprint(int64(resp.ConnectionID))
	}
	if tm := resp.Timing; tm != nil {
		e.Timings = timings(tm, r.end)
		e.Time = e.Timings.total()
	}
	return e
}

// timings splits a request's time into HAR's phases from Chromium's
// ResourceTiming (milliseconds relative to its requestTime), as DevTools does.
func timings(tm *network.ResourceTiming, end cdp.MonotonicTime) harTimings {
	firstNonNegative := func(vs ...float64) float64 {
		for _, v := range vs {
			if v >= 0 {
				return v
			}
		}
		return -1
	}
	t := harTimings{DNS: -1, Connect: -1, SSL: -1}
	t.Blocked = max(firstNonNegative(tm.DNSStart, tm.ConnectStart, tm.SendStart), 0)
	if tm.DNSStart >= 0 {
		t.DNS = firstNonNegative(tm.ConnectStart, tm.SendStart) - tm.DNSStart
	}
	if tm.ConnectStart >= 0 {
		t.Connect = tm.SendStart - tm.ConnectStart
	}
	if tm.SslStart >= 0 && tm.SslEnd >= 0 {
		t.SSL = tm.SslEnd - tm.SslStart
	}
	t.Send = max(tm.SendEnd-tm.SendStart, 0)
	t.Wait = max(tm.ReceiveHeadersEnd-tm.SendEnd, 0)
	if end != 0 {
		t.Receive = max(ms(float64(end)-tm.RequestTime)-tm.ReceiveHeadersEnd, 0)
	}
	return t
}

// total is the entry's time: the sum of its phases that took place (HAR
// counts ssl inside connect).
func (t harTimings) total() float64 {
	sum := t.Send + t.Wait + t.Receive + max(t.Blocked, 0)
	for _, v := range []float64{t.DNS, t.Connect} {
		if v > 0 {
			sum += v
		}
	}
	return sum
}

func headerPairs(h network.Headers) []harPair {
	out := []harPair{}
	for name, v := range h {
		for _, value := range strings.Split(fmt.Sprint(v), "\n") {
			out = append(out, harPair{Name: name, Value: value})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func queryPairs(raw string) []harPair {
	out := []harPair{}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		out = append(out, harPair{Name: name, Value: value})
	}
	return out
}

// moduleVersion is prerenderd's version as the Go toolchain recorded it.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

package httpfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"prerenderd/actors"
	"prerenderd/api"
	"prerenderd/cachekey"
)

// maxRecacheURLs is prerender.io's limit of URLs per Recache API call.
const maxRecacheURLs = 1000

// recache is prerender.io's Recache API: POST {prerenderToken, url | urls,
// adaptiveType}. Valid URLs are queued in the priority queue; invalid ones are
// reported one by one.
func (s *Server) recache(w http.ResponseWriter, r *http.Request) {
	var req api.RecacheRequest
	if !s.adminRequest(w, r, http.MethodPost, &req, func() string { return req.Token }) {
		return
	}
	urls := req.URLs
	if req.URL != "" {
		urls = append([]string{req.URL}, urls...)
	}
	switch {
	case len(urls) == 0:
		s.fail(w, r, &clientError{status: http.StatusBadRequest, reason: "no-url", msg: "give url or urls"})
		return
	case len(urls) > maxRecacheURLs:
		s.fail(w, r, &clientError{status: http.StatusBadRequest, reason: "too-many-urls",
			msg: fmt.Sprintf("%d urls: at most %d per call", len(urls), maxRecacheURLs)})
		return
	}
	variant, err := s.recacheVariant(req.AdaptiveType)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, invalid := s.recacheItems(r.Context(), urls, variant, "api")
	ans := api.RecacheAnswer{Invalid: invalid}
	if len(items) == 0 {
		// The JSON lists each URL's reason, as when some are valid; the header says
		// why the call as a whole did nothing.
		w.Header().Set("X-Prerender-Reject-Reason", "no-valid-url")
		writeAPIJSON(w, http.StatusBadRequest, ans)
		return
	}
	res, err := s.app.Recache(r.Context(), items)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans.Queued, ans.Duplicate = res.Queued, res.Duplicate
	s.log.Info("recache requested", "urls", len(urls), "queued", res.Queued, "duplicate", res.Duplicate, "invalid", len(invalid))
	writeAPIJSON(w, http.StatusOK, ans)
}

// recacheVariant maps prerender.io's adaptiveType to the variant a recache
// renders: desktop when none is given, as prerender.io does. A variant that is
// not rendered (render.variants) is refused: nobody would be served it.
func (s *Server) recacheVariant(adaptiveType string) (string, error) {
	v, err := variantOf(adaptiveType)
	if err != nil {
		return "", err
	}
	if v == "" {
		v = cachekey.VariantFor("", s.cfg.Variants)
	}
	if !slices.Contains(s.cfg.Variants, v) {
		return "", &clientError{status: http.StatusBadRequest, reason: "bad-adaptive-type",
			msg: fmt.Sprintf("adaptiveType %s is not rendered: render.variants is %q", v, s.cfg.Variants)}
	}
	return v, nil
}

// recacheItems validates URLs as a render request would be (scheme, host, the
// host list, private addresses after DNS, once per host) and turns the valid
// ones into queue items.
func (s *Server) recacheItems(ctx context.Context, urls []string, variant string, source string) ([]actors.RecacheItem, []api.InvalidURL) {
	var items []actors.RecacheItem
	var invalid []api.InvalidURL
	hostErr := make(map[string]error)
	for _, raw := range urls {
		u, err := targetURL(raw, s.cfg.StripQuery)
		if err == nil && !s.isDemo(u.Key) {
			herr, seen := hostErr[u.Key.Host]
			if !seen {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				herr = s.guard.Check(cctx, u.Load)
				cancel()
				hostErr[u.Key.Host] = herr
			}
			err = herr
		}
		if err != nil {
			_, reason := statusOf(err)
			invalid = append(invalid, api.InvalidURL{URL: raw, Reason: reason, Error: err.Error()})
			continue
		}
		// The queue renders the URL as given, and stores it under its key.
		items = append(items, actors.RecacheItem{Key: cachekey.Key(variant, u.Key), URL: u.Load.String(), Source: source})
	}
	return items, invalid
}

// changeRecacheSpeed is prerender.io's Change Recache Speed API: POST
// {prerenderToken, urlsPerHour}; 0 = automatic, else 3600–36000.
func (s *Server) changeRecacheSpeed(w http.ResponseWriter, r *http.Request) {
	var req api.RecacheSpeedRequest
	if !s.adminRequest(w, r, http.MethodPost, &req, func() string { return req.Token }) {
		return
	}
	if req.URLsPerHour == nil {
		s.fail(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-speed", msg: "urlsPerHour is required"})
		return
	}
	n, err := req.URLsPerHour.Int64()
	if err != nil || n != int64(int(n)) {
		s.fail(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-speed", msg: "urlsPerHour must be an integer"})
		return
	}
	if err := s.app.SetRecacheSpeed(r.Context(), int(n)); err != nil {
		if errors.Is(err, actors.ErrBadRecacheSpeed) {
			err = &clientError{status: http.StatusBadRequest, reason: "bad-speed", msg: err.Error()}
		}
		s.fail(w, r, err)
		return
	}
	writeAPIJSON(w, http.StatusOK, recacheSpeedAnswer(int(n)))
}

func recacheSpeedAnswer(urlsPerHour int) api.RecacheSpeed {
	a := api.RecacheSpeed{URLsPerHour: urlsPerHour, IsAutomaticDelay: urlsPerHour == 0}
	if urlsPerHour > 0 {
		a.RecacheMetrics = api.RecacheMetrics{
			DelayBetweenURLs: (time.Hour / time.Duration(urlsPerHour)).Milliseconds(),
			Num1Hour:         urlsPerHour,
			Num1Day:          24 * urlsPerHour,
		}
	}
	return a
}

package analytics

import (
	"sync"

	"prerenderd/api"
)

// RecentRenders is how many finished renders the recorder remembers.
const RecentRenders = 50

// recentRing keeps the last RecentRenders renders, in memory only: a render is
// a few per second at most, so a lock is cheap here.
type recentRing struct {
	mu   sync.Mutex
	buf  [RecentRenders]api.RecentRender
	n    int
	next int
}

func (q *recentRing) add(e Render) {
	rr := api.RecentRender{
		Time: e.Time.UTC(), URL: e.URL, Variant: e.Variant, Status: e.Status,
		Result: e.Result.String(), Queue: e.Queue.String(), Ms: e.Duration.Milliseconds(),
		Attempts: e.Attempts, Error: e.Err,
	}
	q.mu.Lock()
	q.buf[q.next] = rr
	q.next = (q.next + 1) % RecentRenders
	q.n = min(q.n+1, RecentRenders)
	q.mu.Unlock()
}

// Recent returns the last renders, newest first.
func (r *Recorder) Recent() []api.RecentRender {
	if r == nil {
		return nil
	}
	q := &r.recent
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]api.RecentRender, 0, q.n)
	for i := 1; i <= q.n; i++ {
		out = append(out, q.buf[(q.next-i+RecentRenders)%RecentRenders])
	}
	return out
}

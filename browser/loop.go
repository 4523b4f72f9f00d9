package browser

// chromedp routes every message of every tab through one browser loop, which
// blocks while the queue of the tab it delivers to is full (1,024 messages).
// A tab whose queue nobody drains blocks every tab of the browser for good:
// no message is read any more, not even the loss of the connection, so a kill
// of Chromium goes unnoticed too. Seen after a 50 MB page: every later render
// 504, the liveness kill without a restart. The functions here keep the
// queues of prerenderd's tabs drained.

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
)

// detachTimeout bounds the detach of a tab being closed; past it the tab is
// closed anyway.
const detachTimeout = 2 * time.Second

// detachTab detaches the session of t and waits until chromedp has routed
// its last message, before the caller cancels the tab's context. Canceling a
// tab's context stops its reader at once, but its session stays routed until
// Chromium confirms the detach; a page still loading (a big document sends a
// Network.dataReceived event per chunk) can fill the undrained queue in that
// window. Detaching first keeps the reader alive until the session is gone;
// the browser loop drops later messages of it.
func (b *Browser) detachTab(t *tab) {
	if t.target == nil || t.detached == nil || t.target.SessionID == "" {
		return // never attached, or prepared no further than that
	}
	select {
	case <-t.detached:
		return
	case <-b.closing:
		return // the whole browser goes: nothing is routed to its tabs any more
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), detachTimeout)
	defer cancel()
	if _, err := cdp.Call(ctx, b.cdp, target.DetachFromTarget, target.DetachFromTargetParams{SessionID: t.target.SessionID}); err != nil {
		return
	}
	select {
	case <-t.detached:
	case <-ctx.Done():
	case <-b.lost:
	}
}

// terminateScript stops the script of a tab whose page did not answer: a
// renderer busy in a loop would otherwise close only at Chromium's hang
// timeout.
func (b *Browser) terminateScript(t *tab) {
	if t.target == nil || b.gone() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = cdp.Call(ctx, t.target, runtime.TerminateExecution, cdp.Empty{})
}

// quietDOM turns off the DOM and CSS domains that chromedp enables on every
// tab. prerenderd reads pages with Runtime.evaluate only, and chromedp's tab
// loop answers DOM.documentUpdated with a DOM.getDocument that it waits for
// in the loop itself: while a renderer is busy with a huge document that call
// waits, the events behind it fill the tab's queues, and the browser loop
// blocks (the wedge seen after a 50 MB page: the 50 MiB renders of
// TestRenderOfA50MiBPageNeverBringsItOver wedged three runs of four before
// this). Without the domains Chromium sends no DOM events, and keeps no DOM
// mirror for a client that never reads it.
func (b *Browser) quietDOM(ctx context.Context, t *tab) error {
	if _, err := cdp.Call(ctx, t.target, css.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("cannot disable the CSS domain: %w", err)
	}
	if _, err := cdp.Call(ctx, t.target, dom.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("cannot disable the DOM domain: %w", err)
	}
	return nil
}

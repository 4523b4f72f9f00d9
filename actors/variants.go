package actors

import (
	"prerenderd/browser"
	"prerenderd/cachekey"
)

// renderRequest is the browser request of a cached render of key: the variant
// in the key chooses the screen, so a mobile key is rendered as a phone
// whoever asks for it (a crawler, a recache, a sitemap, the normal queue).
func (a *Appliance) renderRequest(key, url string) browser.Request {
	req := browser.Request{URL: url}
	if cachekey.VariantOfKey(key) == cachekey.Mobile {
		d := a.cfg.MobileDevice
		req.Device = &d
	}
	return req
}

// MobileDevice is the phone renders of the mobile variant emulate.
func (a *Appliance) MobileDevice() browser.Device { return a.cfg.MobileDevice }

// A service worker that claims every page of its scope: if it survived into a
// later render, that render would see it registered.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

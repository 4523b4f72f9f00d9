// The npm prerender server as its own server.js starts it (the same plugins), with
// three settings the benchmark needs: the Chromium to run (CHROME_LOCATION, the
// same Debian Chromium prerenderd runs), a free port (PORT) and a free DevTools
// port (BROWSER_DEBUGGING_PORT; its default 9222 may be taken). --no-sandbox is
// added because Chromium refuses to start as root without it.
const prerender = require('prerender');

const server = prerender({
  chromeLocation: process.env.CHROME_LOCATION,
  extraChromeFlags: ['--no-sandbox'],
});

server.use(prerender.sendPrerenderHeader());
server.use(prerender.browserForceRestart());
server.use(prerender.addMetaTags());
server.use(prerender.removeScriptTags());
server.use(prerender.httpHeaders());

server.start();

'use strict';
// The site of a prerender-node user, as its README sets it up: Express 5,
// prerender-node first, then the app (static files, and index.html for every
// other path). PRERENDER_SERVICE_URL points prerender-node at prerenderd. It
// prints "listening PORT" once it listens on a free loopback port.
const path = require('path');
const express = require('express');
const prerender = require('prerender-node');

const site = path.join(__dirname, 'site');
const app = express();
app.use(prerender.set('prerenderServiceUrl', process.env.PRERENDER_SERVICE_URL));
app.use(express.static(site));
app.use((req, res) => res.sendFile(path.join(site, 'index.html')));

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

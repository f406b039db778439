// The NHI-style fixture pages (tests/browser/fixture, with jQuery from npm) over HTTPS on
// 127.0.0.1:443, for the drivers that play a public NHI site (pages.mjs, profile-flow.mjs).
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function serveFixture(cert, key) {
  const here = (p) => fileURLToPath(new URL(p, import.meta.url));
  const files = {
    '/': ['text/html; charset=utf-8', readFileSync(here('./fixture/index.html'))],
    '/nhi-client.js': ['text/javascript', readFileSync(here('./fixture/nhi-client.js'))],
    '/jquery.js': ['text/javascript', readFileSync(here('./node_modules/jquery/dist/jquery.min.js'))],
  };
  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const f = files[new URL(req.url, 'https://x').pathname];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': f[0], 'Cache-Control': 'no-store' });
    res.end(f[1]);
  });
  await new Promise((ok, fail) => { server.once('error', fail); server.listen(443, '127.0.0.1', ok); });
  return server;
}

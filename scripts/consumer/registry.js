'use strict';
// A stand-in for the npm registry while websocket-rs is unpublished: serves the packument of the
// root package and of every platform package (npm/<target>/package.json at the root's version),
// and the tarballs that dist/ holds. Anything else is 404, so an install that reaches for a
// package the tarballs do not explain fails loudly. Prints its URL, then serves until killed.
//   node scripts/consumer/registry.js <dist folder>
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const dist = path.resolve(process.argv[2] || path.join(root, 'dist'));
const rootManifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = rootManifest.version;

const manifests = [rootManifest];
for (const dir of fs.readdirSync(path.join(root, 'npm'))) {
  manifests.push(JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8')));
}

function tarballName(name) {
  return `${name}-${version}.tgz`;
}

function packument(manifest, base) {
  const file = path.join(dist, tarballName(manifest.name));
  const dist_ = { tarball: `${base}/-/${tarballName(manifest.name)}` };
  let published = manifest;
  if (fs.existsSync(file)) {
    const bytes = fs.readFileSync(file);
    dist_.integrity = 'sha512-' + crypto.createHash('sha512').update(bytes).digest('base64');
    dist_.shasum = crypto.createHash('sha1').update(bytes).digest('hex');
    // The manifest as packed (the root's carries its optionalDependencies).
    published = JSON.parse(require('child_process')
      .execFileSync('tar', ['xzf', file, '-O', 'package/package.json'], { encoding: 'utf8' }));
  }
  const v = Object.assign({}, published, { version, dist: dist_ });
  return { name: manifest.name, 'dist-tags': { latest: version }, versions: { [version]: v } };
}

const server = http.createServer((req, res) => {
  const base = `http://${req.headers.host}`;
  const url = decodeURIComponent(req.url.split('?')[0]);
  const tarball = /^\/-\/([^/]+\.tgz)$/.exec(url);
  if (tarball && fs.existsSync(path.join(dist, tarball[1]))) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    fs.createReadStream(path.join(dist, tarball[1])).pipe(res);
    return;
  }
  const m = manifests.find((x) => url === '/' + x.name);
  if (m && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(packument(m, base)));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not found"}');
  process.stderr.write(`registry: 404 ${req.method} ${url}\n`);
});
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/`);
});

'use strict';
// Names the prebuilt binary this machine needs, as napi-rs names them: `<platform>-<arch>[-<abi>]`
// (linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc). Shared by the loader
// (lib/native.js) and the from-source build (scripts/build.js), so both agree on the file name.
const fs = require('fs');

const BINARY_NAME = 'websocket-rs';

// The targets package.json's `napi.targets` lists, by the suffix they are published under.
const SUPPORTED = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
];

// glibc or musl, told apart the way napi-rs's generated loader does: the ldd script names its
// libc, else Node's diagnostic report has a glibc version only on glibc, else `ldd --version`.
function linuxLibc() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'gnu';
  } catch (_) {
    // no ldd script (distroless images): ask the report
  }
  try {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    if (report && report.header) {
      if (report.header.glibcVersionRuntime) {
        return 'gnu';
      }
      const shared = Array.isArray(report.sharedObjects) ? report.sharedObjects : [];
      if (shared.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))) {
        return 'musl';
      }
    }
  } catch (_) {
    // reports can be disabled; fall through
  }
  try {
    const out = require('child_process').execSync('ldd --version 2>&1', { encoding: 'utf8' });
    return out.includes('musl') ? 'musl' : 'gnu';
  } catch (err) {
    // musl's ldd exits 1 after printing its banner
    return String(err.stdout || '').includes('musl') ? 'musl' : 'gnu';
  }
}

/** What this process runs on, and the suffix of the binary it needs. */
function detect() {
  const platform = process.platform;
  const arch = process.arch;
  let abi = null;
  if (platform === 'linux') {
    abi = linuxLibc();
  } else if (platform === 'win32') {
    abi = 'msvc';
  }
  const suffix = abi ? `${platform}-${arch}-${abi}` : `${platform}-${arch}`;
  return { platform, arch, abi, suffix, supported: SUPPORTED.includes(suffix) };
}

module.exports = { BINARY_NAME, SUPPORTED, detect };

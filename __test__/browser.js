'use strict';
// Headless Chromium for the browser tests: Debian's package at /usr/bin/chromium
// (`apt-get install chromium`; CHROMIUM_PATH overrides), driven by playwright-core.
const fs = require('fs');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT = 20000;

// Starts headless Chromium with a fresh temporary profile (close() deletes it); `extraArgs` go
// on its command line after the usual ones.
async function launchChromium(extraArgs) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: this test drives Debian's Chromium`);
  }
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: TIMEOUT,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ].concat(extraArgs || []),
  });
}

// Launches Chromium from a mocha `before` hook (`ctx` is its `this`). Without a Chromium that
// starts, the suite is skipped with a notice, so that `npm test` passes on a fresh machine; CI
// sets WEBSOCKET_RS_REQUIRE_BROWSER=1, which turns the skip into a failure.
async function launchOrSkip(ctx, what, extraArgs) {
  try {
    return await launchChromium(extraArgs);
  } catch (err) {
    if (process.env.WEBSOCKET_RS_REQUIRE_BROWSER === '1') {
      throw err;
    }
    console.warn(`\n    NOTICE: ${what} skipped: ${err.message.split('\n')[0]}\n` +
      '    (install Chromium, e.g. `apt-get install chromium`, or set CHROMIUM_PATH; ' +
      'WEBSOCKET_RS_REQUIRE_BROWSER=1 makes this a failure)\n');
    ctx.skip();
    return null;
  }
}

module.exports = { TIMEOUT, launchChromium, launchOrSkip };

'use strict';
// Test certificates, made at test time with the `openssl` command line (no network): a CA, a
// server certificate for `localhost` and 127.0.0.1 signed by it, and a client certificate signed
// by it, plus a self-signed server certificate (for `localhost` and 127.0.0.1 too). Keys are
// P-256 (quick to make). Everything is written to a fresh temporary directory that is removed
// before `makeCerts` returns; the PEM texts are returned as Buffers.
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CLIENT_CN = 'websocket-rs test client';
const CA_CN = 'websocket-rs test CA';

// A minimal configuration of our own, so the system's openssl.cnf (if any) does not matter.
const CONFIG = [
  '[ req ]',
  'distinguished_name = dn',
  'prompt = no',
  '[ dn ]',
  'CN = unused',
  '[ ca_ext ]',
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  '[ server_ext ]',
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = DNS:localhost, IP:127.0.0.1',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
  '[ self_ext ]',
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = DNS:localhost, IP:127.0.0.1',
  '[ client_ext ]',
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = clientAuth',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
  '',
].join('\n');

// Whether the openssl command line can be run.
function haveOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return false;
  }
}

// {ca, caKey, serverKey, serverCert, clientKey, clientCert, selfSignedKey, selfSignedCert,
// clientCN, caCN}: PEM Buffers (and the subject CNs). Throws if openssl is missing or fails.
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocket-rs-certs-'));
  const file = (name) => path.join(dir, name);
  const openssl = (args) => execFileSync('openssl', args, {
    cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: Object.assign({}, process.env, { OPENSSL_CONF: file('openssl.cnf') }),
  });
  const serial = () => '0x' + crypto.randomBytes(8).toString('hex');
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    fs.writeFileSync(file('openssl.cnf'), CONFIG);
    openssl(['req', '-config', file('openssl.cnf'), '-x509', ...newKey, '-keyout', file('ca.key'),
      '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=' + CA_CN, '-extensions', 'ca_ext', '-set_serial', serial()]);
    openssl(['req', '-config', file('openssl.cnf'), '-x509', ...newKey, '-keyout', file('self.key'),
      '-out', file('self.crt'), '-days', '2', '-subj', '/CN=localhost', '-extensions', 'self_ext', '-set_serial', serial()]);
    const leaf = (name, cn, ext) => {
      openssl(['req', '-config', file('openssl.cnf'), '-new', ...newKey, '-keyout', file(name + '.key'),
        '-out', file(name + '.csr'), '-subj', '/CN=' + cn]);
      openssl(['x509', '-req', '-in', file(name + '.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
        '-set_serial', serial(), '-days', '2', '-out', file(name + '.crt'),
        '-extfile', file('openssl.cnf'), '-extensions', ext]);
    };
    leaf('server', 'localhost', 'server_ext');
    leaf('client', CLIENT_CN, 'client_ext');
    const read = (name) => fs.readFileSync(file(name));
    return {
      ca: read('ca.crt'),
      caKey: read('ca.key'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
      clientKey: read('client.key'),
      clientCert: read('client.crt'),
      selfSignedKey: read('self.key'),
      selfSignedCert: read('self.crt'),
      clientCN: CLIENT_CN,
      caCN: CA_CN,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The certificates, or a clear error when the openssl command is missing (for a `before` hook).
function requireCerts() {
  if (!haveOpenssl()) {
    throw new Error('the openssl command line is needed to make the test certificates (apt-get install openssl)');
  }
  return makeCerts();
}

module.exports = { makeCerts, haveOpenssl, CLIENT_CN, CA_CN, requireCerts };

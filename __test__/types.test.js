'use strict';
// Type checks of index.d.ts with the TypeScript compiler (devDependency `typescript`):
// - __test__/types/tsconfig.json: example.ts (typed usage, with compile-time type assertions),
//   compat.ts (code in the style of @types/websocket users) and errors.ts (deliberate errors,
//   each marked @ts-expect-error) against this repository's index.d.ts;
// - __test__/types/tsconfig.types-websocket.json: the same compat.ts against @types/websocket,
//   which proves it is genuine @types/websocket code;
// - a copy of example.ts with one added error must fail, which proves the check can fail.
const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const TYPES_DIR = path.join(__dirname, 'types');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const OURS = path.join(ROOT, 'index.d.ts');
const DEFINITELY_TYPED = path.join(ROOT, 'node_modules', '@types', 'websocket', 'index.d.ts');

// Runs `tsc --noEmit --listFiles -p <project>`: resolves with the exit code, the files of the
// program, and the rest of the output (the diagnostics).
function tsc(project) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '--noEmit', '--listFiles', '--pretty', 'false', '-p', project],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(err);
          return;
        }
        const files = [];
        const diagnostics = [];
        for (const line of (stdout + stderr).split('\n')) {
          if (path.isAbsolute(line) && /\.tsx?$/.test(line)) {
            files.push(path.normalize(line));
          } else if (line.trim() !== '') {
            diagnostics.push(line);
          }
        }
        resolve({ code: err ? err.code : 0, files, output: diagnostics.join('\n') });
      });
  });
}

function assertCompiles(result, project) {
  assert.strictEqual(result.code, 0,
    'tsc -p ' + path.relative(ROOT, project) + ' failed:\n' + result.output);
}

describe('types: index.d.ts under tsc --noEmit', function () {
  this.timeout(60000);

  before(function () {
    assert.ok(fs.existsSync(TSC), 'TypeScript is not installed (npm install: devDependency `typescript`)');
  });

  it("example.ts, compat.ts and errors.ts compile against this repository's index.d.ts", async function () {
    const project = path.join(TYPES_DIR, 'tsconfig.json');
    const result = await tsc(project);
    assertCompiles(result, project);
    // `paths` sent 'websocket' to index.d.ts, not to @types/websocket.
    assert.ok(result.files.includes(OURS), 'index.d.ts is not part of the program');
    assert.ok(!result.files.includes(DEFINITELY_TYPED), '@types/websocket is part of the program');
    for (const name of ['example.ts', 'compat.ts', 'errors.ts']) {
      assert.ok(result.files.includes(path.join(TYPES_DIR, name)), name + ' was not checked');
    }
  });

  it('compat.ts compiles against @types/websocket too', async function () {
    const project = path.join(TYPES_DIR, 'tsconfig.types-websocket.json');
    const result = await tsc(project);
    assertCompiles(result, project);
    assert.ok(result.files.includes(DEFINITELY_TYPED), '@types/websocket is not part of the program');
    assert.ok(!result.files.includes(OURS), 'index.d.ts is part of the program');
  });

  it('fails on a copy of example.ts with a type error', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocket-rs-types-'));
    try {
      const source = fs.readFileSync(path.join(TYPES_DIR, 'example.ts'), 'utf8').replace(/\n*$/, '\n');
      const added = [
        'declare const negativeCheck: WebSocketConnection;',
        "negativeCheck.sendBytes('a string is not a Buffer');",
      ];
      const errorLine = source.split('\n').length + 1; // the sendBytes line, 1-based
      fs.writeFileSync(path.join(dir, 'example.ts'), source + added.join('\n') + '\n');
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        extends: path.join(TYPES_DIR, 'tsconfig.json'),
        files: ['example.ts'],
      }));
      const result = await tsc(path.join(dir, 'tsconfig.json'));
      assert.notStrictEqual(result.code, 0, 'tsc accepted sendBytes(string):\n' + result.output);
      const errors = result.output.split('\n').filter((line) => / error TS\d+:/.test(line));
      assert.strictEqual(errors.length, 1, 'expected exactly one error:\n' + result.output);
      assert.match(errors[0], new RegExp('example\\.ts\\(' + errorLine + ',\\d+\\): error TS2345:'),
        result.output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

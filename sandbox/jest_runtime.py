"""SandboxFusion's `jest` language: a TypeScript test file run by jest, and the files
beside it.

SandboxFusion writes the code as `X.test.ts` beside links to its runtime's
`node_modules`, `package.json` and `babel.config.js` and runs `npm run test`
(`FORCE_COLOR=0 jest`; babel's TypeScript and env presets). Here the same packages,
pinned (scripts/jest/, installed by scripts/install-jest.sh), are read-only at
`JEST_MOUNT` (bwrap mounts the host's prefix there; the docker image holds a copy),
and the run is `RUN_SCRIPT`: jest in one process (`--runInBand`), without cache or
watchman.

The nonce rule: a run passes only when jest exits 0 *and* a reporter of ours saw every
test pass. The script draws a nonce in the sandbox and leaves it in a file that the
reporter reads and deletes when jest loads it, before any test file runs; the reporter
writes it back to another file from `onRunComplete` only when no test or suite failed.
A test file that calls `process.exit(0)` ends jest before that: the script then exits
1, saying why. What jest prints is left as it is.
"""

from __future__ import annotations

__all__ = ["JEST_MOUNT", "RUN_SCRIPT", "SUPPORT"]

JEST_MOUNT = "/opt/rewardgate/jest"

# SandboxFusion's own babel.config.js.
BABEL_CONFIG = """\
module.exports = {
    presets: [
        ['@babel/preset-env', { targets: { node: 'current' } }],
        '@babel/preset-typescript'
    ],
};
"""

JEST_CONFIG = """\
module.exports = {
    rootDir: __dirname,
    testEnvironment: 'node',
    reporters: ['default', '<rootDir>/rewardgate-reporter.js'],
    cacheDirectory: '<rootDir>/.jest-cache',
    watchman: false,
};
"""

REPORTER = """\
// rewardgate: prints the run's nonce when every test passed (sandbox/jest_runtime.py).
const fs = require('fs');
const path = require('path');
const file = path.join(__dirname, '.rewardgate-nonce');
let nonce = '';
try {
    nonce = fs.readFileSync(file, 'utf8').trim();
    fs.unlinkSync(file);
} catch (e) {
    nonce = '';
}
const writeFileSync = fs.writeFileSync;  // taken before any test file runs

class RewardgateReporter {
    onRunComplete(contexts, results) {
        const passed = results.numTotalTests > 0 && results.numFailedTests === 0
            && results.numFailedTestSuites === 0 && results.numRuntimeErrorTestSuites === 0
            && !results.wasInterrupted;
        if (nonce && passed) writeFileSync(path.join(__dirname, '.rewardgate-passed'), nonce);
    }
}
module.exports = RewardgateReporter;
"""

SUPPORT = (
    ("babel.config.js", BABEL_CONFIG),
    ("jest.config.js", JEST_CONFIG),
    ("rewardgate-reporter.js", REPORTER),
)

RUN_SCRIPT = f"""\
ln -s {JEST_MOUNT}/node_modules node_modules || exit 1
nonce=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')
(umask 077 && printf '%s\\n' "$nonce" >.rewardgate-nonce) || exit 1
FORCE_COLOR=0 node {JEST_MOUNT}/node_modules/jest/bin/jest.js --ci --runInBand --no-cache \\
    --config jest.config.js
rc=$?
if [ "$rc" = 0 ] && [ "$(cat .rewardgate-passed 2>/dev/null)" != "$nonce" ]; then
    echo "rewardgate: jest ended before every test was seen to pass (process.exit?)" >&2
    exit 1
fi
exit "$rc"
"""

'use strict';
// A real dev chain for the tests: the `chancery` binary (CHANCERY_BIN, or the workspace's
// debug build) on a fresh home and a free port.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');

function binary() {
  const bin = process.env.CHANCERY_BIN ?? path.join(root, 'target', 'debug', 'chancery');
  if (!fs.existsSync(bin)) throw new Error(`no chancery binary at ${bin}: cargo build -p chancery-cli, or set CHANCERY_BIN`);
  return bin;
}

async function startDevChain() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'chancery-js-'));
  const child = spawn(binary(), ['dev', '--home', home, '--rpc-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev chain did not start:\n${output}`)), 60000);
    const seen = (chunk) => {
      output += chunk;
      const match = output.match(/^RPC\s+ws:\/\/(\S+)/m);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`dev chain exited (${code}):\n${output}`)));
  });
  return {
    url,
    home,
    genesis: path.join(home, 'genesis.json'),
    key: path.join(home, 'integrator.key'),
    bin: binary(),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

module.exports = { startDevChain, root };

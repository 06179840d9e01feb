'use strict';
// Chancery's JavaScript SDK: anchor documents on a Chancery ledger, follow them to
// commit, fetch their proofs and verify them offline. Keys, digests, txs, signing bytes
// and the verifier are the ledger's own Rust code (pkg/node, built from wasm/ by
// build.sh); this file is the JSON-RPC client around it.

const fs = require('node:fs');
const crypto = require('node:crypto');
const core = require('./pkg/node/chancery_js.js');
const websocket = require('./websocket.js');

/** An error of the core: `kind` names the failed check or the argument at fault. */
class ChanceryError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'ChanceryError';
    this.kind = kind;
  }
}

/** A proof that does not verify: `check` names the verifier's failed check. */
class VerifyError extends ChanceryError {
  constructor(kind, message) {
    super(kind, message);
    this.name = 'VerifyError';
    this.check = kind;
  }
}

/** An error answered by the node: `code` is its stable error code (docs/RPC.md). */
class RpcError extends Error {
  constructor(code, message, method) {
    super(`${method}: ${message} (code ${code})`);
    this.name = 'RpcError';
    this.code = code;
    this.method = method;
  }
}

const NON_CHECKS = new Set(['bad_argument', 'key_file', 'genesis']);

// Runs a core function, turning what it throws into a ChanceryError (or VerifyError).
function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (thrown) {
    let parsed;
    try {
      parsed = JSON.parse(thrown);
    } catch {
      throw thrown;
    }
    const Kind = fn === core.verify && !NON_CHECKS.has(parsed.kind) ? VerifyError : ChanceryError;
    throw new Kind(parsed.kind, parsed.message);
  }
}

const text = (value) => (typeof value === 'string' ? value : JSON.stringify(value));

/** Keys: generate one, load a key file (as `chancery` writes it), save one. */
const keys = {
  generate() {
    return new Key(call(core.Key.fromSeed, crypto.randomBytes(32)));
  },
  load(path) {
    return new Key(call(core.Key.fromKeyFile, fs.readFileSync(path, 'utf8')));
  },
  fromKeyFile(json) {
    return new Key(call(core.Key.fromKeyFile, text(json)));
  },
};

/** A signing key; its secret stays inside the WebAssembly instance. */
class Key {
  constructor(inner) {
    this.inner = inner;
    this.publicKey = inner.publicKey();
  }
  /** Writes the key file, readable by its owner only. */
  save(path) {
    fs.writeFileSync(path, this.inner.keyFile(), { mode: 0o600, flag: 'wx' });
  }
  /** Signs a tx body (object or JSON) with `nonce` on `chain` ({chain_id, genesis_hash}). */
  signTx(chain, body, nonce) {
    const signed = call(() => this.inner.signTx(chain.chain_id, chain.genesis_hash, text(body), String(nonce)));
    return JSON.parse(signed);
  }
  /** Signs signing bytes a node prepared (`tx_prepare`); check them first with `signingBytes`. */
  signPrepared(signBytes) {
    return call(() => this.inner.signPrepared(signBytes));
  }
}

/** The digest `alg:hex` of bytes, as the ledger records it (sha256 by default). */
function digestOf(bytes, alg = 'sha256') {
  return call(core.digest, alg, bytes);
}

/** The signing bytes of a tx body by `signer` with `nonce`: compare with `tx_prepare`'s. */
function signingBytes(chain, body, signer, nonce) {
  return call(core.signingBytes, chain.chain_id, chain.genesis_hash, text(body), signer, String(nonce));
}

/**
 * Verifies a proof bundle against the chain's genesis (objects or JSON text), and that
 * `bytes` are the anchored document when given. Returns the verifier's report with
 * `verified: true`; throws a VerifyError naming the failed check otherwise.
 */
function verify(bundle, genesis, bytes) {
  const file = bytes === undefined || bytes === null ? undefined : Uint8Array.from(bytes);
  const report = JSON.parse(call(core.verify, text(bundle), text(genesis), file));
  return { verified: true, ...report };
}

// Nonces: microseconds since the epoch, strictly increasing within the process, so a
// client stays above every nonce it used before (as the Rust client numbers them).
let lastNonce = 0n;
function nextNonce() {
  const now = BigInt(Date.now()) * 1000n;
  lastNonce = now > lastNonce ? now : lastNonce + 1n;
  return lastNonce;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client of one node. `url`: its RPC address, http:// or ws:// (both are served). */
class Chancery {
  constructor(url, options = {}) {
    const u = new URL(url);
    const secure = u.protocol === 'https:' || u.protocol === 'wss:';
    this.httpUrl = `${secure ? 'https' : 'http'}://${u.host}${u.pathname}`;
    this.wsUrl = `${secure ? 'wss' : 'ws'}://${u.host}${u.pathname}`;
    this.key = typeof options.key === 'string' ? keys.load(options.key) : options.key;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.nextId = 1;
    this.chainInfo = null;
    this.queued = [];
    this.flushing = false;
  }

  /** Calls a JSON-RPC method; resolves to its result or rejects with an RpcError. */
  async request(method, params = []) {
    const id = this.nextId++;
    const response = await fetch(this.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = await response.text();
    let answer;
    try {
      answer = JSON.parse(body);
    } catch {
      throw new RpcError(-32700, `HTTP ${response.status}: ${body.slice(0, 200)}`, method);
    }
    if (answer.error) throw new RpcError(answer.error.code, answer.error.message, method);
    return answer.result;
  }

  /** The chain's id, genesis hash, height and limits (cached for signing). */
  async info() {
    this.chainInfo = await this.request('chain_info');
    return this.chainInfo;
  }

  async chain() {
    return this.chainInfo ?? this.info();
  }

  /**
   * Signs a tx body with the client's key and the next nonce and submits it; resolves to
   * {txHash, tx}. Concurrent calls are signed in nonce order and sent together with
   * `evidence_submitBatch`, so they reach the node in that order (a node refuses a nonce
   * below one it already holds) and share round trips.
   */
  submitBody(body) {
    if (!this.key) throw new ChanceryError('bad_argument', 'this client has no key: new Chancery(url, {key})');
    return new Promise((resolve, reject) => {
      this.queued.push({ body, resolve, reject });
      if (!this.flushing) this.flush();
    });
  }

  async flush() {
    this.flushing = true;
    try {
      const chain = await this.chain();
      const max = Math.max(1, Math.min(chain.submit_batch_max ?? 1, 1000));
      while (this.queued.length > 0) {
        const signed = [];
        for (const item of this.queued.splice(0, max)) {
          try {
            signed.push({ item, tx: this.key.signTx(chain, item.body, nextNonce()).tx });
          } catch (e) {
            item.reject(e);
          }
        }
        if (signed.length === 0) continue;
        try {
          const outcomes = await this.request('evidence_submitBatch', [signed.map((s) => s.tx)]);
          outcomes.forEach((outcome, i) => {
            const { item, tx } = signed[i];
            if (outcome.accepted) item.resolve({ txHash: outcome.accepted.tx_hash, tx });
            else item.reject(new RpcError(outcome.refused.error.code, outcome.refused.error.message, 'evidence_submit'));
          });
        } catch (e) {
          for (const { item } of signed) item.reject(e);
        }
      }
    } catch (e) {
      for (const item of this.queued.splice(0)) item.reject(e);
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Anchors a file (a path, or its bytes): its digest goes on chain, never its content.
   * Resolves to {txHash, digest} and, with `wait`, {height, timeMs} once committed.
   */
  async anchorFile(file, { kind = 'document', refs = [], alg = 'sha256', wait = false } = {}) {
    const bytes = typeof file === 'string' ? fs.readFileSync(file) : file;
    const digest = digestOf(bytes, alg);
    const body = call(core.evidenceBody, kind, digest, JSON.stringify(refs));
    const { txHash } = await this.submitBody(body);
    const anchored = { txHash, digest };
    if (!wait) return anchored;
    const status = await this.waitCommitted(txHash);
    return { ...anchored, height: status.height, timeMs: status.block_time_ms };
  }

  /** Where a tx stands: pending, committed (height, block time), dropped or unknown. */
  async status(txHash) {
    return this.request('evidence_status', [txHash]);
  }

  /** Polls until `txHash` is committed; rejects if it is dropped or time runs out. */
  async waitCommitted(txHash, timeoutMs = this.timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const status = await this.status(txHash);
      if (status.status === 'committed') return status;
      if (status.status === 'dropped') {
        throw new ChanceryError('dropped', `tx ${txHash} was dropped: ${status.reason}`);
      }
      if (Date.now() > deadline) {
        throw new ChanceryError('timeout', `tx ${txHash} not committed within ${timeoutMs} ms (${status.status})`);
      }
      await sleep(pause);
    }
  }

  /** The proof bundle of a committed tx, or of the first anchor of a digest (`alg:hex`). */
  async proof(txHashOrDigest, { checkpoint } = {}) {
    let txHash = txHashOrDigest;
    if (txHashOrDigest.includes(':')) {
      const { anchors } = await this.request('evidence_byDigest', [txHashOrDigest]);
      if (anchors.length === 0) throw new ChanceryError('not_found', `no committed tx anchors ${txHashOrDigest}`);
      txHash = anchors[0].tx_hash;
    }
    return this.request('evidence_proof', checkpoint === undefined ? [txHash] : [txHash, checkpoint]);
  }

  /**
   * Calls `callback({height, block_hash, time_ms, tx_hashes})` for every committed block.
   * Resolves once subscribed to an object whose `close()` ends the subscription.
   */
  async subscribeCommitted(callback) {
    const socket = await websocket.connect(this.wsUrl, { timeoutMs: this.timeoutMs });
    const subscribed = new Promise((resolve, reject) => {
      socket.onClose = (error) => reject(error ?? new Error('the node closed the subscription'));
      socket.onMessage = (text) => {
        const message = JSON.parse(text);
        if (message.id === 1) {
          if (message.error) reject(new RpcError(message.error.code, message.error.message, 'evidence_subscribeCommitted'));
          else resolve(message.result);
        } else if (message.method === 'evidence_subscribeCommitted' && message.params) {
          callback(message.params.result);
        }
      };
    });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'evidence_subscribeCommitted', params: [] }));
    try {
      await subscribed;
    } catch (e) {
      socket.close();
      throw e;
    }
    socket.onClose = () => {};
    return { close: () => socket.close() };
  }
}

module.exports = {
  Chancery,
  keys,
  Key,
  verify,
  digestOf,
  signingBytes,
  ChanceryError,
  VerifyError,
  RpcError,
  core,
};

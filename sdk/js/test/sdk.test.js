'use strict';
// The JavaScript SDK against a real dev chain: anchor, wait, proof, verify (with the SDK
// and with `chancery verify`), subscribe, the node's error codes; and the ledger's golden
// vectors through the WebAssembly core.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const chancery = require('..');
const { Chancery, keys, verify, digestOf, signingBytes, VerifyError, RpcError, ChanceryError, core } = chancery;
const { startDevChain, root } = require('./devchain.js');

const golden = JSON.parse(fs.readFileSync(path.join(root, 'ledger/tests/golden.json'), 'utf8'));
const vectors = JSON.parse(fs.readFileSync(path.join(root, 'sdk/vectors/signing.json'), 'utf8'));

test('the golden txs sign to the same bytes and hash through the SDK', () => {
  const chain = { chain_id: vectors.chain_id, genesis_hash: vectors.genesis_hash };
  for (const v of vectors.txs) {
    const key = new chancery.Key(core.Key.fromSeed(Buffer.from(v.seed, 'hex')));
    const body = JSON.parse(core.evidenceBody(v.kind, digestOf(Buffer.from(v.document_utf8), v.digest_alg), '[]'));
    assert.deepEqual(body, v.body);
    const signed = key.signTx(chain, body, v.nonce);
    assert.equal(signed.tx, golden[v.golden].hex);
    assert.equal(signed.tx_hash, golden[v.golden].hash);
    assert.equal(core.txHash(signed.tx), golden[v.golden].hash);
  }
});

test('every golden object decodes, re-encodes to itself and hashes as pinned', () => {
  for (const [kind, entry] of Object.entries(golden)) {
    assert.equal(core.canonicalHash(kind, entry.hex, vectors.chain_id, vectors.genesis_hash), entry.hash, kind);
    const truncated = entry.hex.slice(0, -2);
    assert.throws(() => core.canonicalHash(kind, truncated, vectors.chain_id, vectors.genesis_hash), /decode/, kind);
  }
});

test('hostile input to the core is a ChanceryError naming the argument', () => {
  assert.throws(() => keys.fromKeyFile('{"version":1}'), (e) => e instanceof ChanceryError && e.kind === 'key_file');
  assert.throws(() => keys.fromKeyFile('x'.repeat(5000)), (e) => e.kind === 'key_file');
  assert.throws(() => digestOf(Buffer.from('x'), 'md5'), (e) => e.kind === 'bad_argument');
  assert.throws(() => verify('{', '{}'), (e) => e instanceof ChanceryError);
  const key = keys.generate();
  assert.throws(() => key.signTx({ chain_id: 'a b', genesis_hash: '00'.repeat(32) }, {}, 1), (e) => e.kind === 'bad_argument');
  assert.throws(() => key.signPrepared('abcd'), (e) => e.kind === 'bad_argument');
  const again = keys.fromKeyFile(key.inner.keyFile());
  assert.equal(again.publicKey, key.publicKey);
});

test('against a dev chain', async (t) => {
  const dev = await startDevChain();
  t.after(() => dev.stop());
  const client = new Chancery(dev.url, { key: dev.key });
  const genesis = fs.readFileSync(dev.genesis, 'utf8');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'chancery-js-files-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  await t.test('a subscriber sees the anchored tx commit', async () => {
    const seen = [];
    const subscription = await client.subscribeCommitted((block) => seen.push(block));
    const anchored = await client.anchorFile(Buffer.from(`subscribed ${Date.now()}`), { wait: true });
    for (let i = 0; i < 100 && !seen.some((b) => b.tx_hashes.includes(anchored.txHash)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    subscription.close();
    const block = seen.find((b) => b.tx_hashes.includes(anchored.txHash));
    assert.ok(block, 'the committed block announced the tx');
    assert.equal(block.height, anchored.height);
  });

  await t.test('anchor a file, wait, fetch its proof and verify it (SDK and CLI)', async () => {
    const file = path.join(work, 'contract.pdf');
    fs.writeFileSync(file, `contract ${Date.now()} ${Math.random()}`);
    const anchored = await client.anchorFile(file, { wait: true });
    assert.match(anchored.txHash, /^[0-9a-f]{64}$/);
    assert.ok(Number.isInteger(anchored.height) && anchored.timeMs > 0);
    const status = await client.status(anchored.txHash);
    assert.equal(status.status, 'committed');
    assert.equal(status.height, anchored.height);

    const bundle = await client.proof(anchored.txHash);
    const report = verify(bundle, genesis, fs.readFileSync(file));
    assert.equal(report.verified, true);
    assert.equal(report.tx_hash, anchored.txHash);
    assert.equal(report.height, anchored.height);
    assert.equal(report.file_matches, true);
    // By digest: the same proof.
    const byDigest = await client.proof(anchored.digest);
    assert.equal(verify(byDigest, JSON.parse(genesis)).tx_hash, anchored.txHash);

    const proofPath = path.join(work, 'proof.json');
    fs.writeFileSync(proofPath, JSON.stringify(bundle));
    const cli = execFileSync(dev.bin, ['verify', proofPath, '--genesis', dev.genesis, '--file', file], { encoding: 'utf8' });
    assert.match(cli, /VERIFIED/);

    // Another document: the check that fails is named.
    assert.throws(
      () => verify(bundle, genesis, Buffer.from('another document')),
      (e) => e instanceof VerifyError && e.check === 'file_mismatch' && /not the anchored file/.test(e.message),
    );
    // An edited bundle.
    const edited = structuredClone(bundle);
    edited.tx = edited.tx.slice(0, -2) + (edited.tx.endsWith('00') ? '01' : '00');
    assert.throws(() => verify(edited, genesis), (e) => e instanceof VerifyError && e.check !== undefined);
  });

  await t.test('concurrent anchors of one client reach the node in nonce order', async () => {
    const anchored = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.anchorFile(Buffer.from(`concurrent ${Date.now()} ${i}`))),
    );
    assert.equal(new Set(anchored.map((a) => a.txHash)).size, 40);
    for (const a of anchored) assert.equal((await client.waitCommitted(a.txHash)).status, 'committed');
  });

  await t.test('prepared bytes are the bytes the SDK computes', async () => {
    const key = keys.load(dev.key);
    const info = await client.info();
    const body = JSON.parse(core.evidenceBody('document', digestOf(Buffer.from(`prepared ${Date.now()}`)), '[]'));
    const nonce = BigInt(Date.now()) * 1000n + 777n;
    const prepared = await client.request('tx_prepare', [body, key.publicKey, Number(nonce)]);
    assert.equal(prepared.sign_bytes, signingBytes(info, body, key.publicKey, nonce));
    const txHash = await client.request('tx_submitSigned', [prepared.unsigned_tx, key.signPrepared(prepared.sign_bytes)]);
    assert.equal((await client.waitCommitted(txHash)).status, 'committed');
  });

  await t.test('the node\'s error codes: an unknown key, a replayed nonce', async () => {
    const stranger = new Chancery(dev.url, { key: keys.generate() });
    await assert.rejects(
      stranger.anchorFile(Buffer.from('from a stranger')),
      (e) => e instanceof RpcError && e.code === 1003,
    );
    const key = keys.load(dev.key);
    const info = await client.info();
    const nonce = BigInt(Date.now()) * 1000n + 999n;
    const body = (text) => JSON.parse(core.evidenceBody('document', digestOf(Buffer.from(text)), '[]'));
    const first = key.signTx(info, body(`first ${nonce}`), nonce);
    await client.waitCommitted(await client.request('evidence_submit', [first.tx]));
    const replay = key.signTx(info, body(`second ${nonce}`), nonce);
    await assert.rejects(client.request('evidence_submit', [replay.tx]), (e) => e instanceof RpcError && e.code === 1005);
    await assert.rejects(client.request('evidence_submit', [first.tx]), (e) => e instanceof RpcError && [1005, 1006].includes(e.code));
  });
});

test('the typings type-check an example (tsc --strict)', () => {
  const tsc = path.join(__dirname, '..', 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', path.join(__dirname, '..', 'tsconfig.json')], { encoding: 'utf8' });
});

test('the web build is the same core: same digest, same signed golden tx', async () => {
  const web = await import('../pkg/web/chancery_js.js');
  web.initSync({ module: fs.readFileSync(path.join(__dirname, '..', 'pkg', 'web', 'chancery_js_bg.wasm')) });
  assert.equal(web.digest('sha256', Buffer.from('contract')), digestOf(Buffer.from('contract')));
  const v = vectors.txs[0];
  const key = web.Key.fromSeed(Buffer.from(v.seed, 'hex'));
  const signed = JSON.parse(key.signTx(vectors.chain_id, vectors.genesis_hash, JSON.stringify(v.body), String(v.nonce)));
  assert.equal(signed.tx, golden[v.golden].hex);
});

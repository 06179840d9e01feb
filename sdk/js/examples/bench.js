// Anchoring throughput of the JavaScript SDK from one process: N documents (made in
// memory), at most C anchorFile calls in flight, then waits for the last to commit.
//   node examples/bench.js URL KEYFILE [N=2000] [C=32]
// Prints submitted/s (until every call answered) and committed/s (until the last tx's
// block); docs/BENCHMARKS.md compares them with the Rust client on the same chain.
const { Chancery } = require('chancery');

async function main([url, key, n = '2000', c = '32']) {
  const total = Number(n);
  const inFlight = Number(c);
  const chancery = new Chancery(url, { key });
  await chancery.info();
  const tag = `${process.pid}-${Date.now()}`;
  const hashes = new Array(total);
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      hashes[i] = (await chancery.anchorFile(Buffer.from(`bench ${tag} ${i}`))).txHash;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const submitted = Number(process.hrtime.bigint() - started) / 1e9;
  await chancery.waitCommitted(hashes[total - 1], 120000);
  for (const h of hashes.slice(-50)) await chancery.waitCommitted(h, 120000);
  const committed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `js: ${total} anchors, ${inFlight} in flight: submitted ${(total / submitted).toFixed(0)}/s, ` +
      `committed ${(total / committed).toFixed(0)}/s (${committed.toFixed(2)} s)`,
  );
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e.message);
  process.exit(1);
});

// Anchor a file on a Chancery chain, wait for its block, fetch the proof and verify it
// offline against the genesis file:
//   node examples/anchor.js http://127.0.0.1:7720 ~/.chancery/dev/integrator.key \
//     ~/.chancery/dev/genesis.json contract.pdf
const fs = require('node:fs');
const { Chancery, verify } = require('chancery');

async function main([url, key, genesis, file]) {
  const chancery = new Chancery(url, { key });
  const anchored = await chancery.anchorFile(file, { wait: true });
  console.log(`anchored ${anchored.digest} in tx ${anchored.txHash} at height ${anchored.height}`);
  const proof = await chancery.proof(anchored.txHash);
  const report = verify(proof, fs.readFileSync(genesis, 'utf8'), fs.readFileSync(file));
  console.log(`verified: ${report.verified}, block time ${new Date(report.block_time_ms).toISOString()}`);
  fs.writeFileSync(`${file}.proof.json`, JSON.stringify(proof));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e.message);
  process.exit(1);
});

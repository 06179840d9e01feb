// The SDK's types in use (checked by `tsc --noEmit` in the tests).
import { readFileSync } from 'node:fs';
import { Chancery, verify, VerifyError, RpcError, type Report } from 'chancery';

export async function anchorAndVerify(url: string, key: string, genesis: string, file: string): Promise<Report> {
  const chancery = new Chancery(url, { key });
  const anchored = await chancery.anchorFile(file, { kind: 'document', wait: true });
  const height: number | undefined = anchored.height;
  console.log(`tx ${anchored.txHash} at height ${height}`);
  const sub = await chancery.subscribeCommitted((block) => console.log(block.height, block.tx_hashes.length));
  sub.close();
  try {
    return verify(await chancery.proof(anchored.txHash), readFileSync(genesis, 'utf8'), readFileSync(file));
  } catch (e) {
    if (e instanceof VerifyError) console.error(`not verified: ${e.check}`);
    if (e instanceof RpcError) console.error(`node said ${e.code}`);
    throw e;
  }
}

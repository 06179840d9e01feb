// Types of Chancery's JavaScript SDK (index.js).

/** The chain a tx is for, as `chain_info` answers it. */
export interface ChainRef {
  chain_id: string;
  genesis_hash: string;
}

export interface ChainInfo extends ChainRef {
  blocks: number;
  latest_block_hash: string | null;
  latest_time_ms: number | null;
  request_bytes_max: number;
  submit_batch_max: number;
  [field: string]: unknown;
}

/** A signed tx: canonical bytes (hex) and hash. */
export interface SignedTx {
  tx: string;
  tx_hash: string;
}

/** A signing key; its secret stays inside the WebAssembly instance. */
export class Key {
  readonly publicKey: string;
  /** Writes the key file (owner-only; refuses to overwrite). */
  save(path: string): void;
  signTx(chain: ChainRef, body: object | string, nonce: number | bigint): SignedTx;
  /** Signs `tx_prepare`'s `sign_bytes` (hex); check them first with `signingBytes`. */
  signPrepared(signBytes: string): string;
}

export const keys: {
  generate(): Key;
  load(path: string): Key;
  fromKeyFile(json: string | object): Key;
};

export type TxStatus =
  | { tx_hash: string; status: 'pending' }
  | { tx_hash: string; status: 'committed'; height: number; index: number; block_time_ms: number }
  | { tx_hash: string; status: 'dropped'; reason: string }
  | { tx_hash: string; status: 'unknown' };

export interface Anchored {
  txHash: string;
  /** `alg:hex` */
  digest: string;
  /** Once committed (`wait: true`). */
  height?: number;
  timeMs?: number;
}

export interface AnchorOptions {
  /** Evidence kind: document (default), signing_event, identity_check, ..., custom:N. */
  kind?: string;
  /** Related txs' hashes. */
  refs?: string[];
  /** Digest algorithm: sha256 (default), sha512, sm3, blake3. */
  alg?: string;
  /** Resolve once committed, with height and block time. */
  wait?: boolean;
}

/** A proof bundle (docs/PROOF_FORMAT.md). */
export interface ProofBundle {
  version: number;
  chain_id: string;
  genesis_hash: string;
  tx: string;
  header: string;
  commit: string;
  [field: string]: unknown;
}

/** The verifier's report (`chancery verify --json`), with `verified: true`. */
export interface Report {
  verified: true;
  chain_id: string;
  genesis_hash: string;
  tx_hash: string;
  height: number;
  block_hash: string;
  block_time_ms: number;
  file_matches: boolean;
  record: Record<string, unknown>;
  submitter: Record<string, unknown>;
  attestation: Record<string, unknown>;
  validator_changes: number;
  checkpoint: Record<string, unknown> | null;
  certificate: Record<string, unknown> | null;
  trust_basis: Record<string, unknown>;
}

export interface CommittedBlock {
  height: number;
  block_hash: string;
  time_ms: number;
  tx_hashes: string[];
}

export interface Subscription {
  close(): void;
}

export class Chancery {
  constructor(url: string, options?: { key?: string | Key; timeoutMs?: number });
  request<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  info(): Promise<ChainInfo>;
  anchorFile(file: string | Uint8Array, options?: AnchorOptions): Promise<Anchored>;
  submitBody(body: object | string): Promise<{ txHash: string; tx: string }>;
  status(txHash: string): Promise<TxStatus>;
  waitCommitted(txHash: string, timeoutMs?: number): Promise<TxStatus & { status: 'committed' }>;
  proof(txHashOrDigest: string, options?: { checkpoint?: number }): Promise<ProofBundle>;
  subscribeCommitted(callback: (block: CommittedBlock) => void): Promise<Subscription>;
}

/** Verifies a bundle against the chain's genesis (objects or JSON), and the file if given. */
export function verify(bundle: ProofBundle | string, genesis: object | string, bytes?: Uint8Array): Report;
/** `alg:hex` of bytes (sha256 by default). */
export function digestOf(bytes: Uint8Array, alg?: string): string;
/** The signing bytes of a body by `signer` with `nonce`: compare with `tx_prepare`'s. */
export function signingBytes(chain: ChainRef, body: object | string, signer: string, nonce: number | bigint): string;

export class ChanceryError extends Error {
  /** The failed check or the argument at fault. */
  readonly kind: string;
}
export class VerifyError extends ChanceryError {
  /** The verifier's failed check, e.g. `file_mismatch`, `tx_not_in_block`, `commit`. */
  readonly check: string;
}
export class RpcError extends Error {
  /** The node's error code (docs/RPC.md), e.g. 1003 unknown_signer, 1005 stale_nonce. */
  readonly code: number;
  readonly method: string;
}

/** The WebAssembly core itself (pkg/node). */
export const core: typeof import('./pkg/node/chancery_js');

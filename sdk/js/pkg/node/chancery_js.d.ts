/* tslint:disable */
/* eslint-disable */

/**
 * A signing key, held inside the WebAssembly instance.
 */
export class Key {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The key in a key file's text.
     */
    static fromKeyFile(text: string): Key;
    /**
     * The key of 32 random bytes.
     */
    static fromSeed(seed: Uint8Array): Key;
    /**
     * The key file's text.
     */
    keyFile(): string;
    /**
     * The public key, hex.
     */
    publicKey(): string;
    /**
     * Signs 32 signing bytes (hex) a node prepared: the signature, hex.
     */
    signPrepared(sign_bytes: string): string;
    /**
     * Signs a tx body (JSON) with `nonce` (decimal) on a chain: `{"tx", "tx_hash"}` JSON.
     */
    signTx(chain_id: string, genesis_hash: string, body_json: string, nonce_text: string): string;
}

/**
 * An object's canonical hash from its bytes (hex), for the golden vectors.
 */
export function canonicalHash(kind: string, hex: string, chain_id: string, genesis_hash: string): string;

/**
 * Checks a signature (hex) by `signer` over signing bytes (hex).
 */
export function checkSignature(signer: string, sign_bytes: string, signature: string): void;

/**
 * A document's digest, `alg:hex`.
 */
export function digest(alg: string, bytes: Uint8Array): string;

/**
 * An evidence tx body (JSON) anchoring `digest` as `kind`, linking `refs` (a JSON array of
 * tx hashes).
 */
export function evidenceBody(kind: string, digest: string, refs_json: string): string;

/**
 * A genesis file's hash, hex.
 */
export function genesisHash(genesis_json: string): string;

/**
 * The signing bytes (hex) of a tx body (JSON) by `signer` with `nonce` (decimal).
 */
export function signingBytes(chain_id: string, genesis_hash: string, body_json: string, signer: string, nonce_text: string): string;

/**
 * A tx's hash from its canonical bytes (hex).
 */
export function txHash(tx_hex: string): string;

/**
 * A tx's canonical bytes (hex) as JSON.
 */
export function txJson(tx_hex: string): string;

/**
 * Verifies a bundle (JSON) against a genesis (JSON), and the file when given: the
 * report, JSON.
 */
export function verify(bundle_json: string, genesis_json: string, file?: Uint8Array | null): string;

/**
 * The core's version.
 */
export function version(): string;

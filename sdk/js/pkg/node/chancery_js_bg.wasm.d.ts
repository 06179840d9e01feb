/* tslint:disable */
/* eslint-disable */
export const memory: WebAssembly.Memory;
export const __wbg_key_free: (a: number, b: number) => void;
export const canonicalHash: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number) => void;
export const checkSignature: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => void;
export const digest: (a: number, b: number, c: number, d: number, e: number) => void;
export const evidenceBody: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => void;
export const genesisHash: (a: number, b: number, c: number) => void;
export const key_fromKeyFile: (a: number, b: number, c: number) => void;
export const key_fromSeed: (a: number, b: number, c: number) => void;
export const key_keyFile: (a: number, b: number) => void;
export const key_publicKey: (a: number, b: number) => void;
export const key_signPrepared: (a: number, b: number, c: number, d: number) => void;
export const key_signTx: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number) => void;
export const signingBytes: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number) => void;
export const txHash: (a: number, b: number, c: number) => void;
export const txJson: (a: number, b: number, c: number) => void;
export const verify: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => void;
export const version: (a: number) => void;
export const __wbindgen_add_to_stack_pointer: (a: number) => number;
export const __wbindgen_export: (a: number, b: number) => number;
export const __wbindgen_export2: (a: number, b: number, c: number, d: number) => number;
export const __wbindgen_export3: (a: number, b: number, c: number) => void;

//! The simulated validators' signer: a key with the double-sign guard the product's
//! signer keeps (it refuses a second, different message for a height, round and step it
//! signed, and says how far it signed). Its memory is shared by clones: it survives a
//! crash of its validator, as the product's guard file does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chancery_ledger::Hash;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::context::Sig;
use crate::engine::{SignRequest, Signer, SignerRefused};

#[derive(Default)]
struct Guard {
    signed: HashMap<(u64, u32, u8), Hash>,
    up_to: Option<u64>,
    /// A deliberately broken guard (the simulator's mutation check): signs anything and
    /// says nothing of how far it signed.
    disabled: bool,
}

/// A guarded signer; clones share the guard.
#[derive(Clone)]
pub struct GuardedSigner {
    key: SigningKey,
    guard: Arc<Mutex<Guard>>,
}

impl GuardedSigner {
    /// A signer holding `key` that has signed nothing.
    pub fn new(key: SigningKey) -> Self {
        GuardedSigner { key, guard: Arc::default() }
    }

    /// Breaks the guard (for the mutation check that a restart without it is caught).
    pub fn disable_guard(&self) {
        self.lock().disabled = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guard> {
        self.guard.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Signer for GuardedSigner {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let mut guard = self.lock();
        let slot = (request.height, request.round, request.step as u8);
        if let Some(previous) = guard.signed.get(&slot) {
            if !guard.disabled && *previous != request.message {
                return Err(SignerRefused(format!(
                    "already signed another message at height {}, round {}, {:?}",
                    request.height, request.round, request.step
                )));
            }
        }
        guard.signed.insert(slot, request.message);
        guard.up_to = Some(guard.up_to.map_or(request.height, |h| h.max(request.height)));
        Ok(Sig(self.key.sign(request.message.as_bytes()).to_bytes()))
    }

    fn public_keys(&mut self) -> Vec<chancery_ledger::PublicKey> {
        vec![chancery_ledger::PublicKey(self.key.verifying_key().to_bytes())]
    }

    fn signed_up_to(&self) -> Option<u64> {
        let guard = self.lock();
        if guard.disabled {
            None
        } else {
            guard.up_to
        }
    }
}

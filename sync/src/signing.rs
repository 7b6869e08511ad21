//! Signatures over changes: every change is signed by the device whose key its automerge
//! actor id starts with, so no member can write as another.
//!
//! A signature covers one change's hash; since a change's hash covers its dependencies, and
//! an actor's every earlier change is among them, a signature over an actor's newest change
//! vouches for all of that actor's changes before it. A device therefore keeps only the newest
//! signature of each actor (`quire_store::signatures::SignatureBook`) and signs its own
//! actors' newest changes as it sends them.

use automerge::ChangeHash;
use iroh::{PublicKey, SecretKey, Signature};
use quire_store::DeviceId;

/// What is signed: this context, then the change's hash, so a signature made for anything
/// else can never pass for one over a change.
const CONTEXT: &[u8] = b"quire change signature 1:";

fn message(hash: &ChangeHash) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + 32);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(&hash.0);
    m
}

/// Signs change `hash` with a device's secret key.
pub fn sign_change(secret: &SecretKey, hash: &ChangeHash) -> [u8; 64] {
    secret.sign(&message(hash)).to_bytes()
}

/// Whether `signature` is `device`'s over change `hash`.
pub fn verify_change(device: DeviceId, hash: &ChangeHash, signature: &[u8; 64]) -> bool {
    let Ok(key) = PublicKey::from_bytes(device.as_bytes()) else {
        return false;
    };
    key.verify(&message(hash), &Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_change_only() {
        let secret = SecretKey::from_bytes(&[7; 32]);
        let device = DeviceId::from_bytes(*secret.public().as_bytes());
        let one = ChangeHash([1; 32]);
        let two = ChangeHash([2; 32]);
        let sig = sign_change(&secret, &one);
        assert!(verify_change(device, &one, &sig));
        assert!(
            !verify_change(device, &two, &sig),
            "replayed onto another change"
        );
        let other = DeviceId::from_bytes(*SecretKey::from_bytes(&[8; 32]).public().as_bytes());
        assert!(!verify_change(other, &one, &sig), "another device's key");
        let mut bent = sig;
        bent[5] ^= 1;
        assert!(!verify_change(device, &one, &bent));
    }
}

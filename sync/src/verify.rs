//! A whole history vouched for and verified at once: what an inviter sends with the saved
//! group, and what a new member checks before writing anything of it.

use std::collections::HashMap;

use automerge::{ActorId, Automerge, ChangeHash};
use iroh::SecretKey;
use quire_store::authority::Authority;
use quire_store::signatures::{ChangeSignature, SignatureBook};
use quire_store::{DeviceId, device_of_actor};

use crate::signing::{sign_change, verify_change};

/// Each actor's newest change in `doc`: its number and hash.
fn newest_changes(doc: &Automerge) -> HashMap<ActorId, (u64, ChangeHash)> {
    let mut newest: HashMap<ActorId, (u64, ChangeHash)> = HashMap::new();
    for meta in doc.get_changes_meta(&[]) {
        let entry = newest
            .entry(meta.actor.into_owned())
            .or_insert((0, meta.hash));
        if meta.seq >= entry.0 {
            *entry = (meta.seq, meta.hash);
        }
    }
    newest
}

/// For every actor of `doc`, a signature over its newest change: this device's own made now
/// with `secret`, everyone else's from `book`.
pub fn vouch_all(
    doc: &Automerge,
    book: &SignatureBook,
    secret: &SecretKey,
) -> Vec<(ActorId, ChangeSignature)> {
    let me = DeviceId::from_bytes(*secret.public().as_bytes());
    newest_changes(doc)
        .into_iter()
        .filter_map(|(actor, (seq, hash))| {
            if device_of_actor(&actor) == Some(me) {
                let signature = sign_change(secret, &hash);
                Some((
                    actor,
                    ChangeSignature {
                        hash,
                        seq,
                        signature,
                    },
                ))
            } else {
                book.newest(&actor).cloned().map(|sig| (actor, sig))
            }
        })
        .collect()
}

/// Checks a whole received history: every actor's changes vouched for by its device's
/// signature over its newest change (changes of one actor are numbered 1, 2, 3, … and each
/// depends on the one before, so that signature covers them all), then every change judged
/// by the group's rules at its own past. Returns the signatures that passed.
pub fn verify_history(doc: &Automerge, offered: &SignatureBook) -> Result<SignatureBook, String> {
    let mut verified = SignatureBook::new();
    for (actor, (seq, hash)) in newest_changes(doc) {
        let device = device_of_actor(&actor)
            .ok_or_else(|| format!("actor {actor} does not name a device"))?;
        let sig = offered
            .newest(&actor)
            .filter(|sig| sig.seq == seq && sig.hash == hash)
            .ok_or_else(|| {
                format!(
                    "the changes of device {} up to number {seq} are not signed",
                    device.short()
                )
            })?;
        if !verify_change(device, &hash, &sig.signature) {
            return Err(format!(
                "change {hash} carries a signature that is not its device {}'s",
                device.short()
            ));
        }
        verified.record(actor, *sig);
    }
    let mut authority = Authority::new();
    let judged = authority.judge_history(doc);
    // What it remembered of a large group takes a while to free: not on the joiner's way.
    std::thread::spawn(move || drop(authority));
    judged.map_err(|refusal| refusal.to_string())?;
    Ok(verified)
}

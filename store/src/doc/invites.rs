//! Invites: `invites: { <hash>: { created_by, created_at, expires_at, max_uses, kind,
//! for_member, uses: { DeviceId: at } } }`.
//!
//! Documents made before invites existed may lack the `invites` map: they read as having no
//! invites, and the first invite creates the map (as the first rule change creates
//! `rule_changes`).

use std::collections::BTreeMap;

use automerge::{ObjId, ObjType, ROOT, ScalarValue};
use autosurgeon::{Doc, ReadDoc, reconcile_prop};
use jiff::Timestamp;

use super::records::{self, InviteRecord, millis};
use super::{DocError, key, map_at, tree};
use crate::ids::{DeviceId, InviteHash};
use crate::model::{Invite, SkippedEntry};

/// Reads every invite that can be read; unreadable ones are reported in `skipped`.
pub fn read_invites<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<BTreeMap<InviteHash, Invite>, DocError> {
    let Some(invites) = map_at(doc, &ROOT, key::INVITES) else {
        if ReadDoc::get(doc, &ROOT, key::INVITES)?.is_some() {
            skipped.push(records::skip(key::INVITES.into(), "not a map"));
        }
        return Ok(BTreeMap::new());
    };
    let tree = tree::read_bulk(doc, &invites);
    Ok(records::entries(
        &tree,
        key::INVITES,
        skipped,
        records::invite,
    ))
}

/// Reads one invite; `None` if the group has no such invite.
pub fn read_invite<D: ReadDoc + automerge::ReadDoc>(
    doc: &D,
    hash: InviteHash,
) -> Result<Option<Invite>, DocError> {
    let Some(obj) = invite_obj(doc, hash) else {
        return Ok(None);
    };
    let path = format!("{}/{hash}", key::INVITES);
    records::invite(hash, &tree::read_one(doc, &obj), &path, &mut Vec::new())
        .map(Some)
        .map_err(|e| DocError::NotAGroup(format!("{path}: {e}")))
}

fn invite_obj<D: ReadDoc>(doc: &D, hash: InviteHash) -> Option<ObjId> {
    let invites = map_at(doc, &ROOT, key::INVITES)?;
    map_at(doc, &invites, &hash.to_string())
}

/// Records a new invite, creating the `invites` map in a document that predates it.
pub fn put_invite<D: Doc>(doc: &mut D, invite: &Invite) -> Result<(), DocError> {
    let invites = match map_at(doc, &ROOT, key::INVITES) {
        Some(invites) => invites,
        None => doc.put_object(&ROOT, key::INVITES, ObjType::Map)?,
    };
    reconcile_prop(
        doc,
        &invites,
        invite.hash.to_string().as_str(),
        InviteRecord::from_model(invite),
    )?;
    Ok(())
}

/// Records that `device` redeemed invite `hash` at `at`. Each device is its own key, so
/// devices redeeming the same invite on different peers all stay recorded after a merge.
pub fn put_invite_use<D: Doc>(
    doc: &mut D,
    hash: InviteHash,
    device: DeviceId,
    at: Timestamp,
) -> Result<(), DocError> {
    let obj =
        invite_obj(doc, hash).ok_or_else(|| DocError::NotAGroup(format!("no invite `{hash}`")))?;
    let uses = match map_at(doc, &obj, "uses") {
        Some(uses) => uses,
        None => doc.put_object(&obj, "uses", ObjType::Map)?,
    };
    doc.put(&uses, device.to_string(), ScalarValue::Int(millis(at)))?;
    Ok(())
}

//! The few facts authority needs, as they stood at some point of the group's history.
//!
//! Every fact only ever grows: a member or device once added stays added, a removal or an
//! organizer grant is never taken back, an invite's uses only accumulate. So the facts at a
//! change's dependencies are the union of the facts at each dependency, and two devices that
//! hold the same history agree on them whatever order it arrived in.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{
    Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, ValueRef,
};

use crate::ids::{DeviceId, InviteHash, MemberId};

/// What authority knows of one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFacts {
    /// Granted organizer.
    pub organizer: bool,
    /// Removed by an organizer.
    pub removed: bool,
    /// The member's devices.
    pub devices: BTreeSet<DeviceId>,
}

/// Who an invite lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteFor {
    /// A new member.
    NewMember,
    /// Another device of this member.
    DeviceOf(MemberId),
}

/// What authority knows of one invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteFacts {
    /// The member who made it.
    pub created_by: MemberId,
    /// Who it lets in.
    pub kind: InviteFor,
    /// Redeemable until just before this time (milliseconds since the epoch).
    pub expires_at: i64,
    /// How many devices may redeem it.
    pub max_uses: u64,
    /// The devices that redeemed it.
    pub uses: BTreeSet<DeviceId>,
}

/// The group's members, devices, organizers, removals and invites at one point of its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Members by id.
    pub members: BTreeMap<MemberId, MemberFacts>,
    /// Each device's member.
    pub devices: BTreeMap<DeviceId, MemberId>,
    /// Invites by the hash of their secret.
    pub invites: BTreeMap<InviteHash, InviteFacts>,
}

impl Facts {
    /// The member `device` belongs to.
    pub fn member_of(&self, device: DeviceId) -> Option<MemberId> {
        self.devices.get(&device).copied()
    }

    /// Whether `member` is a member who has not been removed.
    pub fn is_current(&self, member: MemberId) -> bool {
        self.members.get(&member).is_some_and(|m| !m.removed)
    }

    /// Whether `member` is a current organizer.
    pub fn is_organizer(&self, member: MemberId) -> bool {
        self.members
            .get(&member)
            .is_some_and(|m| m.organizer && !m.removed)
    }

    /// Adds `device` to `member` (adding the member if new).
    pub fn add_device(&mut self, member: MemberId, device: DeviceId) {
        self.members
            .entry(member)
            .or_default()
            .devices
            .insert(device);
        self.devices.entry(device).or_insert(member);
    }

    /// Everything in `self` and in `other`.
    pub fn union(&self, other: &Facts) -> Facts {
        let mut out = self.clone();
        for (id, m) in &other.members {
            let mine = out.members.entry(*id).or_default();
            mine.organizer |= m.organizer;
            mine.removed |= m.removed;
            mine.devices.extend(m.devices.iter().copied());
        }
        for (device, member) in &other.devices {
            out.devices.entry(*device).or_insert(*member);
        }
        for (hash, invite) in &other.invites {
            match out.invites.get_mut(hash) {
                Some(mine) => mine.uses.extend(invite.uses.iter().copied()),
                None => {
                    out.invites.insert(*hash, invite.clone());
                }
            }
        }
        out
    }

    /// Reads the facts from `doc`, as it stands or as it stood at `heads`.
    pub fn read(doc: &Automerge, heads: Option<&[ChangeHash]>) -> Facts {
        let r = At { doc, heads };
        let mut facts = Facts::default();
        if let Some(members) = r.map(&ROOT, "members") {
            for (key, obj) in r.maps(&members) {
                let Ok(id) = key.parse::<MemberId>() else {
                    continue;
                };
                let mut m = MemberFacts {
                    organizer: r.scalar(&obj, "organizer") == Some(ScalarValue::Boolean(true)),
                    removed: r
                        .scalar(&obj, "removed_at")
                        .is_some_and(|v| !matches!(v, ScalarValue::Null)),
                    devices: BTreeSet::new(),
                };
                if let Some(devices) = r.map(&obj, "devices") {
                    for device in r.keys(&devices) {
                        if let Ok(device) = device.parse::<DeviceId>() {
                            m.devices.insert(device);
                        }
                    }
                }
                for device in &m.devices {
                    facts.devices.entry(*device).or_insert(id);
                }
                facts.members.insert(id, m);
            }
        }
        if let Some(invites) = r.map(&ROOT, "invites") {
            for (key, obj) in r.maps(&invites) {
                let (Ok(hash), Some(invite)) = (key.parse::<InviteHash>(), read_invite(&r, &obj))
                else {
                    continue;
                };
                facts.invites.insert(hash, invite);
            }
        }
        facts
    }
}

/// Reads an invite's facts from its map; `None` if it lacks any of them.
fn read_invite(r: &At<'_>, obj: &ObjId) -> Option<InviteFacts> {
    let created_by = r.string(obj, "created_by")?.parse().ok()?;
    let kind = match r.string(obj, "kind")?.as_str() {
        "member" => InviteFor::NewMember,
        "device" => InviteFor::DeviceOf(r.string(obj, "for_member")?.parse().ok()?),
        _ => return None,
    };
    let expires_at = as_i64(&r.scalar(obj, "expires_at")?)?;
    let max_uses = u64::try_from(as_i64(&r.scalar(obj, "max_uses")?)?).ok()?;
    let uses = match r.map(obj, "uses") {
        Some(uses) => r
            .keys(&uses)
            .into_iter()
            .filter_map(|d| d.parse().ok())
            .collect(),
        None => BTreeSet::new(),
    };
    Some(InviteFacts {
        created_by,
        kind,
        expires_at,
        max_uses,
        uses,
    })
}

/// A number as an `i64`, whichever integer type it was written as.
pub(crate) fn as_i64(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int(n) => Some(*n),
        ScalarValue::Uint(n) => i64::try_from(*n).ok(),
        ScalarValue::Timestamp(n) => Some(*n),
        _ => None,
    }
}

/// Reads a document as it stands, or as it stood at some heads.
struct At<'a> {
    doc: &'a Automerge,
    heads: Option<&'a [ChangeHash]>,
}

impl At<'_> {
    fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'_>, ObjId)> {
        match self.heads {
            Some(heads) => self.doc.get_at(obj, key, heads),
            None => self.doc.get(obj, key),
        }
        .ok()
        .flatten()
    }

    fn map(&self, obj: &ObjId, key: &str) -> Option<ObjId> {
        match self.get(obj, key)? {
            (Value::Object(ObjType::Map), id) => Some(id),
            _ => None,
        }
    }

    fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.get(obj, key)? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn string(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.scalar(obj, key)? {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    fn keys(&self, obj: &ObjId) -> Vec<String> {
        match self.heads {
            Some(heads) => self.doc.keys_at(obj, heads).collect(),
            None => self.doc.keys(obj).collect(),
        }
    }

    /// The entries of `obj` that are maps, with their ids.
    fn maps(&self, obj: &ObjId) -> Vec<(String, ObjId)> {
        let items: Vec<(String, ObjId, bool)> = match self.heads {
            Some(heads) => self
                .doc
                .map_range_at(obj, .., heads)
                .map(|i| {
                    let is_map = matches!(i.value, ValueRef::Object(ObjType::Map));
                    (i.key.to_string(), i.id(), is_map)
                })
                .collect(),
            None => self
                .doc
                .map_range(obj, ..)
                .map(|i| {
                    let is_map = matches!(i.value, ValueRef::Object(ObjType::Map));
                    (i.key.to_string(), i.id(), is_map)
                })
                .collect(),
        };
        items
            .into_iter()
            .filter(|(_, _, is_map)| *is_map)
            .map(|(k, id, _)| (k, id))
            .collect()
    }
}

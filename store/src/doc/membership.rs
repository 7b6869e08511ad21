//! Who may sync: the devices of current members, read with a few seeks per member and nothing
//! else (no profiles, no submissions), cheap enough for every incoming connection; and the
//! writes that change it.

use std::collections::BTreeMap;

use automerge::{ObjId, ObjType, ROOT, ScalarValue, ValueRef};
use autosurgeon::{Doc, ReadDoc, reconcile_prop};
use jiff::Timestamp;

use super::records::{DeviceRecord, millis};
use super::{DocError, key, map_at, required_map};
use crate::ids::{DeviceId, MemberId};
use crate::model::Device;

/// The members that have not been removed, in id order, with their objects. A member whose
/// `removed_at` is anything but absent or null counts as removed, as the full reader would not
/// read it as a member at all.
fn current_members<D: ReadDoc>(doc: &D) -> Vec<(MemberId, ObjId)> {
    let Some(members) = map_at(doc, &ROOT, key::MEMBERS) else {
        return Vec::new();
    };
    doc.map_range(&members, ..)
        .filter(|item| matches!(item.value, ValueRef::Object(ObjType::Map)))
        .filter_map(|item| Some((item.key.parse::<MemberId>().ok()?, item.id())))
        .filter(|(_, obj)| !is_set(doc, obj, "removed_at"))
        .collect()
}

/// Whether `name` holds anything but null.
fn is_set<D: ReadDoc>(doc: &D, obj: &ObjId, name: &str) -> bool {
    match doc.get(obj, name) {
        Ok(None) => false,
        Ok(Some((automerge::Value::Scalar(s), _))) => !matches!(s.as_ref(), ScalarValue::Null),
        Ok(Some(_)) | Err(_) => true,
    }
}

/// The devices of current (not removed) members, each with its member. A device listed under
/// two current members (two member invites redeemed by one device offline) goes to the
/// smaller member id, as [`crate::model::Group::member_for_device`] does.
pub fn current_devices<D: ReadDoc>(doc: &D) -> BTreeMap<DeviceId, MemberId> {
    let mut out = BTreeMap::new();
    for (member, obj) in current_members(doc) {
        let Some(devices) = map_at(doc, &obj, "devices") else {
            continue;
        };
        for item in doc.map_range(&devices, ..) {
            if let (Ok(device), ValueRef::Object(ObjType::Map)) =
                (item.key.parse::<DeviceId>(), &item.value)
            {
                out.entry(device).or_insert(member);
            }
        }
    }
    out
}

/// Whether `member` is current and lists `device`: a handful of seeks, to check again a member
/// found before instead of searching every member.
pub fn is_current_device_of<D: ReadDoc>(doc: &D, member: MemberId, device: DeviceId) -> bool {
    let Some(members) = map_at(doc, &ROOT, key::MEMBERS) else {
        return false;
    };
    let Some(obj) = map_at(doc, &members, &member.to_string()) else {
        return false;
    };
    !is_set(doc, &obj, "removed_at")
        && map_at(doc, &obj, "devices")
            .and_then(|devices| map_at(doc, &devices, &device.to_string()))
            .is_some()
}

/// The current member `device` belongs to, if any; see [`current_devices`].
pub fn current_member_of_device<D: ReadDoc>(doc: &D, device: DeviceId) -> Option<MemberId> {
    let key = device.to_string();
    current_members(doc).into_iter().find_map(|(member, obj)| {
        let devices = map_at(doc, &obj, "devices")?;
        map_at(doc, &devices, &key).map(|_| member)
    })
}

fn existing_member<D: Doc>(doc: &D, member: MemberId) -> Result<ObjId, DocError> {
    let members = required_map(doc, &ROOT, key::MEMBERS)?;
    map_at(doc, &members, &member.to_string())
        .ok_or_else(|| DocError::NotAGroup(format!("no member `{member}`")))
}

/// Adds `device` to an existing member's devices.
pub fn put_device<D: Doc>(
    doc: &mut D,
    member: MemberId,
    device: DeviceId,
    record: &Device,
) -> Result<(), DocError> {
    let obj = existing_member(doc, member)?;
    let devices = required_map(doc, &obj, "devices")?;
    reconcile_prop(
        doc,
        &devices,
        device.to_string().as_str(),
        DeviceRecord::from_model(record),
    )?;
    Ok(())
}

/// Marks `member` removed at `at`; they keep their history.
pub fn set_removed<D: Doc>(doc: &mut D, member: MemberId, at: Timestamp) -> Result<(), DocError> {
    let obj = existing_member(doc, member)?;
    doc.put(&obj, "removed_at", ScalarValue::Int(millis(at)))?;
    Ok(())
}

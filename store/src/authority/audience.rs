//! The rule of a document beside the group document (see [`crate::documents`]): only its
//! audience's devices write to it.

use std::collections::BTreeMap;

use automerge::{Automerge, Change};

use super::{ChangeJudge, Judge, Refusal};
use crate::documents::DocumentId;
use crate::group::device_of_actor;
use crate::ids::{DeviceId, MemberId};

/// Judges the changes of one document of a group: a change is accepted when the device whose
/// key its actor names is, or was, a device of a member the document admits.
///
/// Devices are read from the group document's facts, which only grow (a device once added
/// stays known, removed or not), so a change made before its device was removed is still
/// accepted when it arrives later, and every device that knows the same group history reaches
/// the same verdict. A device whose group document has not yet learned of a new device of the
/// member refuses that device's changes until it does.
#[derive(Debug, Clone)]
pub struct Audience {
    document: DocumentId,
    devices: BTreeMap<DeviceId, MemberId>,
}

impl Audience {
    /// The judge of `document`, with every device the group has known and its member.
    pub fn new(document: DocumentId, devices: BTreeMap<DeviceId, MemberId>) -> Self {
        Self { document, devices }
    }

    /// The judge of `document`, with the devices of `group` as its facts stand now.
    pub fn of_group(document: DocumentId, group: &Automerge) -> Self {
        Self::new(document, super::Facts::read(group, None).devices)
    }

    /// The document judged.
    pub fn document(&self) -> DocumentId {
        self.document
    }

    /// Whether `device` may write to the document.
    pub fn admits(&self, device: DeviceId) -> bool {
        self.devices
            .get(&device)
            .is_some_and(|m| self.document.admits(*m))
    }

    /// Judges one change.
    pub fn judge(&self, change: &Change) -> Result<(), Refusal> {
        let device = device_of_actor(change.actor_id());
        let member = device.and_then(|d| self.devices.get(&d).copied());
        match device {
            Some(d) if self.admits(d) => Ok(()),
            _ => Err(Refusal {
                change: change.hash(),
                device,
                member,
                reason: format!(
                    "writes to the {} as a device not its member's",
                    self.document
                ),
            }),
        }
    }
}

impl ChangeJudge for Audience {
    fn judge_for(
        &mut self,
        _judge: Judge,
        _doc: &Automerge,
        change: &Change,
    ) -> Result<(), Refusal> {
        self.judge(change)
    }

    fn done(&mut self, _judge: Judge) {}
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;
    use crate::group::session_actor;

    fn change_by(device: DeviceId) -> Change {
        let mut doc = AutoCommit::new().with_actor(session_actor(device));
        doc.put(ROOT, "read/x", 1_i64).unwrap();
        doc.get_last_local_change().unwrap().clone()
    }

    #[test]
    fn only_the_members_devices_write_their_personal_document() {
        let ann = MemberId::random();
        let bea = MemberId::random();
        let (laptop, phone, beas) = (
            DeviceId::from_bytes([1; 32]),
            DeviceId::from_bytes([2; 32]),
            DeviceId::from_bytes([3; 32]),
        );
        let devices = BTreeMap::from([(laptop, ann), (phone, ann), (beas, bea)]);
        let audience = Audience::new(DocumentId::Personal(ann), devices);
        assert!(audience.judge(&change_by(laptop)).is_ok());
        assert!(audience.judge(&change_by(phone)).is_ok());
        let refused = audience.judge(&change_by(beas)).unwrap_err();
        assert_eq!(refused.member, Some(bea));
        assert!(
            refused.to_string().contains("as a device not its member's"),
            "{refused}"
        );
        let stranger = audience
            .judge(&change_by(DeviceId::from_bytes([4; 32])))
            .unwrap_err();
        assert_eq!(stranger.member, None);
    }
}

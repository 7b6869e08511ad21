//! Creating a group and adding members.

use automerge::{ActorId, Automerge};
use jiff::Timestamp;

use super::{short_text, transact};
use crate::doc;
use crate::error::OpError;
use crate::ids::{DeviceId, GroupId, MemberId};
use crate::model::{Device, GroupInfo, Member, Profile, Rules};

/// What it takes to start a group.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// The new group's id.
    pub id: GroupId,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// Its rules.
    pub rules: Rules,
    /// The organizer, its first member.
    pub founder: NewMember,
}

/// A person joining, with the device they join from.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Their new member id.
    pub id: MemberId,
    /// The name the group will know them by.
    pub display_name: String,
    /// The device they use.
    pub device: DeviceId,
    /// A label for that device.
    pub device_label: String,
}

impl NewMember {
    fn into_member(self, now: Timestamp, organizer: bool) -> Result<Member, OpError> {
        let display_name = short_text("name", &self.display_name)?;
        let device = Device {
            label: crate::text::tidy(&self.device_label),
            added_at: now,
        };
        Ok(Member {
            id: self.id,
            profile: Profile {
                display_name,
                ..Profile::default()
            },
            organizer,
            joined_at: now,
            removed_at: None,
            devices: [(self.device, device)].into_iter().collect(),
        })
    }
}

/// A new group document, written by `actor`, with its founder as organizer.
pub fn create_group(new: NewGroup, actor: ActorId, now: Timestamp) -> Result<Automerge, OpError> {
    let name = short_text("group name", &new.name)?;
    super::long_text("description", &new.description)?;
    let founder = new.founder.into_member(now, true)?;
    let info = GroupInfo {
        id: new.id,
        name: name.clone(),
        description: new.description.trim().to_string(),
        created_at: now,
        created_by: founder.id,
        rules: new.rules,
        rule_changes: Vec::new(),
    };
    let mut doc = Automerge::new().with_actor(actor);
    transact(&mut doc, format!("create group '{name}'"), now, |tx| {
        doc::write_new_group(tx, &info, &founder)?;
        Ok(())
    })?;
    Ok(doc)
}

/// Adds a member with one device. The caller has checked they may join (an invite).
pub fn add_member(doc: &mut Automerge, new: NewMember, now: Timestamp) -> Result<Member, OpError> {
    let member = new.into_member(now, false)?;
    let name = member.profile.display_name.clone();
    transact(doc, format!("add member '{name}'"), now, |tx| {
        if doc::read_member(tx, member.id)?.is_some() {
            return Err(OpError::Ambiguous {
                given: member.id.short(),
                what: "members",
                candidates: "an existing member with this id".into(),
            });
        }
        doc::put_member(tx, &member)?;
        Ok(())
    })?;
    Ok(member)
}

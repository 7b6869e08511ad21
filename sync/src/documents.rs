//! The documents a group actor hosts beside its group: for now this device's member's
//! personal document ([`quire_store::personal`]).
//!
//! A hosted document travels on the group's sessions, its frames tagged with its id
//! ([`envelope::encode_for`]), and only with peers in its audience: a personal document only
//! with the member's other devices. Its changes are signed and checked exactly as the group's
//! are ([`PeerSession`]), and judged by its own rule ([`Audience`]): only the audience's
//! devices write to it. A peer that sends a frame of a document it is not in the audience of,
//! or a change the rule refuses, is disconnected like one that breaks the group's rules.

use std::collections::{BTreeMap, HashMap};

use quire_store::authority::Audience;
use quire_store::documents::DocumentId;
use quire_store::personal::PersonalDoc;
use quire_store::{DeviceId, MemberId};

use crate::envelope;
use crate::group_actor::SessionId;
use crate::session::{PeerError, PeerSession, Voucher};
use crate::sync_check::Limits;

/// A document hosted beside the group, with its sessions.
#[derive(Debug)]
pub(crate) struct Hosted {
    doc: PersonalDoc,
    /// This device.
    me: DeviceId,
    audience: Audience,
    sessions: HashMap<SessionId, PeerSession>,
}

impl Hosted {
    /// Hosts `doc` on this device, `me`; its writers are judged against `devices` (every
    /// device the group has known, with its member).
    pub fn new(doc: PersonalDoc, me: DeviceId, devices: BTreeMap<DeviceId, MemberId>) -> Self {
        let audience = Audience::new(doc.id(), devices);
        Self {
            doc,
            me,
            audience,
            sessions: HashMap::new(),
        }
    }

    /// Its id.
    pub fn id(&self) -> DocumentId {
        self.doc.id()
    }

    /// The document.
    pub fn doc(&self) -> &PersonalDoc {
        &self.doc
    }

    /// The document, to edit.
    pub fn doc_mut(&mut self) -> &mut PersonalDoc {
        &mut self.doc
    }

    /// Learns the group's devices anew (the group document moved on).
    pub fn set_devices(&mut self, devices: BTreeMap<DeviceId, MemberId>) {
        self.audience = Audience::new(self.doc.id(), devices);
    }

    /// Starts syncing with `peer` on `session` if the document is shared with it. Returns
    /// whether it is.
    pub fn attach(&mut self, session: SessionId, peer: DeviceId) -> bool {
        if peer == self.me || !self.audience.admits(peer) {
            return false;
        }
        self.sessions.insert(session, PeerSession::new(peer));
        true
    }

    /// Stops syncing on `session`.
    pub fn detach(&mut self, session: SessionId) {
        self.sessions.remove(&session);
    }

    /// Whether `session` syncs this document.
    pub fn has_session(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Checks and applies one frame (the inner frame of a document frame) from `session`.
    /// Returns how many changes it applied.
    pub fn incoming(
        &mut self,
        session: SessionId,
        frame: &[u8],
        limits: &Limits,
    ) -> Result<usize, PeerError> {
        let document = self.id();
        let session = self
            .sessions
            .get_mut(&session)
            .ok_or(PeerError::NotShared { document })?;
        let storage = self.doc.storage_mut();
        let msg = session.receive(storage.doc(), frame, limits)?;
        let known = session.known_signatures(storage.signatures());
        let mut settled = session.settle(storage.doc_mut(), msg, &mut self.audience, &known);
        // The document is small and cheap to judge: what a turn leaves is taken at once.
        let mut applied = 0;
        loop {
            let s = match settled {
                Ok(s) => s,
                Err(e) => {
                    for (actor, sig) in session.take_signatures() {
                        storage.record_signature(actor, sig);
                    }
                    return Err(e);
                }
            };
            applied += s.applied;
            for (actor, sig) in s.signatures {
                storage.record_signature(actor, sig);
            }
            if !s.more {
                return Ok(applied);
            }
            settled = session.resume(storage.doc_mut(), &mut self.audience, &known);
        }
    }

    /// The frames `session` needs now, tagged with the document's id.
    pub fn outgoing(&mut self, session: SessionId, secret: &iroh::SecretKey) -> Vec<Vec<u8>> {
        let document = self.id();
        let Some(peer) = self.sessions.get_mut(&session) else {
            return Vec::new();
        };
        let storage = self.doc.storage();
        let voucher = Voucher {
            secret,
            book: storage.signatures(),
        };
        peer.outgoing(storage.doc(), voucher)
            .iter()
            .map(|frame| envelope::encode_for(document, frame))
            .collect()
    }

    /// The sessions syncing this document.
    pub fn sessions(&self) -> Vec<SessionId> {
        self.sessions.keys().copied().collect()
    }
}

//! Invite tickets: everything a new member or device needs to join a group, as one string.
//!
//! A ticket reads `quire1` followed by lowercase base32 (no padding) of a small binary form:
//!
//! ```text
//! version (1 byte) | body (postcard, by version) | checksum: first 4 bytes of sha256 of all before
//! ```
//!
//! The checksum comes first when reading, in every version, so a mistyped or cut-off ticket reads
//! as damaged rather than as some other ticket. Only the hash of the secret ever goes into the
//! group document; the secret itself travels only inside the ticket.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use iroh::{EndpointAddr, PublicKey, RelayUrl, TransportAddr};
use jiff::Timestamp;
use quire_store::GroupId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What every ticket starts with.
const PREFIX: &str = "quire1";
/// The ticket format this code writes and the newest it reads.
const VERSION: u8 = 1;
/// Bytes of checksum at the end of the binary form.
const CHECKSUM_LEN: usize = 4;
/// The longest input accepted, whitespace included, checked before decoding anything.
pub const MAX_TICKET_LEN: usize = 4096;
/// The most IP addresses a ticket may carry for the inviter.
pub const MAX_IP_ADDRS: usize = 16;
/// The most relay URLs a ticket may carry for the inviter.
pub const MAX_RELAY_URLS: usize = 4;
/// How much of a bad input is quoted back in an error.
const SHOWN_CHARS: usize = 16;

/// What the holder of a ticket joins as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketKind {
    /// A new member of the group, with their first device.
    Member,
    /// Another device of an existing member.
    Device,
}

/// The random secret that proves a joiner was handed the ticket.
///
/// Its `Debug` output never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteSecret([u8; 32]);

impl InviteSecret {
    /// A new secret from the operating system's random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        Self(bytes)
    }

    /// The secret made of these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash that goes into the group document: sha256 of `quire invite v1` and the secret.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"quire invite v1");
        hasher.update(self.0);
        hasher.finalize().into()
    }
}

impl fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteSecret(<redacted>)")
    }
}

/// An invitation to join a group, written as one copy-pasteable string.
///
/// `expires_at` is kept to the whole second. Of the inviter's addresses, the first
/// [`MAX_IP_ADDRS`] IP addresses and [`MAX_RELAY_URLS`] relay URLs are written; custom transport
/// addresses are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The group to join.
    pub group: GroupId,
    /// How to reach the inviting device.
    pub inviter: EndpointAddr,
    /// The secret that proves the joiner holds this ticket.
    pub secret: InviteSecret,
    /// When the invitation stops being honoured.
    pub expires_at: Timestamp,
    /// Whether it admits a new member or another device of a member.
    pub kind: TicketKind,
}

impl Ticket {
    /// Whether the ticket has expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

/// A string that is not a usable invite ticket. Each message quotes the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The input is longer than any ticket.
    #[error("`{input}` is {len} characters long; an invite ticket is at most {max}", max = MAX_TICKET_LEN)]
    TooLong {
        /// The start of the input.
        input: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The input does not start with `quire1`.
    #[error("`{input}` is not a Quire invite ticket (it should start with {prefix})", prefix = PREFIX)]
    NotATicket {
        /// The start of the input.
        input: String,
    },
    /// The input starts like a ticket but does not read as one.
    #[error("the invite ticket `{input}` is damaged: {reason}")]
    Damaged {
        /// The start of the input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ticket was written by a newer Quire.
    #[error(
        "the invite ticket `{input}` is version {version}, newer than this Quire reads ({newest}); update Quire to use it",
        newest = VERSION
    )]
    NewerVersion {
        /// The start of the input.
        input: String,
        /// The ticket's format version.
        version: u8,
    },
}

/// The body of a version 1 ticket.
#[derive(Serialize, Deserialize)]
struct WireV1 {
    group: [u8; 16],
    inviter: [u8; 32],
    ip_addrs: Vec<SocketAddr>,
    relay_urls: Vec<String>,
    secret: [u8; 32],
    expires_at: i64,
    kind: u8,
}

const KIND_MEMBER: u8 = 0;
const KIND_DEVICE: u8 = 1;

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = WireV1 {
            group: *self.group.as_bytes(),
            inviter: *self.inviter.id.as_bytes(),
            ip_addrs: self
                .inviter
                .ip_addrs()
                .take(MAX_IP_ADDRS)
                .copied()
                .collect(),
            relay_urls: self
                .inviter
                .relay_urls()
                .take(MAX_RELAY_URLS)
                .map(|url| url.to_string())
                .collect(),
            secret: self.secret.0,
            expires_at: self.expires_at.as_second(),
            kind: match self.kind {
                TicketKind::Member => KIND_MEMBER,
                TicketKind::Device => KIND_DEVICE,
            },
        };
        let mut bytes = vec![VERSION];
        // Serializing fixed-size fields, vectors and strings into a growable buffer cannot fail.
        bytes.extend(postcard::to_allocvec(&wire).map_err(|_| fmt::Error)?);
        f.write_str(&armor(bytes))
    }
}

/// Appends the checksum and writes the bytes as a ticket string.
fn armor(mut bytes: Vec<u8>) -> String {
    let sum = checksum(&bytes);
    bytes.extend_from_slice(&sum);
    let mut out = String::from(PREFIX);
    out.push_str(&BASE32_NOPAD.encode(&bytes).to_ascii_lowercase());
    out
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(bytes);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The first few characters of `s`, for quoting in an error.
fn shown(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

impl FromStr for Ticket {
    type Err = TicketError;

    /// Reads a ticket, ignoring whitespace anywhere in it (line breaks from copy-paste) and the
    /// case of its letters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_TICKET_LEN {
            return Err(TicketError::TooLong {
                input: shown(s.trim()),
                len: s.len(),
            });
        }
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let Some(encoded) = compact.strip_prefix(PREFIX) else {
            return Err(TicketError::NotATicket {
                input: shown(&compact),
            });
        };
        let damaged = |reason: &str| TicketError::Damaged {
            input: shown(&compact),
            reason: reason.to_owned(),
        };

        let bytes = BASE32_NOPAD
            .decode(encoded.to_ascii_uppercase().as_bytes())
            .map_err(|e| match e.kind {
                data_encoding::DecodeKind::Symbol => {
                    damaged("it contains a character that is not part of a ticket")
                }
                _ => damaged("it is cut short or has extra characters"),
            })?;
        let Some(split) = bytes.len().checked_sub(CHECKSUM_LEN).filter(|n| *n > 0) else {
            return Err(damaged("it is cut short"));
        };
        let (payload, sum) = bytes.split_at(split);
        if checksum(payload) != sum {
            return Err(damaged(
                "its checksum does not match (a character was changed or lost)",
            ));
        }
        let (&version, body) = payload
            .split_first()
            .ok_or_else(|| damaged("it is cut short"))?;
        match version {
            VERSION => {}
            0 => return Err(damaged("it claims format version 0")),
            newer => {
                return Err(TicketError::NewerVersion {
                    input: shown(&compact),
                    version: newer,
                });
            }
        }
        let (wire, rest) = postcard::take_from_bytes::<WireV1>(body)
            .map_err(|_| damaged("its contents do not decode"))?;
        if !rest.is_empty() {
            return Err(damaged("it has bytes after its contents"));
        }
        from_wire(wire).map_err(|reason| TicketError::Damaged {
            input: shown(&compact),
            reason,
        })
    }
}

/// Checks and converts a decoded version 1 body.
fn from_wire(wire: WireV1) -> Result<Ticket, String> {
    if wire.ip_addrs.len() > MAX_IP_ADDRS {
        return Err(format!(
            "it lists {} addresses for the inviter (at most {MAX_IP_ADDRS})",
            wire.ip_addrs.len()
        ));
    }
    if wire.relay_urls.len() > MAX_RELAY_URLS {
        return Err(format!(
            "it lists {} relays for the inviter (at most {MAX_RELAY_URLS})",
            wire.relay_urls.len()
        ));
    }
    let id = PublicKey::from_bytes(&wire.inviter)
        .map_err(|_| "the inviter's key is not a valid ed25519 public key".to_owned())?;
    let mut addrs: Vec<TransportAddr> = wire.ip_addrs.into_iter().map(TransportAddr::Ip).collect();
    for url in &wire.relay_urls {
        let relay = RelayUrl::from_str(url)
            .map_err(|_| format!("the relay `{}` is not a URL", shown(url)))?;
        addrs.push(TransportAddr::Relay(relay));
    }
    let expires_at = Timestamp::from_second(wire.expires_at)
        .map_err(|_| format!("its expiry {} is out of range", wire.expires_at))?;
    let kind = match wire.kind {
        KIND_MEMBER => TicketKind::Member,
        KIND_DEVICE => TicketKind::Device,
        other => return Err(format!("it is of unknown kind {other}")),
    };
    Ok(Ticket {
        group: GroupId::from_bytes(wire.group),
        inviter: EndpointAddr::from_parts(id, addrs),
        secret: InviteSecret(wire.secret),
        expires_at,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use iroh::SecretKey;

    use super::*;

    fn ticket() -> Ticket {
        let id = SecretKey::from_bytes(&[7; 32]).public();
        let inviter = EndpointAddr::new(id)
            .with_ip_addr("192.168.1.20:4433".parse().expect("v4"))
            .with_ip_addr("[fe80::1]:4433".parse().expect("v6"))
            .with_relay_url("https://relay.example.com./".parse().expect("relay"));
        Ticket {
            group: GroupId::from_bytes([3; 16]),
            inviter,
            secret: InviteSecret::from_bytes([9; 32]),
            expires_at: Timestamp::from_second(1_800_000_000).expect("timestamp"),
            kind: TicketKind::Member,
        }
    }

    #[test]
    fn ticket_round_trips_through_its_string() {
        let t = ticket();
        let s = t.to_string();
        assert!(s.starts_with("quire1"), "{s}");
        assert!(
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(s.parse::<Ticket>().expect("parse"), t);

        let mut device = ticket();
        device.kind = TicketKind::Device;
        device.inviter = EndpointAddr::new(device.inviter.id);
        assert_eq!(device.to_string().parse::<Ticket>().expect("parse"), device);
    }

    #[test]
    fn whitespace_line_breaks_and_case_are_tolerated() {
        let s = ticket().to_string();
        let (a, b) = s.split_at(30);
        let pasted = format!("  \n{a}\r\n   {}\t\n", b.to_ascii_uppercase());
        assert_eq!(pasted.parse::<Ticket>().expect("parse"), ticket());
    }

    #[test]
    fn one_changed_character_is_damage_not_a_panic() {
        let s = ticket().to_string();
        for i in PREFIX.len()..s.len() {
            let mut chars: Vec<char> = s.chars().collect();
            chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
            let changed: String = chars.into_iter().collect();
            let err = changed.parse::<Ticket>().expect_err("changed");
            assert!(
                matches!(
                    err,
                    TicketError::Damaged { .. } | TicketError::NewerVersion { .. }
                ),
                "{i}: {err}"
            );
        }
    }

    #[test]
    fn truncated_tickets_are_errors() {
        let s = ticket().to_string();
        for len in 0..s.len() {
            assert!(s[..len].parse::<Ticket>().is_err(), "prefix of {len}");
        }
    }

    #[test]
    fn not_a_ticket_quotes_the_start_of_the_input() {
        let err = "xyzzy-this-is-not-a-ticket-at-all"
            .parse::<Ticket>()
            .expect_err("not a ticket");
        assert_eq!(
            err.to_string(),
            "`xyzzy-this-is-no…` is not a Quire invite ticket (it should start with quire1)"
        );
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let huge = format!("quire1{}", "a".repeat(MAX_TICKET_LEN));
        assert!(matches!(
            huge.parse::<Ticket>(),
            Err(TicketError::TooLong { len, .. }) if len == MAX_TICKET_LEN + 6
        ));
    }

    #[test]
    fn newer_version_is_named() {
        let s = armor(vec![2, 1, 2, 3]);
        assert!(matches!(
            s.parse::<Ticket>(),
            Err(TicketError::NewerVersion { version: 2, .. })
        ));
    }

    fn many_addrs(n: u16) -> Vec<SocketAddr> {
        (0..n)
            .map(|port| SocketAddr::from(([10, 0, 0, 1], port)))
            .collect()
    }

    fn wire(ip_addrs: Vec<SocketAddr>, relay_urls: Vec<String>, kind: u8) -> String {
        let wire = WireV1 {
            group: [0; 16],
            inviter: *SecretKey::from_bytes(&[1; 32]).public().as_bytes(),
            ip_addrs,
            relay_urls,
            secret: [0; 32],
            expires_at: 0,
            kind,
        };
        let mut bytes = vec![VERSION];
        bytes.extend(postcard::to_allocvec(&wire).expect("encode"));
        armor(bytes)
    }

    #[test]
    fn written_tickets_keep_within_the_address_limits() {
        let mut t = ticket();
        t.inviter = t.inviter.with_addrs(
            many_addrs(MAX_IP_ADDRS as u16 + 4)
                .into_iter()
                .map(TransportAddr::Ip),
        );
        let read = t.to_string().parse::<Ticket>().expect("parse");
        assert_eq!(read.inviter.ip_addrs().count(), MAX_IP_ADDRS);
        assert_eq!(read.inviter.relay_urls().count(), 1);
    }

    #[test]
    fn bad_inner_values_are_damage() {
        wire(Vec::new(), Vec::new(), 0)
            .parse::<Ticket>()
            .expect("valid");
        let cases = [
            wire(many_addrs(MAX_IP_ADDRS as u16 + 1), Vec::new(), 0),
            wire(Vec::new(), vec!["x".to_owned(); MAX_RELAY_URLS + 1], 0),
            wire(Vec::new(), vec!["not a url".to_owned()], 0),
            wire(Vec::new(), Vec::new(), 7),
        ];
        for case in cases {
            let err = case.parse::<Ticket>().expect_err("bad value");
            assert!(matches!(err, TicketError::Damaged { .. }), "{err}");
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let t = ticket();
        let debug = format!("{t:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains("9, 9"), "{debug}");
        assert_ne!(InviteSecret::random(), InviteSecret::random());
        assert_ne!(t.secret.hash(), *t.secret.as_bytes());
    }
}

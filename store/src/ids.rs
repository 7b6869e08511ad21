//! Identifiers of the things in a group.
//!
//! Groups, members, submissions and critiques are named by random 128-bit ids, written as 32
//! lowercase hex digits (the map keys in the document). Devices are named by their 32-byte
//! ed25519 public key, the same bytes iroh uses as an `EndpointId`, written as 64 hex digits.
//! Users may type any unique prefix of an id, like a git hash.

use std::fmt;
use std::str::FromStr;

/// An id string that is not the hex an id must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not {} {what} id (expected {digits} hex digits)",
    article(what)
)]
pub struct IdParseError {
    what: &'static str,
    digits: usize,
    value: String,
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn parse_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], IdParseError> {
    let err = || IdParseError {
        what,
        digits: N * 2,
        value: s.chars().take(80).collect(),
    };
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return Err(err());
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0]).ok_or_else(err)?;
        let lo = hex_digit(pair[1]).ok_or_else(err)?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn write_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// An id as serde writes it: its hex text in formats people read (JSON), its bytes in binary
/// ones.
fn serialize_id<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    text: &impl fmt::Display,
    s: S,
) -> Result<S::Ok, S::Error>
where
    [u8; N]: serde::Serialize,
{
    if s.is_human_readable() {
        s.collect_str(text)
    } else {
        serde::Serialize::serialize(bytes, s)
    }
}

/// An id as [`serialize_id`] wrote it; `what` names the kind of id in errors.
fn deserialize_id<'de, D, const N: usize>(d: D, what: &'static str) -> Result<[u8; N], D::Error>
where
    D: serde::Deserializer<'de>,
    [u8; N]: serde::Deserialize<'de>,
{
    if d.is_human_readable() {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        parse_hex::<N>(&text, what).map_err(serde::de::Error::custom)
    } else {
        <[u8; N] as serde::Deserialize>::deserialize(d)
    }
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 16]);

        impl $name {
            /// What this id names, for messages.
            pub const WHAT: &'static str = $what;

            /// The id made of these bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// A new random id.
            pub fn random() -> Self {
                Self(*uuid::Uuid::new_v4().as_bytes())
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// The first eight hex digits, enough to tell ids apart in a listing.
            pub fn short(&self) -> String {
                let mut s = self.to_string();
                s.truncate(8);
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<16>(s, $what).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize_id(&self.0, self, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_id(d, $what).map(Self)
            }
        }
    };
}

random_id!(
    /// A critique group: one automerge document.
    GroupId,
    "group"
);
random_id!(
    /// A member of a group (a person, who may use several devices).
    MemberId,
    "member"
);
random_id!(
    /// A piece submitted for critique.
    SubmissionId,
    "submission"
);
random_id!(
    /// A critique delivered on a submission.
    CritiqueId,
    "critique"
);
random_id!(
    /// One change of the group's rules by an organizer.
    RuleChangeId,
    "rule change"
);

macro_rules! key_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $short:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// What this id names, for messages.
            pub const WHAT: &'static str = $what;

            /// The id made of these bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            #[doc = concat!("The first ", stringify!($short), " hex digits, enough to tell them apart for people.")]
            pub fn short(&self) -> String {
                let mut s = self.to_string();
                s.truncate($short);
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<32>(s, $what).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize_id(&self.0, self, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_id(d, $what).map(Self)
            }
        }
    };
}

key_id!(
    /// A device: the ed25519 public key that is also its iroh `EndpointId` (short form: the
    /// first ten hex digits, as iroh prints endpoint ids for people).
    DeviceId,
    "device",
    10
);
key_id!(
    /// An invite, named by the 32-byte hash of its secret: the document holds only the hash,
    /// so reading the document does not let anyone redeem the invite.
    InviteHash,
    "invite",
    10
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = SubmissionId::random();
        assert_eq!(id.to_string().parse::<SubmissionId>(), Ok(id));
        assert_eq!(id.short().len(), 8);
        let dev = DeviceId::from_bytes([7; 32]);
        assert_eq!(dev.to_string().parse::<DeviceId>(), Ok(dev));
        assert_eq!(dev.short(), "0707070707");
        let invite = InviteHash::from_bytes([0xab; 32]);
        assert_eq!(invite.to_string().parse::<InviteHash>(), Ok(invite));
        assert_eq!(format!("{invite:?}"), "InviteHash(ababababab)");
    }

    #[test]
    fn malformed_ids_are_refused_with_the_value() {
        let err = "7f3a".parse::<MemberId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`7f3a` is not a member id (expected 32 hex digits)"
        );
        assert!("Z".repeat(32).parse::<GroupId>().is_err());
        let err = "ab".parse::<InviteHash>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`ab` is not an invite id (expected 64 hex digits)"
        );
        assert!(
            "AB".repeat(16).parse::<GroupId>().is_err(),
            "uppercase is not canonical"
        );
    }
}

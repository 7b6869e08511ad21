//! How the model's times serialize: as jiff writes them (RFC 3339 text) in formats people
//! read, such as the JSON export, and as nanoseconds from the Unix epoch in binary formats,
//! such as the view cache, which holds hundreds of thousands of them: exact, and read back
//! without parsing text.
//!
//! Used as `#[serde(with = "crate::serde_time")]` on a [`Timestamp`], and
//! `#[serde(with = "crate::serde_time::option")]` on an `Option<Timestamp>`.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `t`.
pub(crate) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        t.serialize(s)
    } else {
        s.serialize_i128(t.as_nanosecond())
    }
}

/// Reads what [`serialize`] wrote.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    if d.is_human_readable() {
        Timestamp::deserialize(d)
    } else {
        let nanos = i128::deserialize(d)?;
        Timestamp::from_nanosecond(nanos).map_err(serde::de::Error::custom)
    }
}

/// The same for an `Option<Timestamp>`.
pub(crate) mod option {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// A timestamp that serializes as [`super::serialize`] says.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Exact(#[serde(with = "super")] Timestamp);

    /// Writes `t`.
    pub(crate) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        t.map(Exact).serialize(s)
    }

    /// Reads what [`serialize`] wrote.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<Exact>::deserialize(d)?.map(|Exact(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Times {
        #[serde(with = "crate::serde_time")]
        at: Timestamp,
        #[serde(with = "crate::serde_time::option")]
        until: Option<Timestamp>,
        #[serde(with = "crate::serde_time::option")]
        never: Option<Timestamp>,
    }

    #[test]
    fn text_for_people_and_nanoseconds_in_binary_both_exact() {
        let times = Times {
            at: Timestamp::from_nanosecond(1_800_000_000_123_456_789).unwrap(),
            until: Some(Timestamp::from_second(-86_400).unwrap()),
            never: None,
        };
        let json = serde_json::to_string(&times).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2027-01-15T08:00:00.123456789Z","until":"1969-12-31T00:00:00Z","never":null}"#
        );
        assert_eq!(serde_json::from_str::<Times>(&json).unwrap(), times);
        let binary = postcard::to_stdvec(&times).unwrap();
        assert!(binary.len() < 24, "{} bytes", binary.len());
        assert_eq!(postcard::from_bytes::<Times>(&binary).unwrap(), times);
    }
}

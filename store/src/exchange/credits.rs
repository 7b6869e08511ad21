//! Credits: counted in whole half-credits, never in floating point, so every peer adds up the
//! same balance to the last half.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An amount of credits, held as a number of half-credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(i64);

impl Credits {
    /// No credits.
    pub const ZERO: Credits = Credits(0);

    /// `n` whole credits.
    pub const fn whole(n: i64) -> Credits {
        Credits(n.saturating_mul(2))
    }

    /// `n` half-credits.
    pub const fn halves(n: i64) -> Credits {
        Credits(n)
    }

    /// The amount in half-credits.
    pub const fn as_halves(self) -> i64 {
        self.0
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The amount with its sign always shown, as in a ledger: `+1`, `−3`, `+0.5`, `0`.
    pub fn signed(self) -> String {
        match self.0 {
            0 => "0".to_string(),
            n if n > 0 => format!("+{self}"),
            _ => format!("\u{2212}{}", -self),
        }
    }
}

impl fmt::Display for Credits {
    /// `3`, `1.5`, `-0.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        if abs.is_multiple_of(2) {
            write!(f, "{sign}{}", abs / 2)
        } else {
            write!(f, "{sign}{}.5", abs / 2)
        }
    }
}

/// Text that is not an amount of credits in half steps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an amount of credits in half steps, like 3 or 1.5")]
pub struct CreditsParseError(pub String);

impl FromStr for Credits {
    type Err = CreditsParseError;
    /// `3`, `1.5`, `0.5`, `-2`; nothing finer than a half.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CreditsParseError(s.to_string());
        let t = s.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 12 {
            return Err(err());
        }
        let whole: i64 = whole.parse().map_err(|_| err())?;
        let half = match frac.trim_end_matches('0') {
            "" => 0,
            "5" => 1,
            _ => return Err(err()),
        };
        let halves = whole * 2 + half;
        Ok(Credits(if negative { -halves } else { halves }))
    }
}

impl Serialize for Credits {
    /// As a number of credits (`1.5`) in formats people read, exact since halves are exact in
    /// binary floating point; as the number of half-credits in binary formats.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            s.serialize_i64(self.0)
        } else if self.0 % 2 == 0 {
            s.serialize_i64(self.0 / 2)
        } else {
            s.serialize_f64(self.0 as f64 / 2.0)
        }
    }
}

impl<'de> Deserialize<'de> for Credits {
    /// As [`Credits`] serialize; a number of credits that is not a whole number of halves is
    /// refused.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return i64::deserialize(d).map(Credits);
        }
        let credits = f64::deserialize(d)?;
        let halves = credits * 2.0;
        if halves.fract() != 0.0 || halves.abs() > 2f64.powi(53) {
            return Err(serde::de::Error::custom(format_args!(
                "`{credits}` is not an amount of credits in half steps, like 3 or 1.5"
            )));
        }
        Ok(Credits(halves as i64))
    }
}

impl Add for Credits {
    type Output = Credits;
    fn add(self, rhs: Credits) -> Credits {
        Credits(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Credits {
    fn add_assign(&mut self, rhs: Credits) {
        *self = *self + rhs;
    }
}

impl Sub for Credits {
    type Output = Credits;
    fn sub(self, rhs: Credits) -> Credits {
        Credits(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        Credits(self.0.saturating_neg())
    }
}

impl Mul<i64> for Credits {
    type Output = Credits;
    fn mul(self, n: i64) -> Credits {
        Credits(self.0.saturating_mul(n))
    }
}

impl std::iter::Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        iter.fold(Credits::ZERO, Add::add)
    }
}

/// What a delivered critique of `words` words earns: under 150 nothing, 150–299 half a credit,
/// 300–599 one, then half a credit more for each further 300 words, up to two at 900 and over.
/// Longer critiques do not earn more, so padding does not pay.
pub fn critique_earning(words: u32) -> Credits {
    match words {
        0..150 => Credits::ZERO,
        150..300 => Credits::halves(1),
        _ => Credits::halves((2 + i64::from((words - 300) / 300)).min(4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_print_and_parse_in_halves() {
        assert_eq!(Credits::halves(3).to_string(), "1.5");
        assert_eq!(Credits::whole(3).to_string(), "3");
        assert_eq!(Credits::halves(-1).to_string(), "-0.5");
        assert_eq!(Credits::halves(-6).signed(), "\u{2212}3");
        assert_eq!(Credits::halves(1).signed(), "+0.5");
        assert_eq!(Credits::ZERO.signed(), "0");
        assert_eq!("1.5".parse(), Ok(Credits::halves(3)));
        assert_eq!("2.50".parse(), Ok(Credits::halves(5)));
        assert_eq!("-2".parse(), Ok(Credits::whole(-2)));
        assert_eq!("4".parse(), Ok(Credits::whole(4)));
        for bad in ["", "1.25", "x", ".5", "1e3", "NaN", "1.5.5"] {
            assert!(bad.parse::<Credits>().is_err(), "{bad}");
        }
    }

    #[test]
    fn critiques_earn_by_length_up_to_two() {
        let earned = |w| critique_earning(w).to_string();
        assert_eq!(earned(0), "0");
        assert_eq!(earned(149), "0");
        assert_eq!(earned(150), "0.5");
        assert_eq!(earned(299), "0.5");
        assert_eq!(earned(300), "1");
        assert_eq!(earned(599), "1");
        assert_eq!(earned(600), "1.5");
        assert_eq!(earned(899), "1.5");
        assert_eq!(earned(900), "2");
        assert_eq!(earned(50_000), "2");
    }
}

//! The group's rules as keys and values: what `quire rules --set key=value` takes, what a rule
//! change stores, and how changes fold into the rules in force at a time.

use jiff::Timestamp;

use super::Credits;
use crate::model::{RuleChange, Rules};

/// Every rule, in the order they are listed, with what a value must look like.
pub const KEYS: [(&str, &str); 8] = [
    ("critiques_wanted", "a whole number from 1 to 20"),
    ("claim_period_days", "a whole number of days from 1 to 365"),
    ("max_words", "a whole number of words, or none"),
    ("credits", "on or off"),
    ("starting_credits", "credits from 0 to 100 in half steps"),
    ("submission_cost", "credits from 0 to 100 in half steps"),
    ("extra_open_cost", "credits from 0 to 100 in half steps"),
    ("tip", "credits from 0 to 10 in half steps"),
];

/// A key or value `quire rules --set` cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// No rule by this name.
    #[error("unknown rule `{0}`; rules are {keys}", keys = key_names())]
    UnknownKey(String),
    /// A value the rule cannot hold.
    #[error("rule {key} cannot be `{value}`; it takes {wanted}")]
    BadValue {
        /// The rule.
        key: String,
        /// What was given.
        value: String,
        /// What it takes.
        wanted: &'static str,
    },
}

fn key_names() -> String {
    KEYS.map(|(k, _)| k).join(", ")
}

impl Rules {
    /// Sets rule `key` from its text form, or says which part is wrong.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), RuleError> {
        let key = key.trim();
        let Some((_, wanted)) = KEYS.iter().find(|(k, _)| *k == key) else {
            return Err(RuleError::UnknownKey(key.to_string()));
        };
        let bad = || RuleError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            wanted,
        };
        let v = value.trim().to_lowercase();
        let number = |min: u32, max: u32| {
            v.parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(bad)
        };
        let credits = |max: i64| {
            v.parse::<Credits>()
                .ok()
                .filter(|c| *c >= Credits::ZERO && *c <= Credits::whole(max))
                .ok_or_else(bad)
        };
        match key {
            "critiques_wanted" => self.critiques_wanted = number(1, 20)?,
            "claim_period_days" => self.claim_period_days = number(1, 365)?,
            "max_words" => {
                self.max_words = match v.as_str() {
                    "none" | "off" | "" => None,
                    _ => Some(number(1, 10_000_000)?),
                }
            }
            "credits" => {
                self.credits = match v.as_str() {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    _ => return Err(bad()),
                }
            }
            "starting_credits" => self.starting_credits = credits(100)?,
            "submission_cost" => self.submission_cost = credits(100)?,
            "extra_open_cost" => self.extra_open_cost = credits(100)?,
            "tip" => self.tip = credits(10)?,
            _ => return Err(RuleError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    /// Every rule as `(key, value)` in the text form [`Rules::set`] takes.
    pub fn values(&self) -> Vec<(&'static str, String)> {
        KEYS.iter()
            .map(|(key, _)| {
                let value = match *key {
                    "critiques_wanted" => self.critiques_wanted.to_string(),
                    "claim_period_days" => self.claim_period_days.to_string(),
                    "max_words" => self
                        .max_words
                        .map_or_else(|| "none".to_string(), |n| n.to_string()),
                    "credits" => if self.credits { "on" } else { "off" }.to_string(),
                    "starting_credits" => self.starting_credits.to_string(),
                    "submission_cost" => self.submission_cost.to_string(),
                    "extra_open_cost" => self.extra_open_cost.to_string(),
                    _ => self.tip.to_string(),
                };
                (*key, value)
            })
            .collect()
    }

    /// The value of rule `key` in text form, if there is such a rule.
    pub fn value(&self, key: &str) -> Option<String> {
        self.values()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// The rules in force at `t`: `founding` with each change made at or before `t` applied, in
/// `(at, id)` order. A value this build cannot read (from a newer Quire) is passed over.
pub fn fold(founding: Rules, changes: &[RuleChange], t: Timestamp) -> Rules {
    let mut rules = founding;
    for change in in_order(changes) {
        if change.at > t {
            break;
        }
        apply(&mut rules, change);
    }
    rules
}

/// Applies one change's values, ignoring any it cannot read.
pub fn apply(rules: &mut Rules, change: &RuleChange) {
    for (key, value) in &change.values {
        // A key or value from a newer Quire: leave the rule as it was.
        let _ = rules.set(key, value);
    }
}

/// `changes` in the order they apply, whether or not they were sorted.
fn in_order(changes: &[RuleChange]) -> Vec<&RuleChange> {
    let mut sorted: Vec<&RuleChange> = changes.iter().collect();
    sorted.sort_by_key(|c| (c.at, c.id));
    sorted
}

/// Walks time forward through the rule changes: `at(t)` returns the rules in force at `t` for
/// any non-decreasing sequence of times, in amortised constant time. For deriving many entries
/// in time order without folding from the start each time.
#[derive(Debug)]
pub struct RulesTimeline<'a> {
    rules: Rules,
    pending: std::iter::Peekable<std::vec::IntoIter<&'a RuleChange>>,
    last: Option<Timestamp>,
    founding: Rules,
    changes: &'a [RuleChange],
}

impl<'a> RulesTimeline<'a> {
    /// A timeline starting from `founding`.
    pub fn new(founding: Rules, changes: &'a [RuleChange]) -> Self {
        Self {
            rules: founding,
            pending: in_order(changes).into_iter().peekable(),
            last: None,
            founding,
            changes,
        }
    }

    /// The rules in force at `t`. Going back in time starts over from the founding rules.
    pub fn at(&mut self, t: Timestamp) -> Rules {
        if self.last.is_some_and(|last| t < last) {
            *self = Self::new(self.founding, self.changes);
        }
        self.last = Some(t);
        while let Some(change) = self.pending.next_if(|c| c.at <= t) {
            apply(&mut self.rules, change);
        }
        self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MemberId, RuleChangeId};
    use jiff::SignedDuration;

    fn t(h: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_hours(h)
    }

    fn change(id: u8, hour: i64, kv: &[(&str, &str)]) -> RuleChange {
        RuleChange {
            id: RuleChangeId::from_bytes([id; 16]),
            at: t(hour),
            by: MemberId::from_bytes([1; 16]),
            values: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn set_takes_every_key_and_names_a_bad_one() {
        let mut r = Rules::default();
        r.set("claim_period_days", "5").unwrap();
        r.set("credits", "off").unwrap();
        r.set("max_words", "4000").unwrap();
        r.set("tip", "0.5").unwrap();
        assert_eq!(r.claim_period_days, 5);
        assert!(!r.credits);
        assert_eq!(r.max_words, Some(4000));
        assert_eq!(r.tip, Credits::halves(1));
        assert_eq!(
            r.set("claim_days", "5").unwrap_err().to_string(),
            format!("unknown rule `claim_days`; rules are {}", key_names())
        );
        assert_eq!(
            r.set("critiques_wanted", "0").unwrap_err().to_string(),
            "rule critiques_wanted cannot be `0`; it takes a whole number from 1 to 20"
        );
        assert!(r.set("tip", "0.25").is_err());
        assert!(r.set("starting_credits", "-1").is_err());
    }

    #[test]
    fn values_round_trip_through_set() {
        let mut r = Rules::default();
        r.set("max_words", "900").unwrap();
        r.set("starting_credits", "2.5").unwrap();
        let mut again = Rules::default();
        for (k, v) in r.values() {
            again.set(k, &v).unwrap();
        }
        assert_eq!(again, r);
    }

    #[test]
    fn changes_apply_from_their_time_in_time_then_id_order() {
        let changes = vec![
            change(2, 10, &[("claim_period_days", "3")]),
            change(1, 10, &[("claim_period_days", "9")]),
            change(3, 5, &[("critiques_wanted", "2"), ("future_rule", "x")]),
        ];
        let founding = Rules::default();
        assert_eq!(fold(founding, &changes, t(4)), founding);
        assert_eq!(fold(founding, &changes, t(5)).critiques_wanted, 2);
        // Same time: id 1 then id 2, so 3 wins.
        assert_eq!(fold(founding, &changes, t(10)).claim_period_days, 3);
        let mut timeline = RulesTimeline::new(founding, &changes);
        for h in [0, 5, 7, 10, 11, 2, 12] {
            assert_eq!(
                timeline.at(t(h)),
                fold(founding, &changes, t(h)),
                "hour {h}"
            );
        }
    }
}

//! Where in the group document an object sits, named by the schema: the path from the root
//! read as the kind of entry it is.

use std::fmt;

/// The kind of object an op writes into, by its path from the document root.
///
/// Ids are kept as the strings the document uses for keys; the rules parse them where an id
/// is needed, so a key that is not an id of the right kind is refused there, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The document root.
    Root,
    /// `group`.
    Group,
    /// `group/rules`: the founding rules.
    Rules,
    /// `group/rule_changes`.
    RuleChanges,
    /// `group/rule_changes/<id>`.
    RuleChange(String),
    /// `group/rule_changes/<id>/values`.
    RuleChangeValues(String),
    /// `members`.
    Members,
    /// `members/<member>`.
    Member(String),
    /// `members/<member>/genres|roles|links`.
    MemberSet(String),
    /// `members/<member>/devices`.
    Devices(String),
    /// `members/<member>/devices/<device>`.
    Device(String, String),
    /// `invites`.
    Invites,
    /// `invites/<hash>`.
    Invite(String),
    /// `invites/<hash>/uses`.
    InviteUses(String),
    /// `submissions`.
    Submissions,
    /// `submissions/<submission>`.
    Submission(String),
    /// `submissions/<submission>/claims`.
    Claims(String),
    /// `submissions/<submission>/claims/<member>`.
    Claim(String, String),
    /// `submissions/<submission>/critiques`.
    Critiques(String),
    /// `submissions/<submission>/critiques/<critique>`.
    Critique(String, String),
    /// Anywhere else: not part of the schema, so nobody writes there.
    Outside(String),
}

impl Place {
    /// The place of the object reached by `keys` from the root.
    pub fn of(keys: &[String]) -> Place {
        let k: Vec<&str> = keys.iter().map(String::as_str).collect();
        let s = |x: &str| x.to_string();
        match k.as_slice() {
            [] => Place::Root,
            ["group"] => Place::Group,
            ["group", "rules"] => Place::Rules,
            ["group", "rule_changes"] => Place::RuleChanges,
            ["group", "rule_changes", r] => Place::RuleChange(s(r)),
            ["group", "rule_changes", r, "values"] => Place::RuleChangeValues(s(r)),
            ["members"] => Place::Members,
            ["members", m] => Place::Member(s(m)),
            ["members", m, "genres" | "roles" | "links"] => Place::MemberSet(s(m)),
            ["members", m, "devices"] => Place::Devices(s(m)),
            ["members", m, "devices", d] => Place::Device(s(m), s(d)),
            ["invites"] => Place::Invites,
            ["invites", h] => Place::Invite(s(h)),
            ["invites", h, "uses"] => Place::InviteUses(s(h)),
            ["submissions"] => Place::Submissions,
            ["submissions", id] => Place::Submission(s(id)),
            ["submissions", id, "claims"] => Place::Claims(s(id)),
            ["submissions", id, "claims", m] => Place::Claim(s(id), s(m)),
            ["submissions", id, "critiques"] => Place::Critiques(s(id)),
            ["submissions", id, "critiques", c] => Place::Critique(s(id), s(c)),
            _ => Place::Outside(keys.join("/")),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Root => f.write_str("the document root"),
            Place::Group => f.write_str("group"),
            Place::Rules => f.write_str("group/rules"),
            Place::RuleChanges => f.write_str("group/rule_changes"),
            Place::RuleChange(r) => write!(f, "group/rule_changes/{r}"),
            Place::RuleChangeValues(r) => write!(f, "group/rule_changes/{r}/values"),
            Place::Members => f.write_str("members"),
            Place::Member(m) => write!(f, "members/{m}"),
            Place::MemberSet(m) => write!(f, "a set of members/{m}"),
            Place::Devices(m) => write!(f, "members/{m}/devices"),
            Place::Device(m, d) => write!(f, "members/{m}/devices/{d}"),
            Place::Invites => f.write_str("invites"),
            Place::Invite(h) => write!(f, "invites/{h}"),
            Place::InviteUses(h) => write!(f, "invites/{h}/uses"),
            Place::Submissions => f.write_str("submissions"),
            Place::Submission(s) => write!(f, "submissions/{s}"),
            Place::Claims(s) => write!(f, "submissions/{s}/claims"),
            Place::Claim(s, m) => write!(f, "submissions/{s}/claims/{m}"),
            Place::Critiques(s) => write!(f, "submissions/{s}/critiques"),
            Place::Critique(s, c) => write!(f, "submissions/{s}/critiques/{c}"),
            Place::Outside(p) => write!(f, "`{p}` (not in the schema)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<String> {
        path.split('/')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn paths_name_their_entries() {
        assert_eq!(Place::of(&keys("")), Place::Root);
        assert_eq!(
            Place::of(&keys("members/m1/genres")),
            Place::MemberSet("m1".into())
        );
        assert_eq!(
            Place::of(&keys("submissions/s/critiques/c")),
            Place::Critique("s".into(), "c".into())
        );
        assert!(matches!(
            Place::of(&keys("submissions/s/text/x")),
            Place::Outside(_)
        ));
    }
}

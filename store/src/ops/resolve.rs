//! Turning what a user typed (an id prefix, a name) into the one thing it means.

use autosurgeon::ReadDoc;

use crate::doc;
use crate::error::OpError;
use crate::ids::{CritiqueId, MemberId, SubmissionId};
use crate::model::Group;
use crate::text;

/// The submission whose id starts with `given`.
pub fn resolve_submission<D: ReadDoc>(doc: &D, given: &str) -> Result<SubmissionId, OpError> {
    let ids = doc::submission_ids(doc)?;
    unique_prefix(
        given,
        "submission",
        ids.into_iter().map(|id| (id.to_string(), id)),
    )
}

/// The critique whose id starts with `given`, with its submission.
pub fn resolve_critique<D: ReadDoc>(
    doc: &D,
    given: &str,
) -> Result<(CritiqueId, SubmissionId), OpError> {
    let ids = doc::critique_ids(doc)?;
    unique_prefix(
        given,
        "critique",
        ids.into_iter().map(|pair| (pair.0.to_string(), pair)),
    )
}

/// The member named `given`: an id prefix, or a display or pen name (any case, accents
/// aside: "tomas herrera" is Tomás Herrera).
pub fn resolve_member(group: &Group, given: &str) -> Result<MemberId, OpError> {
    let name = |s: &str| text::fold(&text::tidy(s));
    let wanted = name(given);
    let by_name: Vec<MemberId> = group
        .members
        .values()
        .filter(|m| {
            name(&m.profile.display_name) == wanted
                || m.profile
                    .pen_name
                    .as_ref()
                    .is_some_and(|p| name(p) == wanted)
        })
        .map(|m| m.id)
        .collect();
    match by_name.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        many => {
            return Err(OpError::Ambiguous {
                given: given.to_string(),
                what: "members",
                candidates: many
                    .iter()
                    .map(|id| format!("{} ({})", group.name_of(*id), id.short()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    unique_prefix(
        given,
        "member",
        group.members.keys().map(|id| (id.to_string(), *id)),
    )
}

fn unique_prefix<T: Copy>(
    given: &str,
    what: &'static str,
    candidates: impl Iterator<Item = (String, T)>,
) -> Result<T, OpError> {
    let prefix = given.trim().to_lowercase();
    let not_found = || OpError::NotFound {
        given: given.to_string(),
        what,
    };
    if prefix.is_empty() {
        return Err(not_found());
    }
    let matches: Vec<(String, T)> = candidates.filter(|(s, _)| s.starts_with(&prefix)).collect();
    match matches.as_slice() {
        [] => Err(not_found()),
        [(_, one)] => Ok(*one),
        many => Err(OpError::Ambiguous {
            given: given.to_string(),
            what: match what {
                "member" => "members",
                "critique" => "critiques",
                _ => "submissions",
            },
            candidates: many
                .iter()
                .take(5)
                .map(|(s, _)| s[..prefix.len().max(8).min(s.len())].to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

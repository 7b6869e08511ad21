//! What the app remembers between runs: the open view, the group, the filters and the piece
//! being prepared for submission. Runtime handles live in [`super::QuireApp`], not here.

use quire_store::GroupId;
use serde::{Deserialize, Serialize};

/// The view on screen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum View {
    /// The critique queue.
    #[default]
    Queue,
    /// What needs me.
    ForYou,
    /// What to critique next.
    Next,
    /// Members.
    Roster,
    /// Submit a piece.
    Submit,
    /// My credits.
    Ledger,
    /// Who did what.
    Activity,
    /// The group's rules.
    Rules,
    /// My profile.
    Profile,
    /// One submission, by id.
    Submission(String),
    /// One member, by id.
    Member(String),
    /// Create or join another group.
    NewGroup,
}

/// Queue filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    /// Words in title, author or genre.
    pub search: String,
    /// Only pieces in these genres (none: any genre).
    #[serde(default)]
    pub genres: std::collections::BTreeSet<String>,
    /// Only pieces still wanting critiques.
    pub wanting_only: bool,
    /// Only my pieces and my claims.
    pub mine_only: bool,
    /// The column the rows are sorted by, if not the queue's own order.
    pub sort: Option<Sort>,
}

/// Rows sorted by one column (its index in the table), up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    /// The column's index, from the left.
    pub column: usize,
    /// Largest first.
    pub descending: bool,
}

impl Sort {
    /// What a click on `column`'s header makes of `current`: sorted by it ascending, then
    /// descending, then back to the list's own order.
    pub fn after_click(current: Option<Sort>, column: usize) -> Option<Sort> {
        match current {
            Some(Sort {
                column: c,
                descending: false,
            }) if c == column => Some(Sort {
                column,
                descending: true,
            }),
            Some(Sort {
                column: c,
                descending: true,
            }) if c == column => None,
            _ => Some(Sort {
                column,
                descending: false,
            }),
        }
    }
}

/// Roster filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterFilter {
    /// Words in name, pen name or genres.
    pub search: String,
    /// Only this genre.
    pub genre: Option<String>,
    /// Only this role (its name).
    pub role: Option<String>,
    /// On hiatus: `Some(true)` only those on hiatus, `Some(false)` only those available.
    pub hiatus: Option<bool>,
    /// The column the rows are sorted by, if not by name.
    pub sort: Option<Sort>,
}

/// The piece being prepared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitForm {
    /// Title.
    pub title: String,
    /// Genre.
    pub genre: String,
    /// The text.
    pub text: String,
    /// A file to load the text from.
    pub path: String,
    /// Critiques wanted.
    pub wanted: u32,
    /// Due date, YYYY-MM-DD.
    pub due: String,
    /// Feedback wanted.
    pub feedback: String,
    /// Content notes.
    pub notes: String,
}

impl Default for SubmitForm {
    fn default() -> Self {
        Self {
            title: String::new(),
            genre: String::new(),
            text: String::new(),
            path: String::new(),
            wanted: 3,
            due: String::new(),
            feedback: String::new(),
            notes: String::new(),
        }
    }
}

/// Everything remembered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    /// The open view.
    pub view: View,
    /// The current group.
    #[serde(with = "group_id")]
    pub group: Option<GroupId>,
    /// Queue filters.
    pub queue: QueueFilter,
    /// Roster filters.
    pub roster: RosterFilter,
    /// The piece being prepared.
    pub submit: SubmitForm,
}

mod group_id {
    use quire_store::GroupId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<GroupId>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_some(&id.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GroupId>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        Ok(text.and_then(|t| t.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remembered_state_survives_a_round_trip() {
        let state = UiState {
            view: View::Submission("7f3a".into()),
            group: Some(GroupId::random()),
            queue: QueueFilter {
                search: "mill".into(),
                genres: ["ya".to_string(), "fantasy".to_string()].into(),
                wanting_only: true,
                mine_only: false,
                sort: Some(Sort {
                    column: 3,
                    descending: true,
                }),
            },
            ..Default::default()
        };
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<UiState>(&text).unwrap(), state);
        // A state written by an older build, missing fields, still loads.
        let old: UiState = serde_json::from_str(r#"{"view":"Roster"}"#).unwrap();
        assert_eq!(old.view, View::Roster);
    }
}

//! Sorting a table by a column: the headers that sort when clicked, and each column's key.
//! Text sorts as search compares it (accents and case aside), numbers and dates as numbers,
//! and a row without a value (no due date) last either way.

use egui::{RichText, Ui};

use super::state::Sort;
use crate::backend::search::fold;
use crate::backend::{MemberRow, QueueRow};

/// What a row sorts by in one column: a number, then text, then (for rows that have no
/// value there) after everything else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// A value: a number, or text as search compares it.
    Value(u64, String),
    /// Nothing to sort by.
    Missing,
}

fn text(s: &str) -> Key {
    Key::Value(0, fold(s))
}

fn number(n: u64) -> Key {
    Key::Value(n, String::new())
}

/// The queue's columns, in order: Title, Author, Genre, Words, Due, Critiques, Status.
pub fn queue_key(row: &QueueRow, column: usize) -> Key {
    let e = &row.entry;
    match column {
        0 => text(&e.title),
        1 => text(&e.author_name),
        2 => text(&e.genre),
        3 => number(u64::from(e.word_count)),
        4 => match e.due_at {
            Some(d) => number(d.year() as u64 * 10_000 + d.month() as u64 * 100 + d.day() as u64),
            None => Key::Missing,
        },
        5 => leading_number(&row.critiques_text),
        _ => text(&row.status_text),
    }
}

/// The roster's columns, in order: Name, Pen name, Genres, Roles, Capacity, Given, Received,
/// Status.
pub fn roster_key(row: &MemberRow, column: usize) -> Key {
    match column {
        0 => text(&row.name),
        1 if row.pen_name.is_empty() => Key::Missing,
        1 => text(&row.pen_name),
        2 => text(&row.genres_text),
        3 => text(&row.roles_text),
        4 => leading_number(&row.capacity_text),
        5 => number(u64::from(row.given)),
        6 => number(u64::from(row.received)),
        _ => match (row.hiatus_until, row.organizer) {
            (Some(until), _) => Key::Value(1, until.to_string()),
            (None, true) => Key::Value(0, String::new()),
            (None, false) => Key::Missing,
        },
    }
}

/// "2/3" or "4/month" as its leading number; "—" as missing.
fn leading_number(s: &str) -> Key {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_or(Key::Missing, number)
}

/// Sorts `rows` (indices of the list's rows, in the list's own order) by `sort`, keyed by
/// `key`; rows with equal keys keep their order, and rows with no value go last.
pub fn sort_rows(rows: &mut Vec<u32>, sort: Option<Sort>, key: impl Fn(u32, usize) -> Key) {
    let Some(sort) = sort else {
        return;
    };
    let mut keyed: Vec<(Key, u32)> = rows.iter().map(|&i| (key(i, sort.column), i)).collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Key::Missing, Key::Missing) => std::cmp::Ordering::Equal,
        (Key::Missing, _) => std::cmp::Ordering::Greater,
        (_, Key::Missing) => std::cmp::Ordering::Less,
        _ if sort.descending => b.cmp(a),
        _ => a.cmp(b),
    });
    *rows = keyed.into_iter().map(|(_, i)| i).collect();
}

/// A column header that sorts its table when clicked, with an arrow on the sorted one.
pub fn header(ui: &mut Ui, name: &str, column: usize, sort: &mut Option<Sort>) {
    if name.is_empty() {
        return;
    }
    let arrow = match sort {
        Some(Sort {
            column: c,
            descending,
        }) if *c == column => {
            if *descending {
                " ⏷"
            } else {
                " ⏶"
            }
        }
        _ => "",
    };
    let label = RichText::new(format!("{name}{arrow}")).strong();
    let response = ui
        .add(egui::Button::new(label).frame(false))
        .on_hover_text(format!("Sort by {}", name.to_lowercase()));
    if response.clicked() {
        *sort = Sort::after_click(*sort, column);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(keys: &[Key], sort: Option<Sort>) -> Vec<u32> {
        let mut rows: Vec<u32> = (0..keys.len() as u32).collect();
        sort_rows(&mut rows, sort, |i, _| keys[i as usize].clone());
        rows
    }

    #[test]
    fn text_sorts_without_regard_to_accents_or_case() {
        let keys = [text("Zoë"), text("émile"), text("Ada"), text("eve")];
        let up = Some(Sort {
            column: 0,
            descending: false,
        });
        assert_eq!(sorted(&keys, up), vec![2, 1, 3, 0]);
    }

    #[test]
    fn missing_values_go_last_both_ways_and_ties_keep_their_order() {
        let keys = [Key::Missing, number(5), number(2), number(5), Key::Missing];
        let up = Some(Sort {
            column: 4,
            descending: false,
        });
        let down = Some(Sort {
            column: 4,
            descending: true,
        });
        assert_eq!(sorted(&keys, up), vec![2, 1, 3, 0, 4]);
        assert_eq!(sorted(&keys, down), vec![1, 3, 2, 0, 4]);
        assert_eq!(sorted(&keys, None), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_header_cycles_up_down_and_back_to_the_lists_order() {
        let first = Sort::after_click(None, 3);
        assert_eq!(
            first,
            Some(Sort {
                column: 3,
                descending: false
            })
        );
        let second = Sort::after_click(first, 3);
        assert_eq!(
            second,
            Some(Sort {
                column: 3,
                descending: true
            })
        );
        assert_eq!(Sort::after_click(second, 3), None);
        assert_eq!(
            Sort::after_click(second, 1),
            Some(Sort {
                column: 1,
                descending: false
            })
        );
    }

    #[test]
    fn leading_numbers_are_read_and_dashes_are_missing() {
        assert_eq!(leading_number("12/3"), number(12));
        assert_eq!(leading_number("4/month"), number(4));
        assert_eq!(leading_number("—"), Key::Missing);
    }
}

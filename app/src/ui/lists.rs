//! The long lists: queue, roster, ledger and activity. Each keeps the filtered order of its
//! snapshot's rows (indices) and redoes it only when the snapshot or the filter changes; the
//! tables lay out only the rows on screen.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use quire_store::model::Role;
use quire_store::views::{LinePosition, Status};

use super::sorting;
use super::state::{QueueFilter, RosterFilter, View};
use super::widgets::{self, named_button};
use crate::backend::{Action, GroupSnapshot, search};

/// Height of one table row.
pub const ROW_HEIGHT: f32 = 24.0;

/// A filtered order of one list, valid for one snapshot and one filter.
#[derive(Debug, Default)]
struct Filtered<F> {
    key: Option<(quire_store::GroupId, u64, F)>,
    rows: Vec<u32>,
}

impl<F: PartialEq + Clone> Filtered<F> {
    /// The rows for `snapshot` and `filter`, recomputed with `make` only if either changed.
    fn get(
        &mut self,
        snapshot: &GroupSnapshot,
        filter: &F,
        make: impl FnOnce() -> Vec<u32>,
    ) -> &[u32] {
        let key = (snapshot.id, snapshot.version, filter.clone());
        if self.key.as_ref() != Some(&key) {
            self.rows = make();
            self.key = Some(key);
        }
        &self.rows
    }
}

/// The cached orders of every list.
#[derive(Debug, Default)]
pub struct Lists {
    queue: Filtered<QueueFilter>,
    roster: Filtered<RosterFilter>,
}

impl Lists {
    /// The queue: search, filters and a virtualized table.
    pub fn queue_ui(
        &mut self,
        ui: &mut Ui,
        s: &GroupSnapshot,
        filter: &mut QueueFilter,
        actions: &mut Vec<Action>,
    ) -> Option<View> {
        let mut open = None;
        ui.horizontal_wrapped(|ui| {
            ui.heading("Critique queue");
            ui.add_space(12.0);
            let l = ui.label("Search");
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut filter.search)
                        .hint_text("title, author or genre")
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            if ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::F,
                ))
            }) {
                search.request_focus();
            }
            let mine = s.my_member.as_ref().map(|m| &m.profile.genres);
            genres_combo(ui, &s.genres, mine, &mut filter.genres);
            ui.checkbox(&mut filter.wanting_only, "Wanting critiques");
            ui.checkbox(&mut filter.mine_only, "Mine");
        });
        let rows = self.queue.get(s, filter, || {
            let words = search::words(&filter.search);
            let mut rows: Vec<u32> = s
                .queue
                .iter()
                .enumerate()
                .filter(|(_, r)| search::matches(&r.search, &words))
                .filter(|(_, r)| filter.genres.is_empty() || filter.genres.contains(&r.entry.genre))
                .filter(|(_, r)| {
                    !filter.wanting_only
                        || matches!(r.entry.status, Status::Open | Status::Claimed { .. })
                })
                .filter(|(_, r)| !filter.mine_only || r.mine || r.my_claim.is_some())
                .map(|(i, _)| i as u32)
                .collect();
            sorting::sort_rows(&mut rows, filter.sort, |i, column| {
                sorting::queue_key(&s.queue[i as usize], column)
            });
            rows
        });
        widgets::hint(
            ui,
            format!(
                "{} of {} pieces · claim a piece to critique it; each critique earns credits",
                rows.len(),
                s.queue.len()
            ),
        );
        ui.add_space(4.0);
        let rows = rows.to_vec();
        if s.queue.is_empty() {
            let hint = "No pieces yet: a piece a member submits appears here for the others \
                        to claim and critique.";
            if empty_rows(ui, hint, "Submit a piece") {
                open = Some(View::Submit);
            }
            return open;
        }
        if rows.is_empty() {
            if empty_rows(
                ui,
                "No piece matches this search.",
                "Clear the search and filters",
            ) {
                *filter = QueueFilter::default();
            }
            return open;
        }
        let me = s.me.is_some();
        let widths = [180.0, 140.0, 120.0, 60.0, 90.0, 60.0, 110.0, 90.0];
        fitted_table(ui, "queue", &widths, 0)
            .header(22.0, |mut h| {
                let names = [
                    "Title", "Author", "Genre", "Words", "Due", "Critiques", "Status", "",
                ];
                for (column, name) in names.into_iter().enumerate() {
                    h.col(|ui| sorting::header(ui, name, column, &mut filter.sort));
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, rows.len(), |mut row| {
                    let r = &s.queue[rows[row.index()] as usize];
                    let e = &r.entry;
                    row.col(|ui| {
                        if widgets::link(ui, &e.title).clicked() {
                            open = Some(View::Submission(e.id.to_string()));
                        }
                    });
                    row.col(|ui| {
                        if widgets::link(ui, &e.author_name).clicked() {
                            open = Some(View::Member(e.author.to_string()));
                        }
                    });
                    row.col(|ui| {
                        ui.label(&e.genre);
                    });
                    row.col(|ui| {
                        ui.label(e.word_count.to_string());
                    });
                    row.col(|ui| {
                        ui.label(&r.due_text);
                    });
                    row.col(|ui| {
                        ui.label(&r.critiques_text);
                    });
                    row.col(|ui| {
                        let color = widgets::status_color(ui, &e.status);
                        let text = match r.my_claim {
                            Some(LinePosition::Holder) => "yours to critique".to_string(),
                            Some(LinePosition::Waiting(n)) => format!("you wait, #{n}"),
                            None if r.critiqued_by_me => "you critiqued it".to_string(),
                            None if r.mine => format!("{} (yours)", r.status_text),
                            None => r.status_text.clone(),
                        };
                        ui.label(RichText::new(text).color(color));
                    });
                    row.col(|ui| {
                        let open_piece = matches!(e.status, Status::Open | Status::Claimed { .. });
                        if r.my_claim.is_some() {
                            if named_button(ui, "Unclaim", format!("Unclaim {}", e.title), true)
                                .clicked()
                            {
                                actions.push(Action::Unclaim(e.id));
                            }
                        } else if me && open_piece && !r.mine && !r.critiqued_by_me {
                            let full = matches!(e.status, Status::Claimed { taken, wanted } if taken >= wanted);
                            let face = if full { "Wait" } else { "Claim" };
                            if named_button(ui, face, format!("Claim {}", e.title), true)
                                .on_hover_text(if full {
                                    "All slots are taken: join the line"
                                } else {
                                    "Promise to critique this piece"
                                })
                                .clicked()
                            {
                                actions.push(Action::Claim(e.id));
                            }
                        }
                    });
                });
            });
        open
    }

    /// The roster: search, filters and a virtualized table.
    pub fn roster_ui(
        &mut self,
        ui: &mut Ui,
        s: &GroupSnapshot,
        filter: &mut RosterFilter,
    ) -> Option<View> {
        let mut open = None;
        ui.horizontal_wrapped(|ui| {
            ui.heading("Members");
            ui.add_space(12.0);
            let l = ui.label("Search");
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut filter.search)
                        .hint_text("name, pen name or genre")
                        .desired_width(200.0),
                )
                .labelled_by(l.id);
            if ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::F,
                ))
            }) {
                search.request_focus();
            }
            genre_combo(ui, &s.genres, &mut filter.genre);
            let role_text = filter.role.clone().unwrap_or_else(|| "any".into());
            widgets::combo(ui, "Role", role_text, |ui| {
                ui.selectable_value(&mut filter.role, None, "any");
                for role in Role::KNOWN {
                    let name = role.to_string();
                    ui.selectable_value(&mut filter.role, Some(name.clone()), name);
                }
            });
            let hiatus_text = match filter.hiatus {
                None => "anyone",
                Some(true) => "on hiatus",
                Some(false) => "available",
            };
            widgets::combo(ui, "Hiatus", hiatus_text, |ui| {
                ui.selectable_value(&mut filter.hiatus, None, "anyone");
                ui.selectable_value(&mut filter.hiatus, Some(false), "available");
                ui.selectable_value(&mut filter.hiatus, Some(true), "on hiatus");
            });
        });
        let rows = self.roster.get(s, filter, || {
            let words = search::words(&filter.search);
            let role = filter
                .role
                .as_deref()
                .map(|r| r.parse::<Role>().unwrap_or(Role::Writer));
            let mut rows: Vec<u32> = s
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| search::matches(&m.search, &words))
                .filter(|(_, m)| filter.genre.as_ref().is_none_or(|g| m.genres.contains(g)))
                .filter(|(_, m)| role.as_ref().is_none_or(|r| m.roles.contains(r)))
                .filter(|(_, m)| filter.hiatus.is_none_or(|h| m.hiatus_until.is_some() == h))
                .map(|(i, _)| i as u32)
                .collect();
            sorting::sort_rows(&mut rows, filter.sort, |i, column| {
                sorting::roster_key(&s.members[i as usize], column)
            });
            rows
        });
        widgets::hint(ui, format!("{} of {} members", rows.len(), s.members.len()));
        ui.add_space(4.0);
        let rows = rows.to_vec();
        if rows.is_empty() {
            let hint = "No member matches this search.";
            if empty_rows(ui, hint, "Clear the search and filters") {
                *filter = RosterFilter::default();
            }
            return open;
        }
        let widths = [170.0, 120.0, 190.0, 230.0, 80.0, 55.0, 70.0, 120.0];
        fitted_table(ui, "roster", &widths, 7)
            .header(22.0, |mut h| {
                for (column, name) in [
                    "Name", "Pen name", "Genres", "Roles", "Capacity", "Given", "Received",
                    "Status",
                ]
                .into_iter()
                .enumerate()
                {
                    h.col(|ui| sorting::header(ui, name, column, &mut filter.sort));
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, rows.len(), |mut row| {
                    let m = &s.members[rows[row.index()] as usize];
                    row.col(|ui| {
                        if widgets::link(ui, &m.name).clicked() {
                            open = Some(View::Member(m.id.to_string()));
                        }
                    });
                    row.col(|ui| {
                        ui.label(&m.pen_name);
                    });
                    row.col(|ui| {
                        ui.label(&m.genres_text);
                    });
                    row.col(|ui| {
                        ui.label(&m.roles_text);
                    });
                    row.col(|ui| {
                        ui.label(&m.capacity_text);
                    });
                    row.col(|ui| {
                        ui.label(m.given.to_string());
                    });
                    row.col(|ui| {
                        ui.label(m.received.to_string());
                    });
                    row.col(|ui| {
                        if let Some(until) = m.hiatus_until {
                            ui.weak(format!("on hiatus until {until}"));
                        } else if m.organizer {
                            ui.label("organizer");
                        }
                    });
                });
            });
        open
    }

    /// My ledger, newest entry first.
    pub fn ledger_ui(&mut self, ui: &mut Ui, s: &GroupSnapshot) {
        ui.heading("Your ledger");
        let Some(ledger) = &s.ledger else {
            widgets::hint(ui, "You are not a member of this group on this device.");
            return;
        };
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{} credits", ledger.balance))
                    .size(22.0)
                    .strong(),
            );
            if !s.rules.credits {
                widgets::hint(ui, "the group runs without credits now");
            }
        });
        if ledger.overdrawn {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "Below zero: pieces submitted at once on disconnected devices overdrew it. \
                 Critique a piece to earn it back.",
            );
        }
        widgets::hint(
            ui,
            format!(
                "A critique earns up to 2 credits by its length; your next submission costs {}.",
                s.next_submission_cost
            ),
        );
        ui.add_space(6.0);
        let n = ledger.entries.len();
        TableBuilder::new(ui)
            .id_salt("ledger")
            .striped(true)
            .column(Column::initial(140.0))
            .column(Column::initial(70.0))
            .column(Column::initial(70.0))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for name in ["When", "Change", "Balance", "What"] {
                    h.col(|ui| {
                        ui.strong(name);
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, n, |mut row| {
                    let e = &ledger.entries[n - 1 - row.index()];
                    row.col(|ui| {
                        ui.label(widgets::when(e.at));
                    });
                    row.col(|ui| {
                        ui.label(e.amount.signed());
                    });
                    row.col(|ui| {
                        ui.label(e.balance.to_string());
                    });
                    row.col(|ui| {
                        ui.label(e.reason.to_string());
                    });
                });
            });
    }

    /// The activity feed, newest first.
    pub fn activity_ui(&mut self, ui: &mut Ui, s: &GroupSnapshot) -> Option<View> {
        let mut open = None;
        ui.heading("Recent activity");
        widgets::hint(
            ui,
            format!("the latest {} changes, newest first", s.activity.len()),
        );
        ui.add_space(6.0);
        let n = s.activity.len();
        TableBuilder::new(ui)
            .id_salt("activity")
            .striped(true)
            .column(Column::initial(140.0))
            .column(Column::initial(160.0).clip(true))
            .column(Column::remainder().clip(true))
            .body(|body| {
                body.rows(ROW_HEIGHT, n, |mut row| {
                    let a = &s.activity[row.index()];
                    row.col(|ui| {
                        ui.weak(widgets::when(a.at));
                    });
                    row.col(|ui| match a.member {
                        Some(m) => {
                            if widgets::link(ui, &a.who).clicked() {
                                open = Some(View::Member(m.to_string()));
                            }
                        }
                        None => {
                            ui.label(&a.who);
                        }
                    });
                    row.col(|ui| {
                        ui.label(&a.what);
                    });
                });
            });
        open
    }
}

/// A genre filter: "any" or one genre.
/// Any number of genres: "any", "my genres" (those of my profile), or each ticked.
fn genres_combo(
    ui: &mut Ui,
    genres: &[String],
    mine: Option<&std::collections::BTreeSet<String>>,
    chosen: &mut std::collections::BTreeSet<String>,
) {
    let mine: std::collections::BTreeSet<String> = mine
        .map(|m| m.iter().map(|g| g.to_lowercase()).collect())
        .unwrap_or_default();
    let text = match chosen.len() {
        0 => "any".to_string(),
        _ if !mine.is_empty() && *chosen == mine => "my genres".to_string(),
        1 | 2 => chosen.iter().cloned().collect::<Vec<_>>().join(", "),
        n => format!("{n} genres"),
    };
    widgets::combo(ui, "Genres", text, |ui| {
        if ui.selectable_label(chosen.is_empty(), "any").clicked() {
            chosen.clear();
        }
        if !mine.is_empty()
            && ui
                .selectable_label(*chosen == mine, "my genres")
                .on_hover_text(mine.iter().cloned().collect::<Vec<_>>().join(", "))
                .clicked()
        {
            *chosen = mine.clone();
        }
        ui.separator();
        for g in genres {
            let mut on = chosen.contains(g);
            if ui.checkbox(&mut on, g).changed() {
                if on {
                    chosen.insert(g.clone());
                } else {
                    chosen.remove(g);
                }
            }
        }
    });
}

fn genre_combo(ui: &mut Ui, genres: &[String], value: &mut Option<String>) {
    let text = value.clone().unwrap_or_else(|| "any".into());
    widgets::combo(ui, "Genre", text, |ui| {
        ui.selectable_value(value, None, "any");
        for g in genres {
            ui.selectable_value(value, Some(g.clone()), g);
        }
    });
}

/// What stands in for a table without rows: why it is empty, and a button to the way on.
/// Returns whether the button was clicked.
fn empty_rows(ui: &mut Ui, why: &str, way_on: &str) -> bool {
    let mut clicked = false;
    ui.add_space(24.0);
    ui.vertical_centered(|ui| {
        ui.label(RichText::new(why).size(15.0));
        ui.add_space(8.0);
        clicked = ui.button(way_on).clicked();
    });
    clicked
}

/// A striped table of columns `wanted` wide in `ui`, as wanted where they fit, else all
/// narrowed alike (their text clipped) so that every column stays on screen, down to a floor
/// under which the window is too small to matter (720 points wide is the least). Column
/// `stretch` takes what room is left.
fn fitted_table<'a>(ui: &'a mut Ui, id: &str, wanted: &[f32], stretch: usize) -> TableBuilder<'a> {
    let spacing = ui.spacing().item_spacing.x * wanted.len() as f32;
    let total: f32 = wanted.iter().sum();
    let room = (ui.available_width() - spacing).max(0.0);
    let scale = (room / total).clamp(0.55, 1.0);
    let mut table = TableBuilder::new(ui)
        .id_salt(id)
        .striped(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
    for (i, w) in wanted.iter().enumerate() {
        let width = (w * scale).floor();
        let column = if i == stretch {
            Column::remainder().at_least(width)
        } else {
            Column::exact(width)
        };
        table = table.column(column.clip(true));
    }
    table
}

//! A second look before an action that cannot be taken back: withdrawing a piece, letting a
//! claim go, delivering a critique, tipping a reviewer. The action waits here until the member
//! confirms it (or drops it with Cancel or Escape); everything else acts at once.

use egui::{RichText, Ui};
use quire_store::GroupId;

use crate::backend::{Action, GroupSnapshot};

/// An action waiting for its confirmation.
#[derive(Debug)]
pub struct Pending {
    group: GroupId,
    action: Action,
    ask: Ask,
}

/// What the dialog asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The question, naming what it acts on.
    pub question: String,
    /// What happens, and that it cannot be taken back.
    pub detail: String,
    /// The confirming button's text.
    pub confirm: &'static str,
}

/// What to ask before `action` on `s`, or `None` if it acts at once.
pub fn ask(action: &Action, s: &GroupSnapshot) -> Option<Ask> {
    let title = |id| {
        s.queue.iter().find(|r| r.entry.id == id).map_or_else(
            || "this piece".to_string(),
            |r| format!("“{}”", r.entry.title),
        )
    };
    match action {
        Action::Withdraw(id) => Some(Ask {
            question: format!("Withdraw {}?", title(*id)),
            detail: "It leaves the queue and its claims are released; critiques already \
                     delivered stay with it. A withdrawn piece cannot be put back."
                .into(),
            confirm: "Withdraw",
        }),
        Action::Unclaim(id) => Some(Ask {
            question: format!("Let go of your claim on {}?", title(*id)),
            detail: "Your place goes to the next member in line, or the slot opens again. \
                     A draft you started stays on this device."
                .into(),
            confirm: "Let it go",
        }),
        Action::Critique { submission, body } => Some(Ask {
            question: format!("Deliver your critique of {}?", title(*submission)),
            detail: format!(
                "{} words. Once delivered, the author and the group read it as it is: it \
                 cannot be edited or taken back.",
                body.split_whitespace().count()
            ),
            confirm: "Deliver",
        }),
        Action::Tip { .. } => Some(Ask {
            question: "Tip this reviewer?".into(),
            detail: "The tip moves credits from your balance to theirs; it cannot be taken \
                     back."
                .into(),
            confirm: "Tip",
        }),
        _ => None,
    }
}

impl Pending {
    /// `action` on `group`, waiting for `ask` to be answered.
    pub fn new(group: GroupId, action: Action, ask: Ask) -> Self {
        Pending { group, action, ask }
    }

    /// Shows the dialog. Returns the group and the action once confirmed, and whether the
    /// dialog is still open.
    pub fn ui(&self, ctx: &egui::Context) -> (Option<(GroupId, Action)>, bool) {
        let mut confirmed = false;
        let mut cancelled = false;
        let modal =
            egui::Modal::new(egui::Id::unique("confirm-action")).show(ctx, |ui: &mut Ui| {
                ui.set_max_width(420.0);
                ui.label(RichText::new(&self.ask.question).size(17.0).strong());
                ui.add_space(6.0);
                ui.label(&self.ask.detail);
                ui.add_space(12.0);
                ui.horizontal(|ui| {
                    confirmed = ui
                        .button(RichText::new(self.ask.confirm).strong())
                        .clicked();
                    cancelled = ui.button("Cancel").clicked();
                });
            });
        if confirmed {
            return (Some((self.group, self.action.clone())), false);
        }
        (None, !(cancelled || modal.should_close()))
    }
}

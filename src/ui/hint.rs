//! The first-run hint about owners the window cannot see.
//!
//! Run as a user, the window shows every socket of root's daemons (and other users') without
//! a process: Linux does not tell which process holds another user's socket. A new user sees
//! a column of "needs root" and may take it for a fault, so when many sockets are like that the
//! window says once what the blanks mean and how to see them, until it is dismissed.

use std::collections::BTreeMap;

use super::action::Action;
use crate::collect::HelperStatus;
use crate::model::{NoOwnerReason, Owner, Snapshot};

/// From this many sockets whose owner the viewer may not see, the hint is shown.
pub(crate) const MANY_HIDDEN: usize = 3;

/// The command that shows every owner today.
pub(crate) const AS_ROOT: &str = "sudo portscope";

/// The sockets of a snapshot whose owner needs privileges to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HiddenOwners {
    /// The poll these were counted in.
    pub seq: u64,
    pub sockets: usize,
    /// The users they belong to, most sockets first (ties by name), at most three.
    pub users: Vec<String>,
}

impl HiddenOwners {
    /// Count them in `snapshot`. Only sockets without a process are looked at.
    pub fn of(snapshot: &Snapshot) -> Self {
        let mut by_user: BTreeMap<String, usize> = BTreeMap::new();
        let mut sockets = 0;
        for s in snapshot.sockets.iter().filter(|s| s.pids.is_empty()) {
            if let Owner::None(NoOwnerReason::OtherUser { uid, user }) = snapshot.owner(s) {
                sockets += 1;
                *by_user
                    .entry(user.unwrap_or_else(|| format!("uid {uid}")))
                    .or_default() += 1;
            }
        }
        let mut users: Vec<(String, usize)> = by_user.into_iter().collect();
        users.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        HiddenOwners {
            seq: snapshot.seq,
            sockets,
            users: users.into_iter().take(3).map(|(name, _)| name).collect(),
        }
    }

    /// Whether there are enough of them to say something.
    pub fn worth_a_hint(&self) -> bool {
        self.sockets >= MANY_HIDDEN
    }

    /// What the hint says.
    pub fn text(&self) -> String {
        let whose = match self.users.as_slice() {
            [] => String::new(),
            users => format!(" ({})", users.join(", ")),
        };
        format!(
            "{} sockets of other users{whose} show no process: only root may see which process \
             holds another user's socket. To see every owner, run",
            self.sockets
        )
    }
}

/// The hint: what the blanks mean, how to see them, and a button to dismiss it for good.
pub(crate) fn hint_ui(
    ui: &mut egui::Ui,
    hidden: &HiddenOwners,
    helper: Option<&HelperStatus>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal_wrapped(|ui| {
        // User names come from the system's user database: shown escaped, like everywhere.
        ui.label(crate::model::text::escape(&hidden.text()).into_owned());
        show_all_processes_ui(ui, &mut actions, helper);
        if ui.button("Dismiss").clicked() {
            actions.push(Action::DismissOwnersHint);
        }
    });
    actions
}

/// How to see every owner from here: the command that runs portscope as root, with a Copy
/// button, and where the window can start its privileged helper, the button that does.
pub(crate) fn show_all_processes_ui(
    ui: &mut egui::Ui,
    actions: &mut Vec<Action>,
    helper: Option<&HelperStatus>,
) {
    ui.code(AS_ROOT);
    if ui
        .button("Copy")
        .on_hover_text(format!(
            "Copy '{AS_ROOT}' to run in a terminal ('{AS_ROOT} list' prints the table there)"
        ))
        .clicked()
    {
        ui.ctx().copy_text(AS_ROOT.to_owned());
    }
    if let Some(status) = helper {
        ui.label("or");
        show_all_button(ui, actions, status);
        if *status != HelperStatus::Off {
            helper_status_ui(ui, status);
        }
    }
}

/// The button that starts the helper: disabled while it starts or runs.
pub(crate) fn show_all_button(ui: &mut egui::Ui, actions: &mut Vec<Action>, status: &HelperStatus) {
    let idle = matches!(status, HelperStatus::Off | HelperStatus::Failed(_));
    let mut about = "Ask for administrator rights (pkexec) and start portscope's helper, which \
                     tells this window every socket's process; the window itself keeps running \
                     as you"
        .to_owned();
    if let HelperStatus::Failed(why) = status {
        about = format!(
            "{about}.\n\nLast time: {}.",
            crate::model::text::escape(why)
        );
    }
    if ui
        .add_enabled(idle, egui::Button::new(SHOW_ALL))
        .on_hover_text(about)
        .clicked()
    {
        actions.push(Action::ShowAllProcesses);
    }
}

/// The button's label.
pub(crate) const SHOW_ALL: &str = "Show all processes…";

/// The helper in the status bar: whether it runs, or why it stopped. (The button that starts
/// it sits with the status bar's controls, which always have room.)
pub(crate) fn helper_status_ui(ui: &mut egui::Ui, status: &HelperStatus) {
    match status {
        HelperStatus::Active => {
            ui.add(egui::Label::new("helper active").truncate())
                .on_hover_text(
                    "portscope's helper runs with administrator rights and shows every \
                     socket's process; the window runs as you",
                );
        }
        HelperStatus::Starting => {
            ui.add(egui::Label::new("helper: waiting for administrator rights…").truncate());
        }
        HelperStatus::Failed(why) => {
            // From the helper's pipe: shown escaped.
            let why = crate::model::text::escape(why).into_owned();
            ui.add(
                egui::Label::new(
                    egui::RichText::new(format!("helper stopped: {why}"))
                        .color(ui.visuals().warn_fg_color),
                )
                .truncate(),
            )
            .on_hover_text(format!("{why}. portscope goes on with what it can see."));
        }
        HelperStatus::Off => {}
    }
}

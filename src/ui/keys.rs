//! The keyboard: arrows move the selection, Enter opens details, Ctrl+F focuses the filter,
//! Esc clears it, F5 refreshes, Space pauses, T shows or hides the timeline, Ctrl+C copies the
//! selected row.

use super::action::Action;
use super::selection::Selection;
use crate::collect::Control;

/// What the keys read.
pub(crate) struct KeysInput<'a> {
    /// The filter box, once drawn.
    pub filter_widget: Option<egui::Id>,
    pub filter_empty: bool,
    pub paused: bool,
    pub timeline_shown: bool,
    pub selection: Option<&'a Selection>,
}

/// Reads this frame's keys (focus and the clipboard are egui's own, handled here).
pub(crate) fn keyboard(ctx: &egui::Context, input: &KeysInput<'_>) -> Vec<Action> {
    use egui::{Key, Modifiers};
    let mut actions = Vec::new();
    let typing = ctx.egui_wants_keyboard_input();
    let filter_focused = input
        .filter_widget
        .is_some_and(|id| ctx.memory(|m| m.has_focus(id)));
    let (focus_filter, escape, refresh) = ctx.input_mut(|i| {
        (
            i.consume_key(Modifiers::COMMAND, Key::F),
            i.key_pressed(Key::Escape),
            i.consume_key(Modifiers::NONE, Key::F5),
        )
    });
    if focus_filter && let Some(id) = input.filter_widget {
        ctx.memory_mut(|m| m.request_focus(id));
    }
    if escape && (filter_focused || !typing) && !input.filter_empty {
        actions.push(Action::SetFilter(String::new()));
        if let Some(id) = input.filter_widget {
            ctx.memory_mut(|m| m.surrender_focus(id));
        }
    }
    if refresh {
        actions.push(Action::Control(Control::RefreshNow));
    }
    if typing {
        return actions;
    }
    let (space, timeline, up, down, enter, copy) = ctx.input_mut(|i| {
        (
            i.consume_key(Modifiers::NONE, Key::Space),
            i.consume_key(Modifiers::NONE, Key::T),
            i.consume_key(Modifiers::NONE, Key::ArrowUp),
            i.consume_key(Modifiers::NONE, Key::ArrowDown),
            i.consume_key(Modifiers::NONE, Key::Enter),
            i.events.iter().any(|e| matches!(e, egui::Event::Copy)),
        )
    });
    if space {
        actions.push(Action::Control(if input.paused {
            Control::Resume
        } else {
            Control::Pause
        }));
    }
    if timeline {
        actions.push(Action::ShowTimeline(!input.timeline_shown));
    }
    if up || down {
        actions.push(Action::MoveSelection(if down { 1 } else { -1 }));
    }
    if enter && input.selection.is_some() {
        actions.push(Action::ShowDetails);
    }
    if copy && let Some(sel) = input.selection {
        ctx.copy_text(super::table::row_text(&sel.seen_in, &sel.socket));
    }
    actions
}

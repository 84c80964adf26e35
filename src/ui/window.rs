//! The window's size on screen: a default that fits common laptop screens, and, once the
//! monitor is known, a window that does not fit it (restored from a larger screen, or the
//! default on a small one) shrunk to fit.
//!
//! eframe already keeps a window within the largest monitor, but a window exactly as large as
//! the screen still runs under the desktop's panels and off its edges; this leaves room.

use egui::{Vec2, ViewportCommand, vec2};

/// The size the window opens at the first time.
pub const DEFAULT_SIZE: Vec2 = vec2(1200.0, 720.0);
/// Below this the toolbar and the table no longer make sense.
pub const MIN_SIZE: Vec2 = vec2(640.0, 400.0);
/// The share of the monitor a window that is not maximized may take: room for the desktop's
/// panels and the window's own title bar, which take more of the height.
const SCREEN_SHARE: Vec2 = vec2(0.95, 0.9);

/// The inner size a window of `inner` points should take on a `monitor` of that many points,
/// or `None` when it fits as it is.
pub fn fitted(inner: Vec2, monitor: Vec2) -> Option<Vec2> {
    if monitor.x <= 0.0 || monitor.y <= 0.0 {
        return None;
    }
    let room = monitor * SCREEN_SHARE;
    if inner.x <= room.x && inner.y <= room.y {
        return None;
    }
    Some(inner.min(room).max(MIN_SIZE.min(monitor)))
}

/// Fits the window to its monitor once, on the first frame that knows both sizes.
#[derive(Debug, Default)]
pub(crate) struct FitToScreen {
    done: bool,
}

impl FitToScreen {
    pub fn apply(&mut self, ctx: &egui::Context) {
        if self.done {
            return;
        }
        let (monitor, inner, maximized, fullscreen) = ctx.input(|i| {
            let v = i.viewport();
            (
                v.monitor_size,
                v.inner_rect.map(|r| r.size()),
                v.maximized,
                v.fullscreen,
            )
        });
        let (Some(monitor), Some(inner)) = (monitor, inner) else {
            return;
        };
        self.done = true;
        if maximized == Some(true) || fullscreen == Some(true) {
            return;
        }
        if let Some(size) = fitted(inner, monitor) {
            ctx.send_viewport_cmd(ViewportCommand::InnerSize(size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fits_a_1280_by_800_screen_as_it_is() {
        assert_eq!(fitted(DEFAULT_SIZE, vec2(1280.0, 800.0)), None);
        assert_eq!(fitted(DEFAULT_SIZE, vec2(1920.0, 1080.0)), None);
    }

    #[test]
    fn a_window_larger_than_its_screen_shrinks_to_leave_room() {
        let fit = fitted(vec2(1920.0, 1200.0), vec2(1280.0, 800.0)).unwrap();
        assert_eq!(fit, vec2(1280.0 * 0.95, 800.0 * 0.9));
        // Only the dimension that does not fit changes.
        let fit = fitted(vec2(1000.0, 900.0), vec2(1366.0, 768.0)).unwrap();
        assert_eq!(fit, vec2(1000.0, 768.0 * 0.9));
    }

    #[test]
    fn a_tiny_screen_gets_the_smallest_useful_window_that_fits_it() {
        assert_eq!(
            fitted(DEFAULT_SIZE, vec2(800.0, 600.0)),
            Some(vec2(800.0 * 0.95, 600.0 * 0.9))
        );
        assert_eq!(
            fitted(DEFAULT_SIZE, vec2(600.0, 380.0)),
            Some(vec2(600.0, 380.0))
        );
        assert_eq!(fitted(DEFAULT_SIZE, Vec2::ZERO), None);
    }
}

//! The 0–65535 range bar: IANA's three ranges, this OS's ephemeral range, reserved ports,
//! every port in use now, and the selected port. Hover for details, click to explain a port,
//! scroll to zoom, drag to pan, double-click to see the whole range again.
//!
//! Written as the four steps of an egui widget — size, allocate, interact, paint — over the
//! pure geometry of [`PortScale`]. Ports in use are bucketed into pixel columns first, so the
//! cost of painting does not grow with the number of sockets.

use egui::{Align2, Color32, FontId, Pos2, Rect, Response, Sense, Stroke, StrokeKind, Vec2};

use super::port_scale::{PortScale, PortView};
use crate::knowledge::{EphemeralRange, IanaRange, service_name};
use crate::model::Snapshot;
use crate::model::ephemeral_fill::EphemeralFill;

/// What a port in use is used for; listening wins when a port has both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    Connected,
    Listening,
}

/// The ports in use in one snapshot, sorted, one entry per port.
#[derive(Debug, Default)]
pub struct PortUsage {
    pub seq: u64,
    pub ports: Vec<(u16, Usage)>,
}

impl PortUsage {
    pub fn of(snap: &Snapshot) -> PortUsage {
        // One bit per port number for each use: a pass over the sockets, then the set bits in
        // port order (a sort of 100,000 sockets' ports took most of this).
        let mut used = vec![0u64; 65_536 / 64];
        let mut listening = vec![0u64; 65_536 / 64];
        for s in &snap.sockets {
            let (word, bit) = (usize::from(s.local_port / 64), s.local_port % 64);
            used[word] |= 1 << bit;
            if s.state.is_listening() {
                listening[word] |= 1 << bit;
            }
        }
        let mut ports = Vec::new();
        for (word, (&all, &listen)) in used.iter().zip(&listening).enumerate() {
            let mut bits = all;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                // Listening wins when a port has both.
                let usage = if listen & (1 << bit) != 0 {
                    Usage::Listening
                } else {
                    Usage::Connected
                };
                ports.push(((word * 64) as u16 + bit as u16, usage));
            }
        }
        PortUsage {
            seq: snap.seq,
            ports,
        }
    }

    /// The port in use whose mark is nearest to `x`, within `reach` pixels: when thousands of
    /// ports share a pixel, a pointer near a mark means that mark, not the empty port under it.
    pub fn nearest_in_use(&self, scale: &PortScale, x: f32, reach: f32) -> Option<u16> {
        let lo = scale.port_at(x - reach);
        let hi = scale.port_at(x + reach);
        let start = self.ports.partition_point(|(p, _)| *p < lo);
        self.ports[start..]
            .iter()
            .take_while(|(p, _)| *p <= hi)
            .map(|(p, _)| *p)
            .min_by(|a, b| {
                let da = (scale.x_center(*a) - x).abs();
                let db = (scale.x_center(*b) - x).abs();
                da.total_cmp(&db)
            })
            .filter(|p| (scale.x_center(*p) - x).abs() <= reach.max(scale.pixels_per_port() as f32))
    }

    pub fn get(&self, port: u16) -> Option<Usage> {
        self.ports
            .binary_search_by_key(&port, |(p, _)| *p)
            .ok()
            .map(|i| self.ports[i].1)
    }
}

/// The bar's state between frames.
#[derive(Debug, Default)]
pub struct PortBarState {
    pub view: PortView,
    /// Ticks bucketed into pixel columns, kept while the ports, the view and the width stay.
    ticks: Option<(TicksKey, Vec<(usize, Usage)>)>,
}

#[derive(Debug, PartialEq)]
struct TicksKey {
    usage_seq: u64,
    ports: usize,
    lo: f64,
    hi: f64,
    width: f32,
}

impl PortBarState {
    fn ticks(&mut self, scale: &PortScale, usage: &PortUsage) -> &[(usize, Usage)] {
        let key = TicksKey {
            usage_seq: usage.seq,
            ports: usage.ports.len(),
            lo: scale.view.lo(),
            hi: scale.view.hi(),
            width: scale.width,
        };
        let stale = self.ticks.as_ref().is_none_or(|(k, _)| *k != key);
        if stale {
            let ticks = scale.bucket(usage.ports.iter().copied(), Ord::max);
            self.ticks = Some((key, ticks));
        }
        self.ticks.as_ref().map_or(&[], |(_, t)| t.as_slice())
    }
}

/// What the user did to the bar this frame.
pub struct PortBarOutput {
    pub response: Response,
    /// A port the user clicked.
    pub clicked: Option<u16>,
}

const BAR_HEIGHT: f32 = 26.0;
/// How close (in pixels) the pointer must be to a port in use to pick it.
const SNAP_PIXELS: f32 = 4.0;
const BAND_HEIGHT: f32 = 7.0;
const AXIS_HEIGHT: f32 = 14.0;

pub fn segment_color(range: IanaRange, dark: bool) -> Color32 {
    match (range, dark) {
        (IanaRange::System, true) => Color32::from_rgb(52, 84, 140),
        (IanaRange::User, true) => Color32::from_rgb(44, 98, 72),
        (IanaRange::Dynamic, true) => Color32::from_rgb(120, 84, 40),
        (IanaRange::System, false) => Color32::from_rgb(176, 198, 235),
        (IanaRange::User, false) => Color32::from_rgb(178, 220, 190),
        (IanaRange::Dynamic, false) => Color32::from_rgb(240, 210, 160),
    }
}

fn ephemeral_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(170, 120, 220)
    } else {
        Color32::from_rgb(120, 60, 180)
    }
}

fn usage_color(usage: Usage, dark: bool) -> Color32 {
    match (usage, dark) {
        (Usage::Listening, true) => Color32::from_rgb(255, 236, 120),
        (Usage::Listening, false) => Color32::from_rgb(20, 20, 20),
        (Usage::Connected, true) => Color32::from_rgb(230, 230, 230),
        (Usage::Connected, false) => Color32::from_rgb(90, 90, 90),
    }
}

/// Draw the bar and handle its input. `hover_text` describes a port for the tooltip.
pub fn port_bar_ui(
    ui: &mut egui::Ui,
    state: &mut PortBarState,
    usage: &PortUsage,
    ephemeral: &EphemeralRange,
    selected: Option<u16>,
    hover_text: impl FnOnce(u16) -> String,
) -> PortBarOutput {
    // 1. Decide the size: the full width, a fixed height.
    let size = Vec2::new(
        ui.available_width(),
        BAR_HEIGHT + BAND_HEIGHT + AXIS_HEIGHT + 4.0,
    );
    // 2. Allocate.
    let (rect, mut response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Port range bar"));
    let scale = PortScale::new(state.view, rect.left(), rect.width());
    let port_near = |scale: &PortScale, x: f32| {
        usage
            .nearest_in_use(scale, x, SNAP_PIXELS)
            .unwrap_or_else(|| scale.port_at(x))
    };

    // 3. Interaction.
    let mut clicked = None;
    if response.double_clicked() {
        state.view = PortView::FULL;
    } else if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        clicked = Some(port_near(&scale, pos.x));
    }
    if response.dragged() {
        let dx = response.drag_delta().x;
        state.view = state.view.panned(-f64::from(dx) / scale.pixels_per_port());
    }
    if response.hovered() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        let wheel = scroll.y + scroll.x;
        let factor = if (zoom - 1.0).abs() > f32::EPSILON {
            f64::from(zoom)
        } else {
            (f64::from(wheel) / 120.0).exp2()
        };
        if (factor - 1.0).abs() > 1e-6
            && let Some(pos) = response.hover_pos()
        {
            state.view = state.view.zoomed(scale.axis_at(pos.x), factor);
        }
    }
    let scale = PortScale::new(state.view, rect.left(), rect.width());
    if let Some(pos) = response.hover_pos() {
        let port = port_near(&scale, pos.x);
        response = response.on_hover_text_at_pointer(hover_text(port));
    }

    // 4. Paint, skipping whatever is off screen.
    if ui.is_rect_visible(rect) {
        let ticks = state.ticks(&scale, usage);
        paint(ui, rect, &scale, ticks, ephemeral, selected);
    }
    PortBarOutput { response, clicked }
}

fn paint(
    ui: &egui::Ui,
    rect: Rect,
    scale: &PortScale,
    ticks: &[(usize, Usage)],
    ephemeral: &EphemeralRange,
    selected: Option<u16>,
) {
    let painter = ui.painter_at(rect);
    let dark = ui.visuals().dark_mode;
    let text_color = ui.visuals().strong_text_color();
    let bar = Rect::from_min_size(rect.min, Vec2::new(rect.width(), BAR_HEIGHT));
    let font = FontId::proportional(12.0);

    // The three IANA ranges, labelled where the label fits.
    for range in [IanaRange::System, IanaRange::User, IanaRange::Dynamic] {
        let (lo, hi) = range.bounds();
        let x0 = scale.x_of(lo).max(bar.left());
        let x1 = scale.x_at(f64::from(hi) + 1.0).min(bar.right());
        if x1 <= x0 {
            continue;
        }
        let seg = Rect::from_x_y_ranges(x0..=x1, bar.y_range());
        painter.rect_filled(seg, 0.0, segment_color(range, dark));
        let label = format!("{} {lo}–{hi}", range.label());
        let galley = painter.layout_no_wrap(label, font.clone(), text_color);
        if galley.size().x + 8.0 < seg.width() {
            painter.galley(
                Pos2::new(
                    seg.center().x - galley.size().x / 2.0,
                    seg.center().y - galley.size().y / 2.0,
                ),
                galley,
                text_color,
            );
        }
    }

    // Ports in use: one tick per pixel column, tall for listening, short for connected.
    let tick_width = (scale.pixels_per_port() as f32).clamp(1.0, 12.0);
    for &(col, kind) in ticks {
        let x = rect.left() + col as f32 + 0.5;
        let top = match kind {
            Usage::Listening => bar.top(),
            Usage::Connected => bar.center().y,
        };
        let r = Rect::from_x_y_ranges(
            (x - tick_width / 2.0)..=(x + tick_width / 2.0).max(x - tick_width / 2.0 + 1.0),
            top..=bar.bottom(),
        );
        painter.rect_filled(r, 0.0, usage_color(kind, dark));
    }

    // The OS's ephemeral range as a band under the bar, with reserved ports cut out.
    let band = Rect::from_min_size(
        Pos2::new(rect.left(), bar.bottom() + 2.0),
        Vec2::new(rect.width(), BAND_HEIGHT),
    );
    let ex0 = scale.x_of(ephemeral.start).max(band.left());
    let ex1 = scale.x_at(f64::from(ephemeral.end) + 1.0).min(band.right());
    if ex1 > ex0 {
        painter.rect_filled(
            Rect::from_x_y_ranges(ex0..=ex1, band.y_range()),
            2.0,
            ephemeral_color(dark),
        );
    }
    for (lo, hi) in &ephemeral.reserved {
        let x0 = scale.x_of(*lo).max(band.left());
        let x1 = scale
            .x_at(f64::from(*hi) + 1.0)
            .min(band.right())
            .max(x0 + 1.0);
        if x0 <= band.right() {
            painter.rect_filled(
                Rect::from_x_y_ranges(x0..=x1, band.y_range()),
                0.0,
                ui.visuals().error_fg_color,
            );
        }
    }

    // The axis: the ends of the view and the range boundaries that are on show.
    let axis_y = band.bottom() + 1.0;
    let weak = ui.visuals().weak_text_color();
    let small = FontId::proportional(11.0);
    let visible = scale.visible_ports();
    painter.text(
        Pos2::new(rect.left() + 2.0, axis_y),
        Align2::LEFT_TOP,
        visible.start().to_string(),
        small.clone(),
        weak,
    );
    painter.text(
        Pos2::new(rect.right() - 2.0, axis_y),
        Align2::RIGHT_TOP,
        visible.end().to_string(),
        small.clone(),
        weak,
    );
    let mut label = format!("ephemeral {}–{}", ephemeral.start, ephemeral.end);
    if !state_is_full(scale) {
        label.push_str("  ·  scroll to zoom, drag to pan, double-click for all");
    }
    painter.text(
        Pos2::new(
            ((ex0 + ex1) / 2.0).clamp(rect.left() + 150.0, rect.right() - 150.0),
            axis_y,
        ),
        Align2::CENTER_TOP,
        label,
        small,
        ephemeral_color(dark),
    );

    // The selected port: a line through bar and band, and a frame around its block.
    if let Some(port) = selected
        && scale.visible_ports().contains(&port)
    {
        let x = scale.x_center(port);
        let color = ui.visuals().selection.stroke.color;
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, band.bottom())],
            Stroke::new(2.0, color),
        );
        let w = (scale.pixels_per_port() as f32).max(6.0);
        painter.rect_stroke(
            Rect::from_center_size(Pos2::new(x, bar.center().y), Vec2::new(w, BAR_HEIGHT)),
            1.0,
            Stroke::new(1.5, color),
            StrokeKind::Outside,
        );
    }
}

fn state_is_full(scale: &PortScale) -> bool {
    scale.view.is_full()
}

/// The tooltip text for a port on the bar.
pub fn describe_port(port: u16, snap: &Snapshot) -> String {
    let range = IanaRange::of(port);
    let mut text = format!(
        "Port {port}: {} range ({}–{})",
        range.label(),
        range.bounds().0,
        range.bounds().1
    );
    if snap.ephemeral.contains(port) {
        text.push_str(&format!(
            "\nin this machine's ephemeral range {}–{}",
            snap.ephemeral.start, snap.ephemeral.end
        ));
    }
    if snap.ephemeral.is_reserved(port) {
        text.push_str("\nreserved: never handed out automatically");
    }
    match service_name(port, None) {
        Some(name) => text.push_str(&format!("\nIANA: {name}")),
        None => text.push_str("\nIANA: no service assigned"),
    }
    let on_port: Vec<_> = snap.sockets_on_port(port).collect();
    if on_port.is_empty() {
        text.push_str("\nnothing uses it now");
    } else {
        for s in on_port.iter().take(6) {
            text.push_str(&format!(
                "\n{} {} {}",
                s.proto.label(),
                s.state,
                crate::model::text::escape(&snap.process_label(s))
            ));
        }
        if on_port.len() > 6 {
            text.push_str(&format!("\n… {} sockets in all", on_port.len()));
        }
    }
    text.push_str("\nclick to explain");
    text
}

/// Ephemeral-range use by state: the early warning for port exhaustion.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EphemeralGauge {
    /// Distinct local ports of the range in use.
    pub ports_in_use: usize,
    pub range_size: usize,
    /// Sockets with a local port in the range, by state, most first.
    pub by_state: Vec<(&'static str, usize)>,
}

impl EphemeralGauge {
    pub fn of(snap: &Snapshot) -> EphemeralGauge {
        let e = &snap.ephemeral;
        let fill = EphemeralFill::of(snap);
        // Counted by the state's number: a map lookup per socket cost more than the rest.
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for s in snap.sockets.iter().filter(|s| e.contains(s.local_port)) {
            let i = s.state as usize;
            if counts.len() <= i {
                counts.resize(i + 1, ("", 0));
            }
            counts[i].0 = s.state.as_str();
            counts[i].1 += 1;
        }
        let mut by_state: Vec<_> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
        by_state.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        EphemeralGauge {
            ports_in_use: fill.ports_in_use,
            range_size: fill.range_size,
            by_state,
        }
    }

    pub fn fraction(&self) -> f32 {
        if self.range_size == 0 {
            0.0
        } else {
            self.ports_in_use as f32 / self.range_size as f32
        }
    }

    pub fn summary(&self) -> String {
        let states = self
            .by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = format!(
            "ephemeral ports in use: {} of {} ({:.1}%)",
            self.ports_in_use,
            self.range_size,
            self.fraction() * 100.0
        );
        if !states.is_empty() {
            text.push_str(&format!(" · {states}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proto, SockState, Socket};
    use std::net::{IpAddr, Ipv4Addr};

    fn sock(port: u16, state: SockState) -> Socket {
        Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            state,
            pids: Default::default(),
            uid: None,
            inode: None,
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    #[test]
    fn usage_keeps_one_entry_per_port_and_listening_wins() {
        let snap = Snapshot {
            sockets: vec![
                sock(8080, SockState::Established),
                sock(8080, SockState::Listen),
                sock(40000, SockState::TimeWait),
                sock(22, SockState::Listen),
                sock(65535, SockState::Established),
                sock(0, SockState::Unconn),
                sock(63, SockState::Established),
                sock(64, SockState::Listen),
            ],
            ..Snapshot::default()
        };
        let u = PortUsage::of(&snap);
        assert_eq!(
            u.ports,
            vec![
                (0, Usage::Listening),
                (22, Usage::Listening),
                (63, Usage::Connected),
                (64, Usage::Listening),
                (8080, Usage::Listening),
                (40000, Usage::Connected),
                (65535, Usage::Connected)
            ]
        );
        assert_eq!(u.get(40000), Some(Usage::Connected));
        assert_eq!(u.get(1), None);
    }

    #[test]
    fn the_pointer_snaps_to_a_nearby_port_in_use() {
        let snap = Snapshot {
            sockets: vec![
                sock(8080, SockState::Listen),
                sock(8600, SockState::Listen),
                sock(8090, SockState::Listen),
            ],
            ..Snapshot::default()
        };
        let usage = PortUsage::of(&snap);
        let scale = PortScale::new(PortView::FULL, 0.0, 1024.0); // 64 ports per pixel
        let x = scale.x_center(8080);
        assert_eq!(usage.nearest_in_use(&scale, x - 3.0, 4.0), Some(8080));
        let x600 = scale.x_center(8600);
        assert_eq!(usage.nearest_in_use(&scale, x600 + 2.0, 4.0), Some(8600));
        assert_eq!(usage.nearest_in_use(&scale, x + 30.0, 4.0), None);
        // Zoomed in, ports are wide blocks: the port under the pointer is what counts.
        let zoomed = PortScale::new(PortView::new(8000.0, 8100.0), 0.0, 1000.0);
        assert_eq!(
            usage.nearest_in_use(&zoomed, zoomed.x_center(8085), 4.0),
            None
        );
        assert_eq!(
            usage.nearest_in_use(&zoomed, zoomed.x_center(8090) + 3.0, 4.0),
            Some(8090)
        );
    }

    #[test]
    fn gauge_counts_ports_of_the_ephemeral_range_by_state() {
        let mut snap = Snapshot {
            sockets: vec![
                sock(40000, SockState::TimeWait),
                sock(40000, SockState::Established),
                sock(40001, SockState::TimeWait),
                sock(8080, SockState::Listen),
            ],
            ..Snapshot::default()
        };
        snap.ephemeral =
            EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok(String::new()));
        let g = EphemeralGauge::of(&snap);
        assert_eq!(g.ports_in_use, 2);
        assert_eq!(g.range_size, 28_232);
        assert_eq!(g.by_state, vec![("TIME_WAIT", 2), ("ESTABLISHED", 1)]);
        assert!(g.summary().contains("2 of 28232"));
    }
}

//! The geometry of the port range bar: a pure mapping between port numbers and x positions,
//! with zoom and pan. Painting lives in `port_bar`; this part is plain arithmetic with tests.
//!
//! Port `p` owns the half-open span `[p, p + 1)` of the axis, so at high zoom a port is a
//! block you can click, and unzoomed 65,536 ports share the bar's pixels.

use std::ops::RangeInclusive;

/// Number of distinct ports, 0 through 65535.
pub const PORT_COUNT: f64 = 65_536.0;
/// The narrowest view: this many ports across the bar.
pub const MIN_SPAN: f64 = 32.0;

/// The part of the port axis on show: `[lo, hi)` in port units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PortView {
    lo: f64,
    hi: f64,
}

impl Default for PortView {
    fn default() -> Self {
        PortView::FULL
    }
}

impl PortView {
    pub const FULL: PortView = PortView {
        lo: 0.0,
        hi: PORT_COUNT,
    };

    /// A view of `[lo, hi)`, kept within the axis and at least [`MIN_SPAN`] wide.
    pub fn new(lo: f64, hi: f64) -> PortView {
        let span = (hi - lo).clamp(MIN_SPAN, PORT_COUNT);
        let lo = lo.clamp(0.0, PORT_COUNT - span);
        PortView { lo, hi: lo + span }
    }

    pub fn lo(&self) -> f64 {
        self.lo
    }

    pub fn hi(&self) -> f64 {
        self.hi
    }

    pub fn span(&self) -> f64 {
        self.hi - self.lo
    }

    pub fn is_full(&self) -> bool {
        *self == PortView::FULL
    }

    /// Zoom by `factor` (> 1 zooms in) keeping the axis point `anchor` where it is.
    pub fn zoomed(&self, anchor: f64, factor: f64) -> PortView {
        if !factor.is_finite() || factor <= 0.0 {
            return *self;
        }
        let span = (self.span() / factor).clamp(MIN_SPAN, PORT_COUNT);
        let t = ((anchor - self.lo) / self.span()).clamp(0.0, 1.0);
        PortView::new(anchor - t * span, anchor - t * span + span)
    }

    /// Move the view by `ports` along the axis (positive: towards 65535).
    pub fn panned(&self, ports: f64) -> PortView {
        if !ports.is_finite() {
            return *self;
        }
        PortView::new(self.lo + ports, self.hi + ports)
    }

    /// A view centred on `port` showing `span` ports.
    pub fn around(port: u16, span: f64) -> PortView {
        let centre = f64::from(port) + 0.5;
        PortView::new(centre - span / 2.0, centre + span / 2.0)
    }
}

/// A view laid over a horizontal pixel range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PortScale {
    pub view: PortView,
    pub left: f32,
    pub width: f32,
}

impl PortScale {
    pub fn new(view: PortView, left: f32, width: f32) -> PortScale {
        PortScale {
            view,
            left,
            width: width.max(1.0),
        }
    }

    pub fn pixels_per_port(&self) -> f64 {
        f64::from(self.width) / self.view.span()
    }

    /// x of an axis position (a port number, possibly fractional).
    pub fn x_at(&self, axis: f64) -> f32 {
        (f64::from(self.left) + (axis - self.view.lo) * self.pixels_per_port()) as f32
    }

    /// x of the left edge of `port`'s span.
    pub fn x_of(&self, port: u16) -> f32 {
        self.x_at(f64::from(port))
    }

    /// x of the centre of `port`'s span.
    pub fn x_center(&self, port: u16) -> f32 {
        self.x_at(f64::from(port) + 0.5)
    }

    /// The axis position under `x`.
    pub fn axis_at(&self, x: f32) -> f64 {
        self.view.lo + f64::from(x - self.left) / self.pixels_per_port()
    }

    /// The port under `x`, clamped to the visible ports.
    pub fn port_at(&self, x: f32) -> u16 {
        let axis = self.axis_at(x).clamp(self.view.lo, self.view.hi - 1e-9);
        axis.floor().clamp(0.0, 65_535.0) as u16
    }

    /// The ports at least partly on show.
    pub fn visible_ports(&self) -> RangeInclusive<u16> {
        let lo = self.view.lo.floor().clamp(0.0, 65_535.0) as u16;
        let hi = (self.view.hi.ceil() - 1.0).clamp(0.0, 65_535.0) as u16;
        lo..=hi
    }

    /// The pixel column (0-based, from `left`) a port falls into, if it is on show.
    pub fn column_of(&self, port: u16) -> Option<usize> {
        if !self.visible_ports().contains(&port) {
            return None;
        }
        let col = (self.x_center(port) - self.left).floor();
        (col >= 0.0 && col < self.width).then_some(col as usize)
    }

    /// Group ports into pixel columns so that painting costs at most one mark per column,
    /// however many ports are in use. Returns `(column, value)` pairs with `merge` applied to
    /// values landing in the same column; ports off screen are dropped.
    pub fn bucket<T: Copy>(
        &self,
        ports: impl IntoIterator<Item = (u16, T)>,
        merge: impl Fn(T, T) -> T,
    ) -> Vec<(usize, T)> {
        let columns = self.width.ceil() as usize;
        let mut slots: Vec<Option<T>> = vec![None; columns.max(1)];
        for (port, value) in ports {
            if let Some(col) = self.column_of(port) {
                let slot = &mut slots[col.min(columns.saturating_sub(1))];
                *slot = Some(match *slot {
                    Some(old) => merge(old, value),
                    None => value,
                });
            }
        }
        slots
            .into_iter()
            .enumerate()
            .filter_map(|(col, v)| v.map(|v| (col, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_round_trips_through_its_centre_at_full_view() {
        let scale = PortScale::new(PortView::FULL, 10.0, 1200.0);
        // 65,536 ports on 1,200 px: many share a pixel, but the centre maps back exactly.
        for port in (0..=65_535u16)
            .step_by(97)
            .chain([0, 1023, 1024, 49_151, 49_152, 65_535])
        {
            let x = scale.x_center(port);
            assert_eq!(scale.port_at(x), port, "port {port} at x {x}");
        }
    }

    #[test]
    fn ends_of_the_bar_are_0_and_65535() {
        let scale = PortScale::new(PortView::FULL, 0.0, 1000.0);
        assert_eq!(scale.port_at(0.0), 0);
        assert_eq!(scale.port_at(-50.0), 0);
        assert_eq!(scale.port_at(1000.0), 65_535);
        assert_eq!(scale.port_at(5000.0), 65_535);
        assert_eq!(scale.x_of(0), 0.0);
        assert!((scale.x_at(PORT_COUNT) - 1000.0).abs() < 1e-3);
        assert_eq!(scale.visible_ports(), 0..=65_535);
    }

    #[test]
    fn zoomed_in_each_port_is_a_block_you_can_hit_anywhere() {
        let view = PortView::new(1000.0, 1064.0); // 64 ports on 640 px: 10 px each
        let scale = PortScale::new(view, 0.0, 640.0);
        assert_eq!(scale.port_at(0.0), 1000);
        assert_eq!(scale.port_at(9.9), 1000);
        assert_eq!(scale.port_at(10.0), 1001);
        assert_eq!(scale.port_at(639.0), 1063);
        assert_eq!(scale.column_of(1063), Some(635));
        assert_eq!(scale.column_of(1064), None);
        assert_eq!(scale.visible_ports(), 1000..=1063);
    }

    #[test]
    fn zoom_keeps_the_anchor_still_and_stays_in_bounds() {
        let view = PortView::FULL;
        let z = view.zoomed(20_000.0, 4.0);
        assert!((z.span() - PORT_COUNT / 4.0).abs() < 1e-6);
        let before = PortScale::new(view, 0.0, 800.0);
        let after = PortScale::new(z, 0.0, 800.0);
        let x = before.x_at(20_000.0);
        assert!((after.x_at(20_000.0) - x).abs() < 1e-3);
        // Zooming in forever stops at the minimum span; out forever at the full axis.
        let mut v = view;
        for _ in 0..100 {
            v = v.zoomed(65_530.0, 3.0);
        }
        assert!((v.span() - MIN_SPAN).abs() < 1e-9);
        assert!(v.hi() <= PORT_COUNT);
        for _ in 0..100 {
            v = v.zoomed(10.0, 0.3);
        }
        assert_eq!(v, PortView::FULL);
        // Nonsense factors change nothing.
        assert_eq!(view.zoomed(5.0, f64::NAN), view);
        assert_eq!(view.zoomed(5.0, -2.0), view);
    }

    #[test]
    fn pan_stops_at_the_ends() {
        let v = PortView::new(0.0, 1024.0);
        assert_eq!(v.panned(-500.0), v);
        let right = v.panned(1e9);
        assert_eq!(right.hi(), PORT_COUNT);
        assert_eq!(right.span(), 1024.0);
        assert_eq!(PortView::around(22, 64.0).lo(), 0.0);
        let a = PortView::around(60_296, 64.0);
        assert!(a.lo() < 60_296.0 && a.hi() > 60_297.0);
    }

    #[test]
    fn bucketing_merges_ports_sharing_a_pixel() {
        let scale = PortScale::new(PortView::FULL, 0.0, 64.0); // 1,024 ports per pixel
        let ports = (0..10_000u16).map(|p| (p, 1u32));
        let buckets = scale.bucket(ports, |a, b| a + b);
        assert_eq!(buckets.len(), 10); // 0..=9 full columns, column 9 partially
        assert_eq!(buckets[0], (0, 1024));
        assert_eq!(buckets.iter().map(|(_, n)| n).sum::<u32>(), 10_000);
        let zoomed = PortScale::new(PortView::new(100.0, 164.0), 0.0, 64.0);
        let b = zoomed.bucket([(99, 1u32), (100, 1), (163, 1), (164, 1)], |a, b| a + b);
        assert_eq!(b, vec![(0, 1), (63, 1)]);
    }
}

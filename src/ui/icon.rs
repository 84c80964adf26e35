//! The app's icon, drawn here rather than decoded from an image file: the port range bar in
//! small — the three IANA ranges, and two ports in use.
//!
//! One geometry, on a 64-unit square, gives the window's icon, the PNGs the package installs
//! at every hicolor size, and the scalable SVG; a test holds the files in `assets/icons/` to
//! what this code draws, so they never drift from it.

use egui::IconData;

/// The side of the square the shapes are drawn on, in design units.
const DESIGN: f32 = 64.0;
/// The rounded square's corner radius, in design units.
const CORNER: f32 = 10.0;

/// The window's icon size, in pixels.
const WINDOW_SIZE: u32 = 64;

/// The sizes a desktop's hicolor theme looks for, in pixels.
pub const HICOLOR_SIZES: [u32; 9] = [16, 22, 24, 32, 48, 64, 128, 256, 512];

/// The range colours of the bar, as in the window's dark theme.
const WELL_KNOWN: [u8; 3] = [52, 84, 140];
const REGISTERED: [u8; 3] = [44, 98, 72];
const DYNAMIC: [u8; 3] = [120, 84, 40];
const BACKGROUND: [u8; 3] = [30, 34, 42];
const TICK: [u8; 3] = [235, 238, 245];

/// A filled rectangle: left, top, right, bottom in design units, and its colour.
struct Shape {
    x: [f32; 2],
    y: [f32; 2],
    rgb: [u8; 3],
}

/// What lies on the background, bottom first.
const SHAPES: [Shape; 5] = [
    Shape {
        x: [8.0, 18.0],
        y: [22.0, 42.0],
        rgb: WELL_KNOWN,
    },
    Shape {
        x: [18.0, 42.0],
        y: [22.0, 42.0],
        rgb: REGISTERED,
    },
    Shape {
        x: [42.0, 56.0],
        y: [22.0, 42.0],
        rgb: DYNAMIC,
    },
    // Two ports in use: a listener (tall) among the registered ports, a connection among
    // the dynamic ones.
    Shape {
        x: [25.0, 27.0],
        y: [14.0, 42.0],
        rgb: TICK,
    },
    Shape {
        x: [46.0, 48.0],
        y: [22.0, 42.0],
        rgb: TICK,
    },
];

/// The window's icon.
pub fn icon() -> IconData {
    draw(WINDOW_SIZE)
}

/// The icon as `size`×`size` RGBA pixels. Each pixel averages a grid of samples, so edges that
/// fall inside a pixel (small sizes, the rounded corners) are blended rather than jagged.
pub fn draw(size: u32) -> IconData {
    const SAMPLES: u32 = 4;
    let scale = DESIGN / size as f32;
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    for py in 0..size {
        for px in 0..size {
            let (mut sum, mut inside) = ([0u32; 3], 0u32);
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let x = (px as f32 + (sx as f32 + 0.5) / SAMPLES as f32) * scale;
                    let y = (py as f32 + (sy as f32 + 0.5) / SAMPLES as f32) * scale;
                    if let Some(rgb) = colour_at(x, y) {
                        inside += 1;
                        for (s, c) in sum.iter_mut().zip(rgb) {
                            *s += u32::from(c);
                        }
                    }
                }
            }
            if inside == 0 {
                rgba.extend_from_slice(&[0, 0, 0, 0]);
                continue;
            }
            let average = |s: u32| ((s + inside / 2) / inside) as u8;
            let total = SAMPLES * SAMPLES;
            rgba.extend_from_slice(&[
                average(sum[0]),
                average(sum[1]),
                average(sum[2]),
                ((inside * 255 + total / 2) / total) as u8,
            ]);
        }
    }
    IconData {
        rgba,
        width: size,
        height: size,
    }
}

/// The colour at a point in design units; `None` outside the rounded square.
fn colour_at(x: f32, y: f32) -> Option<[u8; 3]> {
    let cx = x.clamp(CORNER, DESIGN - CORNER);
    let cy = y.clamp(CORNER, DESIGN - CORNER);
    if (x - cx).powi(2) + (y - cy).powi(2) > CORNER * CORNER {
        return None;
    }
    let on = SHAPES
        .iter()
        .rev()
        .find(|s| (s.x[0]..s.x[1]).contains(&x) && (s.y[0]..s.y[1]).contains(&y));
    Some(on.map_or(BACKGROUND, |s| s.rgb))
}

/// The icon as an SVG document: the same shapes, for the scalable size.
pub fn svg() -> String {
    let hex = |[r, g, b]: [u8; 3]| format!("#{r:02x}{g:02x}{b:02x}");
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{DESIGN}\" height=\"{DESIGN}\" \
         viewBox=\"0 0 {DESIGN} {DESIGN}\">\n  <title>portscope</title>\n  \
         <rect width=\"{DESIGN}\" height=\"{DESIGN}\" rx=\"{CORNER}\" fill=\"{}\"/>\n",
        hex(BACKGROUND)
    );
    for s in &SHAPES {
        out.push_str(&format!(
            "  <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
            s.x[0],
            s.y[0],
            s.x[1] - s.x[0],
            s.y[1] - s.y[0],
            hex(s.rgb)
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(icon: &IconData, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * icon.width + x) * 4) as usize;
        icon.rgba[i..i + 4].try_into().unwrap()
    }

    #[test]
    fn the_icon_is_a_whole_square_image_with_clear_corners() {
        let icon = icon();
        assert_eq!((icon.width, icon.height), (WINDOW_SIZE, WINDOW_SIZE));
        assert_eq!(icon.rgba.len(), (WINDOW_SIZE * WINDOW_SIZE * 4) as usize);
        assert_eq!(at(&icon, 0, 0)[3], 0, "corners are transparent");
        assert_eq!(at(&icon, WINDOW_SIZE - 1, WINDOW_SIZE - 1)[3], 0);
        assert_eq!(at(&icon, 32, 5), [30, 34, 42, 255]);
        assert_eq!(at(&icon, 10, 30)[..3], WELL_KNOWN);
        assert_eq!(at(&icon, 30, 30)[..3], REGISTERED);
        assert_eq!(at(&icon, 50, 30)[..3], DYNAMIC);
        assert_eq!(at(&icon, 25, 16)[..3], TICK);
        assert_eq!(at(&icon, 46, 30)[..3], TICK);
    }

    #[test]
    fn every_size_draws_the_same_picture() {
        for size in HICOLOR_SIZES {
            let icon = draw(size);
            assert_eq!(icon.rgba.len(), (size * size * 4) as usize);
            // The same design point lands on the same colour at every size.
            let point =
                |x: f32, y: f32| at(&icon, (x * size as f32) as u32, (y * size as f32) as u32);
            assert!(
                point(0.0, 0.0)[3] < 64,
                "{size}: the corner is (nearly) clear"
            );
            assert_eq!(point(0.5, 0.1), [30, 34, 42, 255], "{size}: background");
            assert_eq!(point(0.14, 0.5)[..3], WELL_KNOWN, "{size}");
            assert_eq!(point(0.5, 0.5)[..3], REGISTERED, "{size}");
            assert_eq!(point(0.8, 0.5)[..3], DYNAMIC, "{size}");
        }
        // A tick narrower than a pixel is blended in, not lost.
        let small = draw(16);
        let tick_column = at(&small, 6, 8);
        assert!(tick_column[0] > REGISTERED[0] + 40, "{tick_column:?}");
    }

    #[test]
    fn the_svg_has_every_shape_in_its_colour() {
        let svg = svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("rx=\"10\" fill=\"#1e222a\""), "{svg}");
        assert!(
            svg.contains("<rect x=\"25\" y=\"14\" width=\"2\" height=\"28\" fill=\"#ebeef5\"/>")
        );
        assert_eq!(svg.matches("<rect").count(), 1 + SHAPES.len());
    }
}

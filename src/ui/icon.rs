//! The window's icon, drawn here rather than decoded from an image file: the port range bar
//! in small — the three IANA ranges, and two ports in use.

use egui::IconData;

const SIZE: u32 = 64;

/// The range colours of the bar, as in the window's dark theme.
const WELL_KNOWN: [u8; 3] = [52, 84, 140];
const REGISTERED: [u8; 3] = [44, 98, 72];
const DYNAMIC: [u8; 3] = [120, 84, 40];
const BACKGROUND: [u8; 3] = [30, 34, 42];
const TICK: [u8; 3] = [235, 238, 245];

pub fn icon() -> IconData {
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            rgba.extend_from_slice(&pixel(x, y));
        }
    }
    IconData {
        rgba,
        width: SIZE,
        height: SIZE,
    }
}

fn pixel(x: u32, y: u32) -> [u8; 4] {
    if !inside_rounded_square(x, y) {
        return [0, 0, 0, 0];
    }
    let [r, g, b] = if (22..42).contains(&y) && (8..56).contains(&x) {
        match x {
            // Two ports in use: a listener among the registered ports, a connection among
            // the dynamic ones.
            25 | 26 | 46 | 47 => TICK,
            8..18 => WELL_KNOWN,
            18..42 => REGISTERED,
            _ => DYNAMIC,
        }
    } else if (14..22).contains(&y) && (x == 25 || x == 26) {
        TICK
    } else {
        BACKGROUND
    };
    [r, g, b, 255]
}

/// A square with corners rounded by 10 pixels.
fn inside_rounded_square(x: u32, y: u32) -> bool {
    const R: i64 = 10;
    let (x, y, last) = (i64::from(x), i64::from(y), i64::from(SIZE) - 1);
    let cx = x.clamp(R, last - R);
    let cy = y.clamp(R, last - R);
    (x - cx).pow(2) + (y - cy).pow(2) <= R * R
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_is_a_whole_square_image_with_clear_corners() {
        let icon = icon();
        assert_eq!((icon.width, icon.height), (SIZE, SIZE));
        assert_eq!(icon.rgba.len(), (SIZE * SIZE * 4) as usize);
        let at = |x: u32, y: u32| {
            let i = ((y * SIZE + x) * 4) as usize;
            &icon.rgba[i..i + 4]
        };
        assert_eq!(at(0, 0)[3], 0, "corners are transparent");
        assert_eq!(at(SIZE - 1, SIZE - 1)[3], 0);
        assert_eq!(at(32, 5), [30, 34, 42, 255]);
        assert_eq!(at(10, 30)[..3], WELL_KNOWN);
        assert_eq!(at(30, 30)[..3], REGISTERED);
        assert_eq!(at(50, 30)[..3], DYNAMIC);
        assert_eq!(at(25, 16)[..3], TICK);
    }
}

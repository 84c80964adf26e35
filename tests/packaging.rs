//! What the Debian package installs besides the binary — icons, man pages, shell completions,
//! the desktop entry and the AppStream metainfo — checked without installing it.
//!
//! The icons, man pages and completions are generated from the code (the icon's geometry, the
//! clap definition) and committed in `assets/`, so `cargo deb` needs no build step of its own.
//! These tests regenerate them and fail when the committed files drift; with
//! `PORTSCOPE_UPDATE_ASSETS=1` they write them instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use portscope::cli::Cli;
use portscope::ui::icon;

const UPDATE: &str = "PORTSCOPE_UPDATE_ASSETS";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os(UPDATE).is_some_and(|v| v == "1")
}

fn stale(path: &Path, why: &str) -> ! {
    panic!(
        "{} {why}: regenerate the assets with `{UPDATE}=1 cargo test --test packaging` and commit them",
        path.display()
    )
}

/// Hold the files under `dir` (relative to the repository) to `expected`, name by name: none
/// missing, none extra, each with the same content by `same`.
fn check_dir(dir: &str, expected: &BTreeMap<String, Vec<u8>>, same: fn(&[u8], &[u8]) -> bool) {
    let dir = repo().join(dir);
    if updating() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && !expected.contains_key(file_name(&path)) {
                std::fs::remove_file(&path).unwrap();
            }
        }
        for (name, bytes) in expected {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| stale(&dir, &format!("cannot be read ({e})")))
        .map(|e| file_name(&e.unwrap().path()).to_owned())
        .collect();
    found.sort();
    let wanted: Vec<String> = expected.keys().cloned().collect();
    if found != wanted {
        stale(&dir, &format!("holds {found:?}, the code makes {wanted:?}"));
    }
    for (name, bytes) in expected {
        let path = dir.join(name);
        let committed = std::fs::read(&path).unwrap();
        if !same(&committed, bytes) {
            stale(&path, "differs from what the code makes");
        }
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a == b
}

fn encode_png(image: &egui::IconData) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&image.rgba).unwrap();
    writer.finish().unwrap();
    out
}

fn decode_png(bytes: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut pixels).ok()?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    pixels.truncate(info.buffer_size());
    Some((info.width, info.height, pixels))
}

/// PNGs are compared by their pixels, so another encoder's bytes do not count as drift.
fn same_pixels(committed: &[u8], made: &[u8]) -> bool {
    decode_png(committed).is_some() && decode_png(committed) == decode_png(made)
}

fn generated_man_pages() -> BTreeMap<String, Vec<u8>> {
    fn render(cmd: clap::Command, out: &mut BTreeMap<String, Vec<u8>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            render(sub, out);
        }
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page).unwrap();
        out.insert(man.get_filename(), page);
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = BTreeMap::new();
    render(cmd, &mut pages);
    pages
}

#[test]
fn the_committed_icons_are_what_the_code_draws() {
    for size in icon::HICOLOR_SIZES {
        let png = encode_png(&icon::draw(size));
        let decoded = decode_png(&png).unwrap();
        assert_eq!((decoded.0, decoded.1), (size, size));
        let files = BTreeMap::from([("portscope.png".to_owned(), png)]);
        check_dir(
            &format!("assets/icons/hicolor/{size}x{size}/apps"),
            &files,
            same_pixels,
        );
    }
    let svg = BTreeMap::from([("portscope.svg".to_owned(), icon::svg().into_bytes())]);
    check_dir("assets/icons/hicolor/scalable/apps", &svg, equal);
}

#[test]
fn the_committed_man_pages_are_what_the_cli_defines() {
    check_dir("assets/man", &generated_man_pages(), equal);
}

#[test]
fn the_committed_completions_are_what_the_cli_defines() {
    use clap_complete::Shell;
    let mut files = BTreeMap::new();
    for (shell, name) in [
        (Shell::Bash, "portscope.bash"),
        (Shell::Zsh, "_portscope"),
        (Shell::Fish, "portscope.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "portscope", &mut script);
        files.insert(name.to_owned(), script);
    }
    check_dir("assets/completions", &files, equal);
}

/// The visible subcommands, as a user would type them.
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .collect()
}

#[test]
fn the_man_page_names_every_subcommand_and_each_has_its_own() {
    let pages = generated_man_pages();
    let main = String::from_utf8(pages["portscope.1"].clone()).unwrap();
    assert!(main.contains(env!("CARGO_PKG_VERSION")), "{main}");
    let names = subcommands();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        assert!(
            main.contains(&format!("portscope\\-{name}(1)")),
            "portscope.1 does not list {name}"
        );
        let page = format!("portscope-{name}.1");
        let text = String::from_utf8(pages[&page].clone()).unwrap();
        let about = Cli::command()
            .find_subcommand(&name)
            .and_then(|c| c.get_about().map(|a| a.to_string()))
            .unwrap();
        // Its NAME line, as `man -k` and `apropos` read it (roff escapes the hyphens).
        let first_word = about.split_whitespace().next().unwrap();
        let name_line = format!("portscope\\-{name} \\- {first_word} ");
        assert!(
            text.contains(&name_line),
            "{page} lacks '{name_line}':\n{text}"
        );
    }
    // The hidden tools for measuring the window stay out of the manual.
    assert!(!main.contains("generated"), "{main}");
}

/// Run a validator on a file; `None` (with a message) when the validator is not installed.
fn validate(program: &str, args: &[&str], file: &Path) -> Option<std::process::Output> {
    match Command::new(program).args(args).arg(file).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "SKIPPED: {program} is not installed (Debian: apt-get install desktop-file-utils appstream)"
            );
            None
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

#[test]
fn the_desktop_entry_validates_and_launches_the_binary() {
    let file = repo().join("assets/portscope.desktop");
    let text = std::fs::read_to_string(&file).unwrap();
    for line in [
        "Exec=portscope",
        "Icon=portscope",
        "Categories=Network;System;Monitor;",
        "Terminal=false",
    ] {
        assert!(text.lines().any(|l| l == line), "no '{line}' in:\n{text}");
    }
    assert!(text.contains("\nKeywords=port;socket;netstat;"), "{text}");
    if let Some(out) = validate("desktop-file-validate", &[], &file) {
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}");
        assert!(!said.contains("error:"), "{said}");
    }
}

#[test]
fn the_metainfo_validates_and_matches_the_package() {
    let file = repo().join("assets/io.github.portscope.portscope.metainfo.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    let version = format!("<release version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        text.contains(&version),
        "the metainfo's newest release is not {version}"
    );
    assert!(text.contains("<launchable type=\"desktop-id\">portscope.desktop</launchable>"));
    assert!(text.contains("<binary>portscope</binary>"));
    assert!(text.contains("/docs/screenshot.png</image>"));
    assert!(repo().join("docs/screenshot.png").is_file());
    if let Some(out) = validate(
        "appstreamcli",
        &["validate", "--no-net", "--pedantic"],
        &file,
    ) {
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}");
    }
}

/// Every file `[package.metadata.deb]` names exists, and the package installs each kind of
/// file where a Debian desktop looks for it.
#[test]
fn the_package_installs_every_asset_where_the_desktop_looks() {
    let manifest: toml::Table = std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap();
    let mut installed: Vec<(PathBuf, String)> = Vec::new();
    for asset in assets {
        let [source, target, _mode] = asset.as_array().unwrap().as_slice() else {
            panic!("an asset is [source, target, mode]: {asset:?}");
        };
        let (source, target) = (source.as_str().unwrap(), target.as_str().unwrap());
        // The binary is built by `cargo deb` itself.
        let matched = if source.starts_with("target/release/") {
            vec![PathBuf::from(source)]
        } else {
            expand(source)
        };
        assert!(!matched.is_empty(), "{source} matches no file");
        for path in matched {
            let to = if target.ends_with('/') {
                format!("{target}{}", file_name(&path))
            } else {
                target.to_owned()
            };
            installed.push((path, to));
        }
    }
    let targets: Vec<&str> = installed.iter().map(|(_, t)| t.as_str()).collect();
    let mut wanted = vec![
        "usr/bin/portscope".to_owned(),
        "usr/share/applications/portscope.desktop".to_owned(),
        "usr/share/metainfo/io.github.portscope.portscope.metainfo.xml".to_owned(),
        "usr/share/polkit-1/actions/io.github.portscope.portscope.policy".to_owned(),
        "usr/share/icons/hicolor/scalable/apps/portscope.svg".to_owned(),
        "usr/share/bash-completion/completions/portscope".to_owned(),
        "usr/share/zsh/vendor-completions/_portscope".to_owned(),
        "usr/share/fish/vendor_completions.d/portscope.fish".to_owned(),
        "usr/share/man/man1/portscope.1".to_owned(),
    ];
    for size in icon::HICOLOR_SIZES {
        wanted.push(format!(
            "usr/share/icons/hicolor/{size}x{size}/apps/portscope.png"
        ));
    }
    for name in subcommands() {
        wanted.push(format!("usr/share/man/man1/portscope-{name}.1"));
    }
    for want in &wanted {
        assert!(
            targets.contains(&want.as_str()),
            "the package does not install {want}: {targets:?}"
        );
    }
    // Each icon goes to the folder of its own size.
    for (source, target) in &installed {
        if let Some(rest) = source
            .to_str()
            .and_then(|s| s.strip_prefix("assets/icons/"))
        {
            assert_eq!(format!("usr/share/icons/{rest}"), *target);
        }
    }
}

/// The polkit action lets `pkexec` run exactly the installed binary's helper, asking for an
/// administrator's password once a while.
#[test]
fn the_polkit_policy_allows_only_the_installed_helper() {
    let policy =
        std::fs::read_to_string(repo().join("assets/io.github.portscope.portscope.policy"))
            .unwrap();
    for wanted in [
        r#"<action id="io.github.portscope.portscope.helper">"#,
        r#"<annotate key="org.freedesktop.policykit.exec.path">/usr/bin/portscope</annotate>"#,
        r#"<annotate key="org.freedesktop.policykit.exec.argv1">helper</annotate>"#,
        "<allow_active>auth_admin_keep</allow_active>",
    ] {
        assert!(policy.contains(wanted), "the policy lacks {wanted}");
    }
    assert_eq!(policy.matches("<action ").count(), 1);
    assert!(
        !policy.contains(">yes<"),
        "the policy must never allow without a password"
    );
}

/// The files a cargo-deb source names: a path, or a `*` in its last component.
fn expand(source: &str) -> Vec<PathBuf> {
    let path = Path::new(source);
    let name = file_name(path);
    let Some((prefix, suffix)) = name.split_once('*') else {
        return if repo().join(path).is_file() {
            vec![path.to_owned()]
        } else {
            vec![]
        };
    };
    let dir = path.parent().unwrap();
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = file_name(p);
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .map(|p| dir.join(file_name(&p)))
        .collect();
    found.sort();
    found
}

#[test]
fn the_bash_completion_loads_and_offers_the_subcommands() {
    let file = repo().join("assets/completions/portscope.bash");
    let script = format!(
        "source '{}' && COMP_WORDS=(portscope '') && COMP_CWORD=1 && _portscope portscope '' portscope \
         && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = match Command::new("bash").arg("-c").arg(&script).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: bash is not installed");
            return;
        }
        Err(e) => panic!("cannot run bash: {e}"),
    };
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in subcommands() {
        assert!(
            offered.lines().any(|l| l == name),
            "bash does not offer {name}: {offered}"
        );
    }
}

//! How a remote address's name from reverse DNS is shown: beside the address, never instead
//! of it. The address stays what the table sorts, filters, copies and exports; the name is a
//! hint next to it, shown only once it is confirmed (see [`crate::act::dns`]). Exports and
//! the details panel carry the address alone.

use std::net::IpAddr;

use crate::act::dns::Lookup;
use crate::model::text::escape;

/// The text a resolved name is shown as. Every name reaches the screen through here: it is
/// text from a stranger's DNS server (checked to be a host name, still to be treated as
/// hostile).
pub(crate) fn shown_name(name: &str) -> String {
    escape(name).into_owned()
}

/// The remote address cell: its text, and what hovering over it says.
pub(crate) fn remote_address(addr: IpAddr, lookup: Option<&Lookup>) -> (String, Option<String>) {
    let hover = match lookup {
        Some(Lookup::Name(name)) => {
            let name = shown_name(name);
            return (
                format!("{addr} ({name})"),
                Some(format!(
                    "{addr}: its reverse DNS name {name} resolves back to it"
                )),
            );
        }
        Some(Lookup::Pending) => "looking up its name…".to_owned(),
        Some(Lookup::TimedOut) => "reverse DNS timed out".to_owned(),
        Some(Lookup::Failed(why)) => format!("reverse DNS failed: {}", escape(why)),
        Some(Lookup::NoName) => "no name in reverse DNS".to_owned(),
        Some(Lookup::Unconfirmed) => {
            "its reverse DNS name does not resolve back to it, so it is not shown".to_owned()
        }
        Some(Lookup::Off) | None => return (addr.to_string(), None),
    };
    (addr.to_string(), Some(hover))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::dns::{Config, Resolver};
    use crate::collect::Poll;
    use crate::model::{Proto, Snapshot, SockState, Socket};
    use crate::ui::{PortscopeApp, Prefs};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::time::{Duration, Instant};

    fn addr(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_name_goes_beside_the_address() {
        let a = addr("203.0.113.5");
        let named = Lookup::Name("www.example.org".into());
        assert_eq!(
            remote_address(a, Some(&named)).0,
            "203.0.113.5 (www.example.org)"
        );
        for other in [
            Lookup::Off,
            Lookup::Pending,
            Lookup::NoName,
            Lookup::Unconfirmed,
            Lookup::TimedOut,
            Lookup::Failed("SERVFAIL".into()),
        ] {
            assert_eq!(
                remote_address(a, Some(&other)).0,
                "203.0.113.5",
                "{other:?}"
            );
        }
        assert_eq!(remote_address(a, None), ("203.0.113.5".to_owned(), None));
    }

    fn connection(remote: &str, local_port: u16) -> Socket {
        Socket {
            host: 0,
            proto: Proto::Tcp,
            local_addr: addr("192.168.1.20"),
            local_port,
            remote_addr: Some(addr(remote)),
            remote_port: Some(443),
            state: SockState::Established,
            pids: Default::default(),
            uid: Some(1000),
            inode: Some(u32::from(local_port)),
            cookie: 0,
            recv_q: 0,
            send_q: 0,
            netns: 0,
        }
    }

    #[test]
    fn the_table_shows_a_confirmed_name_beside_the_address_and_no_other() {
        let poll = Poll {
            sockets: vec![
                connection("203.0.113.5", 50001),
                connection("198.51.100.7", 50002),
            ],
            ..Poll::default()
        };
        let snapshot = Snapshot::from_poll(
            1,
            std::time::SystemTime::now(),
            Duration::from_millis(1),
            poll,
        );
        let prefs = Prefs {
            resolve_names: true,
            ..Prefs::default()
        };
        let mut app = PortscopeApp::from_snapshot(snapshot, prefs);
        // A made-up zone: one honest PTR record, one that claims a name it does not own.
        let zone = (
            |a: IpAddr| {
                Ok(Some(match a.to_string().as_str() {
                    "203.0.113.5" => "www.example.org".to_owned(),
                    _ => "login.yourbank.example".to_owned(),
                }))
            },
            |name: &str| match name {
                "www.example.org" => Ok(vec!["203.0.113.5".parse().unwrap()]),
                _ => Ok(vec!["192.0.2.1".parse().unwrap()]),
            },
        );
        app.resolver = Some(Resolver::with_config(Config::default(), zone, || {}));
        let mut h = Harness::builder()
            .with_size([1280.0, 800.0])
            .with_context_setup(crate::ui::setup_context)
            .build_ui_state(|ui, app: &mut PortscopeApp| app.ui(ui), app);
        let start = Instant::now();
        let settled = |h: &Harness<'_, PortscopeApp>| {
            let r = h.state().resolver.as_ref().unwrap();
            [addr("203.0.113.5"), addr("198.51.100.7")]
                .iter()
                .all(|a| !matches!(r.lookup(*a), Lookup::Pending | Lookup::Off))
        };
        loop {
            h.run();
            if settled(&h) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no answers");
            std::thread::sleep(Duration::from_millis(5));
        }
        h.run();
        h.get_by_label("203.0.113.5 (www.example.org)");
        h.get_by_label("198.51.100.7");
        assert!(h.query_by_label_contains("yourbank").is_none());
        assert!(h.query_by_label("www.example.org").is_none());
    }
}

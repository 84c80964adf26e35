//! Whether a port number is a good choice for a new service — the same judgement for the
//! explanation of a port and for `portscope free`, which offers only ports it calls good.
//!
//! A good port is one nothing else is likely to want: outside the ephemeral range (the OS
//! would hand it to outgoing connections) and the reserved list (reserved for something
//! already), not registered with IANA for *any* transport (a TCP registration usually has a
//! UDP twin, and software that speaks one often binds both), not a port well-known software
//! uses by habit (our notes: 3000, 5173, 8080…), and at 1024 or above (below needs root).
//! Whether something uses the port now is for the caller to say: it changes by the second.

use serde::Serialize;

use super::ephemeral::EphemeralRange;
use super::iana::{EntryKind, iana_entries_iter};
use super::notes::note;

/// The verdict on a port as the home of a new service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewServiceChoice {
    pub good: bool,
    /// Why not, one short clause each; empty when good.
    pub reasons: Vec<String>,
}

impl NewServiceChoice {
    /// One sentence: "A good choice for a new service: …" or "Not a good choice for a new
    /// service: …".
    pub fn sentence(&self) -> String {
        if self.good {
            "A good choice for a new service: outside the ephemeral range and the reserved \
             ports, not registered with IANA, and not a port well-known software uses by habit."
                .to_owned()
        } else {
            format!(
                "Not a good choice for a new service: {}.",
                self.reasons.join("; ")
            )
        }
    }
}

/// Judges `port` for a new service, against the ephemeral range `ephemeral`.
pub fn judge(port: u16, ephemeral: &EphemeralRange) -> NewServiceChoice {
    let mut reasons = Vec::new();
    if port == 0 {
        reasons.push("port 0 asks the OS for any free port".to_owned());
    } else if port < 1024 {
        reasons.push("below 1024, only root may listen on it".to_owned());
    }
    if ephemeral.may_hand_out(port) {
        reasons.push(format!(
            "it lies inside the ephemeral range {}–{}, so the OS may give it to an outgoing \
             connection",
            ephemeral.start, ephemeral.end
        ));
    }
    if ephemeral.is_reserved(port) {
        reasons.push(
            "it is on this machine's reserved list (ip_local_reserved_ports), kept for some \
             service"
                .to_owned(),
        );
    }
    let mut names: Vec<&str> = Vec::new();
    let mut iana_reserved = false;
    for entry in iana_entries_iter(port, None) {
        match entry.kind {
            EntryKind::Assigned => {
                let name = entry.service_name.as_deref().unwrap_or("a service");
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            EntryKind::Reserved => iana_reserved = true,
            EntryKind::Unassigned => {}
        }
    }
    if !names.is_empty() {
        names.truncate(3);
        reasons.push(format!("IANA assigns it to {}", names.join(", ")));
    } else if iana_reserved {
        reasons.push("IANA keeps it reserved".to_owned());
    }
    if let Some(note) = note(port, None) {
        reasons.push(format!("it is the usual port of {}", note.title));
    }
    NewServiceChoice {
        good: reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> EphemeralRange {
        EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok("62000".into()))
    }

    #[test]
    fn each_reason_on_its_own() {
        let range = linux();
        let reasons = |port| judge(port, &range).reasons;
        assert!(reasons(0)[0].contains("port 0"));
        assert!(reasons(22).iter().any(|r| r.contains("below 1024")));
        assert!(reasons(22).iter().any(|r| r == "IANA assigns it to ssh"));
        assert!(
            reasons(44300)
                .iter()
                .any(|r| r.contains("inside the ephemeral range"))
        );
        assert!(reasons(62000).iter().any(|r| r.contains("reserved list")));
        // 5173 is unassigned, but Vite serves there.
        assert_eq!(reasons(5173), ["it is the usual port of Vite dev server"]);
        assert!(judge(61000, &range).good, "{:?}", reasons(61000));
        assert_eq!(
            judge(61000, &range).sentence(),
            "A good choice for a new service: outside the ephemeral range and the reserved \
             ports, not registered with IANA, and not a port well-known software uses by habit."
        );
        assert!(
            judge(44300, &range)
                .sentence()
                .starts_with("Not a good choice for a new service: it lies inside")
        );
    }

    #[test]
    fn a_registration_for_any_transport_rules_a_port_out() {
        // Find a port registered for one transport only and check it is ruled out for both.
        let range = linux();
        let one_sided = (1024..=32767u16).find(|&p| {
            let tcp = iana_entries_iter(p, Some(super::super::Transport::Tcp))
                .any(|e| e.kind == EntryKind::Assigned);
            let udp = iana_entries_iter(p, Some(super::super::Transport::Udp))
                .any(|e| e.kind == EntryKind::Assigned);
            tcp != udp
        });
        let port = one_sided.expect("some port is registered for one transport only");
        assert!(!judge(port, &range).good, "{port}");
    }
}

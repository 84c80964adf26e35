//! Quick toggles beside the filter box: common narrowings one click away.

use serde::{Deserialize, Serialize};

use super::{Proto, SockState, Socket};

/// Which sockets to show. The default shows everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Toggles {
    /// Only listening TCP sockets and unconnected UDP sockets.
    pub listening_only: bool,
    pub tcp: bool,
    pub udp: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub hide_time_wait: bool,
}

impl Default for Toggles {
    fn default() -> Self {
        Toggles {
            listening_only: false,
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            hide_time_wait: false,
        }
    }
}

impl Toggles {
    pub fn matches(&self, s: &Socket) -> bool {
        let proto = match s.proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
        };
        let family = if s.local_addr.is_ipv4() {
            self.ipv4
        } else {
            self.ipv6
        };
        proto
            && family
            && (!self.listening_only || s.state.is_listening())
            && !(self.hide_time_wait && s.state == SockState::TimeWait)
    }

    pub fn is_default(&self) -> bool {
        *self == Toggles::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn sock(proto: Proto, v6: bool, state: SockState) -> Socket {
        Socket {
            host: 0,
            proto,
            local_addr: if v6 {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            },
            local_port: 1,
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
    fn each_toggle_narrows_what_it_says() {
        let all = Toggles::default();
        let tw = sock(Proto::Tcp, false, SockState::TimeWait);
        let udp6 = sock(Proto::Udp, true, SockState::Unconn);
        let listen = sock(Proto::Tcp, false, SockState::Listen);
        assert!(all.matches(&tw) && all.matches(&udp6) && all.matches(&listen));
        let t = Toggles {
            hide_time_wait: true,
            ..all
        };
        assert!(!t.matches(&tw) && t.matches(&listen));
        let t = Toggles {
            listening_only: true,
            ..all
        };
        assert!(!t.matches(&tw) && t.matches(&udp6) && t.matches(&listen));
        let t = Toggles { udp: false, ..all };
        assert!(!t.matches(&udp6) && t.matches(&tw));
        let t = Toggles { ipv6: false, ..all };
        assert!(!t.matches(&udp6) && t.matches(&listen));
        let t = Toggles {
            ipv4: false,
            tcp: false,
            ..all
        };
        assert!(!t.matches(&listen) && t.matches(&udp6));
    }
}

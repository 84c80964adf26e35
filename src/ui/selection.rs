//! The selected socket, which the details panel, the keys and the table read.

use std::sync::Arc;

use crate::model::{Snapshot, Socket, SocketKey};

/// The socket the details panel shows. A copy is kept so that a socket that closes
/// stays readable, marked as closed, instead of vanishing under the user's cursor.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub key: SocketKey,
    pub socket: Socket,
    /// The table the socket was last seen in (for its processes): a poll, or the closed rows.
    pub seen_in: Arc<Snapshot>,
    /// The poll on screen no longer has it.
    pub closed: bool,
}

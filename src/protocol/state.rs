//! The connection's state and the close handshake (RFC 6455 §5.5.1, §7).

/// Where a connection stands; the names are those `connection.state` shows in JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's (within `closeTimeout`).
    Ending,
    /// The peer sent a close frame; ours is the reply.
    PeerRequestedClose,
    /// The close handshake is over or the transport is gone.
    Closed,
}

/// What the connection must do after an event of the close handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseStep {
    /// Nothing: the event does not apply in this state.
    Ignore,
    /// Send a close frame and wait for the peer's reply, with the close timer running.
    SendCloseAndWait,
    /// Send a close frame in reply, then close the transport: the handshake is complete.
    ReplyAndClose,
    /// The handshake is complete (our close was answered): close the transport.
    CloseTransport,
}

impl ConnectionState {
    /// The name JavaScript shows: `open`, `ending`, `peer_requested_close`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Open => "open",
            ConnectionState::Ending => "ending",
            ConnectionState::PeerRequestedClose => "peer_requested_close",
            ConnectionState::Closed => "closed",
        }
    }

    /// Data frames may be sent only while open (RFC 6455 §5.5.1: none after a close frame).
    pub fn can_send_data(self) -> bool {
        self == ConnectionState::Open
    }

    /// True while the connection counts as connected (`connection.connected`): as in the
    /// original, it turns false as soon as either side starts closing.
    pub fn is_connected(self) -> bool {
        self == ConnectionState::Open
    }

    /// We start the close handshake (`close()`).
    pub fn local_close(&mut self) -> CloseStep {
        match self {
            ConnectionState::Open => {
                *self = ConnectionState::Ending;
                CloseStep::SendCloseAndWait
            }
            _ => CloseStep::Ignore,
        }
    }

    /// The peer's close frame arrived.
    pub fn peer_close(&mut self) -> CloseStep {
        match self {
            ConnectionState::Open => {
                *self = ConnectionState::PeerRequestedClose;
                CloseStep::ReplyAndClose
            }
            ConnectionState::Ending => {
                *self = ConnectionState::Closed;
                CloseStep::CloseTransport
            }
            _ => CloseStep::Ignore,
        }
    }

    /// Our reply to the peer's close frame has been queued.
    pub fn reply_sent(&mut self) {
        if *self == ConnectionState::PeerRequestedClose {
            *self = ConnectionState::Closed;
        }
    }

    /// The close timer fired before the peer answered: give up waiting.
    pub fn close_timeout(&mut self) -> CloseStep {
        match self {
            ConnectionState::Ending => {
                *self = ConnectionState::Closed;
                CloseStep::CloseTransport
            }
            _ => CloseStep::Ignore,
        }
    }

    /// The transport closed (cleanly or not), or the connection was dropped.
    pub fn transport_closed(&mut self) {
        *self = ConnectionState::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    #[test]
    fn we_close_first_then_peer_answers() {
        let mut s = Open;
        assert_eq!(s.local_close(), CloseStep::SendCloseAndWait);
        assert_eq!((s, s.as_str()), (Ending, "ending"));
        assert!(!s.can_send_data() && !s.is_connected());
        assert_eq!(
            s.local_close(),
            CloseStep::Ignore,
            "a second close() sends nothing"
        );
        assert_eq!(s.peer_close(), CloseStep::CloseTransport);
        assert_eq!(s, Closed);
    }

    #[test]
    fn peer_closes_first_and_we_reply() {
        let mut s = Open;
        assert_eq!(s.peer_close(), CloseStep::ReplyAndClose);
        assert_eq!(s.as_str(), "peer_requested_close");
        assert!(!s.is_connected());
        assert_eq!(s.local_close(), CloseStep::Ignore);
        s.reply_sent();
        assert_eq!(s, Closed);
        assert_eq!(s.peer_close(), CloseStep::Ignore);
    }

    #[test]
    fn close_timer_gives_up_only_while_waiting() {
        let mut s = Open;
        assert_eq!(s.close_timeout(), CloseStep::Ignore);
        s.local_close();
        assert_eq!(s.close_timeout(), CloseStep::CloseTransport);
        assert_eq!(s, Closed);
    }

    #[test]
    fn transport_loss_closes_from_any_state() {
        for mut s in [Open, Ending, PeerRequestedClose, Closed] {
            s.transport_closed();
            assert_eq!(s.as_str(), "closed");
            assert!(!s.can_send_data());
        }
    }
}

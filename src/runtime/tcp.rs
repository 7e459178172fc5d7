//! Adopting a socket from Node: duplicating its descriptor and describing it.

use std::io;
use std::net::{SocketAddr, TcpStream};

/// The peer's address, kept from adoption (the socket can no longer tell it once the peer is
/// gone); the local address is asked of the socket when needed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketInfo {
    pub(crate) peer: SocketAddr,
}

impl SocketInfo {
    /// `IPv4` or `IPv6`, as Node names the peer's family.
    pub(crate) fn remote_family(&self) -> &'static str {
        if self.peer.is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        }
    }

    /// An address as Node prints it (IPv4-mapped IPv6 addresses in IPv4 form).
    pub(crate) fn ip_string(addr: &SocketAddr) -> String {
        addr.ip().to_canonical().to_string()
    }
}

/// Takes a duplicate of Node's TCP descriptor `fd` (close-on-exec), non-blocking, with
/// `TCP_NODELAY` as asked. Node keeps and later closes its own copy; this one is ours.
#[cfg(unix)]
pub(crate) fn adopt(fd: i32, nodelay: bool) -> io::Result<(TcpStream, SocketInfo)> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no file descriptor",
        ));
    }
    // SAFETY: `fd` is the descriptor of a live Node socket for the duration of this call (the
    // caller holds the socket and destroys it only after adoption); it is only duplicated.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned = borrowed.try_clone_to_owned()?;
    let stream = TcpStream::from(owned);
    // Fails with ENOTCONN/ENOTSOCK for anything that is not a connected TCP socket.
    let peer = stream.peer_addr()?;
    stream.set_nonblocking(true)?;
    stream.set_nodelay(nodelay)?;
    let info = SocketInfo { peer };
    Ok((stream, info))
}

/// Windows sockets have no descriptor Node can hand over (libuv reports -1), so lib/context.js
/// bridges every socket there; this only answers a caller that asks anyway.
#[cfg(not(unix))]
pub(crate) fn adopt(_fd: i32, _nodelay: bool) -> io::Result<(TcpStream, SocketInfo)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "socket adoption needs a Unix file descriptor",
    ))
}

/// Describes an I/O error as Node does in socket errors: the syscall, then the errno name
/// (`read ECONNRESET`).
pub(crate) fn describe_error(syscall: &str, e: &io::Error) -> String {
    let name = match e.kind() {
        io::ErrorKind::ConnectionReset => "ECONNRESET",
        io::ErrorKind::BrokenPipe => "EPIPE",
        io::ErrorKind::ConnectionAborted => "ECONNABORTED",
        io::ErrorKind::TimedOut => "ETIMEDOUT",
        io::ErrorKind::NotConnected => "ENOTCONN",
        io::ErrorKind::HostUnreachable => "EHOSTUNREACH",
        io::ErrorKind::NetworkUnreachable => "ENETUNREACH",
        _ => return format!("{syscall} {e}"),
    };
    format!("{syscall} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn adopts_a_duplicate_and_reports_addresses() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        use std::os::fd::AsRawFd;
        let (dup, info) = adopt(server.as_raw_fd(), true).unwrap();
        assert_ne!(dup.as_raw_fd(), server.as_raw_fd());
        assert_eq!(SocketInfo::ip_string(&info.peer), "127.0.0.1");
        assert_eq!(info.peer.port(), client.local_addr().unwrap().port());
        assert_eq!(info.remote_family(), "IPv4");
        assert_eq!(
            dup.local_addr().unwrap().port(),
            listener.local_addr().unwrap().port()
        );
        assert!(dup.nodelay().unwrap());
        // Closing the original leaves the duplicate working.
        drop(server);
        use std::io::{Read, Write};
        (&client).write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        dup.set_nonblocking(false).unwrap();
        (&dup).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_what_is_not_a_connected_socket() {
        use std::os::fd::AsRawFd;
        assert!(adopt(-1, true).is_err());
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(adopt(file.as_raw_fd(), true).is_err());
    }

    #[test]
    fn describes_errors_like_node() {
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(describe_error("read", &e), "read ECONNRESET");
    }
}

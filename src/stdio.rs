//! Standard input and output for an MCP server's stdio transport, for this crate's server and
//! for hosts that embed the tools: `host.serve(alpaca_mcp::stdio())`.
//!
//! An MCP client starts the server with pipes (or, from Node, socket pairs) on its stdin and
//! stdout. Those are read and written through tokio's reactor here, on the runtime's own
//! thread. tokio's `stdin()`/`stdout()` instead hand every read and write to a blocking-pool
//! thread, and those two thread hand-offs per message were most of the server's CPU time per
//! call. A terminal or a file (`alpaca-mcp-server < requests.jsonl`) cannot be polled, so it
//! still goes through tokio's blocking stdio.

use tokio::io::{AsyncRead, AsyncWrite};

/// What the server reads messages from.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// What the server writes messages to.
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Stdin and stdout, polled by the reactor when they are pipes or sockets.
pub fn stdio() -> (Reader, Writer) {
    #[cfg(unix)]
    let (reader, writer) = (unix::stdin(), unix::stdout());
    #[cfg(not(unix))]
    let (reader, writer): (Option<Reader>, Option<Writer>) = (None, None);
    (
        reader.unwrap_or_else(|| Box::new(tokio::io::stdin())),
        writer.unwrap_or_else(|| Box::new(tokio::io::stdout())),
    )
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::os::unix::fs::FileTypeExt;

    use tokio::net::unix::pipe;

    use super::{Reader, Writer};

    /// What kind of descriptor a standard stream is, with a duplicate of it to own.
    enum Kind {
        Pipe(File),
        Socket(std::os::unix::net::UnixStream),
    }

    fn kind(fd: BorrowedFd<'_>) -> Option<Kind> {
        let file = File::from(fd.try_clone_to_owned().ok()?);
        let file_type = file.metadata().ok()?.file_type();
        if file_type.is_fifo() {
            Some(Kind::Pipe(file))
        } else if file_type.is_socket() {
            let stream = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
            stream.set_nonblocking(true).ok()?;
            Some(Kind::Socket(stream))
        } else {
            None
        }
    }

    pub fn stdin() -> Option<Reader> {
        match kind(std::io::stdin().as_fd())? {
            Kind::Pipe(f) => Some(Box::new(pipe::Receiver::from_file(f).ok()?)),
            Kind::Socket(s) => Some(Box::new(tokio::net::UnixStream::from_std(s).ok()?)),
        }
    }

    pub fn stdout() -> Option<Writer> {
        match kind(std::io::stdout().as_fd())? {
            Kind::Pipe(f) => Some(Box::new(pipe::Sender::from_file(f).ok()?)),
            Kind::Socket(s) => Some(Box::new(tokio::net::UnixStream::from_std(s).ok()?)),
        }
    }
}

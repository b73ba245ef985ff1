//! Stdin and stdout as async streams, polled by the reactor when they are pipes or sockets.

use super::{Reader, Writer};

/// Stdin and stdout, polled by the reactor when they are pipes or sockets.
pub(super) fn stdio() -> (Reader, Writer) {
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

    use super::super::{Reader, Writer};

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

//! A stand-in for a `fugue-server` of another version, for the tests of what the CLI does
//! about one: it listens on the socket named by its argument and answers every client's
//! first frame with the refusal such a server sends, `VersionMismatch`. SIGTERM ends it
//! (the default action), as it ends a real server.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixListener;

use fugue_protocol::{ErrorCode, PROTOCOL_VERSION, ServerCodec, ServerMessage};

fn main() -> io::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| io::Error::other("usage: other-version-server SOCKET"))?;
    let other = PROTOCOL_VERSION + 1;
    let refusal = ServerMessage::Error {
        request_id: None,
        code: ErrorCode::VersionMismatch,
        message: format!(
            "protocol version mismatch: client speaks {PROTOCOL_VERSION}, server speaks {other}"
        ),
    };
    let refusal = ServerCodec::new()
        .encode_frame(&refusal)
        .map_err(io::Error::other)?;
    let listener = UnixListener::bind(path)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        // Take the client's first frame (its `Hello`), whatever it says, then refuse.
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).is_ok() {
            let len = u64::from(u32::from_be_bytes(prefix));
            let _ = io::copy(&mut (&mut stream).take(len), &mut io::sink());
        }
        let _ = stream.write_all(refusal.as_bytes());
    }
    Ok(())
}

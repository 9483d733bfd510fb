//! A server of the previous protocol (one started before the binaries were upgraded, which
//! `fugue upgrade` must still reach): the client, refused in its own version, speaks the
//! server's.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use bytes::BytesMut;
use fugue_protocol::{
    ClientMessage, ErrorCode, FALLBACK_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerCodec,
    ServerMessage,
};
use fugue_tests::tmux::{Fugue, assert_success, stdout};
use tokio_util::codec::Decoder;

/// Reads one frame from `stream` and decodes it.
fn read_message(stream: &mut UnixStream) -> ClientMessage {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).expect("a frame's length");
    let len = u32::from_be_bytes(prefix) as usize;
    let mut frame = BytesMut::from(&prefix[..]);
    frame.resize(4 + len, 0);
    stream.read_exact(&mut frame[4..]).expect("a frame's body");
    ServerCodec::new()
        .decode(&mut frame)
        .expect("a valid frame")
        .expect("a whole frame")
}

fn write_message(stream: &mut UnixStream, msg: &ServerMessage) {
    let frame = ServerCodec::new().encode_frame(msg).expect("encodable");
    stream.write_all(frame.as_bytes()).expect("write a frame");
}

/// A stand-in for a server of protocol `FALLBACK_PROTOCOL_VERSION`: it refuses any other
/// `Hello` as such a server does, then welcomes one in its version and answers a
/// `ListSessions`. Returns the versions it was greeted in.
fn serve_previous_protocol(listener: &UnixListener) -> Vec<u32> {
    let mut greeted = Vec::new();
    while greeted.len() < 3 {
        let (mut stream, _) = listener.accept().expect("accept");
        let ClientMessage::Hello {
            protocol_version, ..
        } = read_message(&mut stream)
        else {
            panic!("the first message was not Hello");
        };
        greeted.push(protocol_version);
        if protocol_version != FALLBACK_PROTOCOL_VERSION {
            let message = format!(
                "protocol version mismatch: client speaks {protocol_version}, server speaks 3 \
                 to {FALLBACK_PROTOCOL_VERSION}"
            );
            let refusal = ServerMessage::Error {
                request_id: None,
                code: ErrorCode::VersionMismatch,
                message,
            };
            write_message(&mut stream, &refusal);
            continue;
        }
        let welcome = ServerMessage::Welcome {
            protocol_version,
            server_version: "0.0.6".into(),
            client_id: 1,
        };
        write_message(&mut stream, &welcome);
        let ClientMessage::ListSessions { request_id } = read_message(&mut stream) else {
            panic!("expected ListSessions");
        };
        let sessions = ServerMessage::Sessions {
            request_id,
            sessions: Vec::new(),
        };
        write_message(&mut stream, &sessions);
        break;
    }
    greeted
}

#[test]
fn a_server_of_the_previous_protocol_is_spoken_to_in_its_version() {
    let fugue = Fugue::new();
    let socket = fugue.socket();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(socket).expect("bind the stand-in");
    let server = std::thread::spawn(move || serve_previous_protocol(&listener));
    let listed = fugue.run(&["ls", "--json"]);
    assert_success(&listed, "fugue ls --json against a protocol-6 server");
    assert_eq!(stdout(&listed).trim(), "[]");
    let greeted = server.join().expect("the stand-in");
    assert_eq!(greeted, [PROTOCOL_VERSION, FALLBACK_PROTOCOL_VERSION]);
}

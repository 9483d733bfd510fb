//! `fugue events`: stream session events, one line each, until interrupted or until the
//! session named ends.

use std::fmt::Write as _;

use fugue_client::{Event, EventKind, Role, SessionEvent};
use serde_json::json;

use super::{Globals, connect, print};
use crate::attach::EXIT_SERVER_GONE;
use crate::cli::EventsArgs;

/// Prints events as they come.
///
/// # Errors
///
/// When the server cannot be reached, the session is unknown, or standard output fails.
pub async fn run(globals: &Globals, args: EventsArgs) -> anyhow::Result<u8> {
    let (client, mut events) = connect(globals, Role::Control, false).await?;
    client.subscribe(args.session.as_deref()).await?;
    loop {
        let line = match events.recv().await {
            Some(Event::Session(event)) => {
                let ends = args.session.is_some() && matches!(event.kind, EventKind::Exited { .. });
                print(&line(&event, args.json))?;
                if ends {
                    return Ok(0);
                }
                continue;
            }
            Some(Event::EventsLost { count }) if args.json => {
                format!("{}\n", json!({ "type": "lost", "count": count }))
            }
            Some(Event::EventsLost { count }) => format!("lost {count} events (fell behind)\n"),
            Some(Event::Closed { .. }) | None => {
                eprintln!("fugue: lost connection to fugue-server");
                return Ok(EXIT_SERVER_GONE);
            }
            Some(_) => continue,
        };
        print(&line)?;
    }
}

/// One event as a line: JSON, or `TIME NAME TYPE details`.
fn line(event: &SessionEvent, json_form: bool) -> String {
    if json_form {
        return format!("{}\n", to_json(event));
    }
    let mut line = format!("{} {} {}", event.unix_ms, event.name, event.kind.name());
    let _ = match &event.kind {
        EventKind::Renamed { from } => write!(line, " from={from}"),
        EventKind::Exited { status } => write!(line, " status={}", status.shell_code()),
        EventKind::Attached { client, role } => {
            write!(line, " client={client} role={}", role.as_str())
        }
        EventKind::Detached { client } => write!(line, " client={client}"),
        EventKind::Resized { size } => write!(line, " size={}x{}", size.cols, size.rows),
        EventKind::Title { title } => write!(line, " title={title:?}"),
        _ => Ok(()),
    };
    if let Some(seq) = event.seq {
        let _ = write!(line, " seq={seq}");
    }
    line.push('\n');
    line
}

/// `{"type": "exited", "session": …, "name": …, "seq": …, "unix_ms": …, …details}`.
fn to_json(event: &SessionEvent) -> serde_json::Value {
    let mut value = json!({
        "type": event.kind.name(),
        "session": event.session,
        "name": event.name,
        "seq": event.seq,
        "unix_ms": event.unix_ms,
    });
    let details = match &event.kind {
        EventKind::Renamed { from } => json!({ "from": from }),
        EventKind::Exited { status } => json!({ "status": status.shell_code(), "how": status }),
        EventKind::Attached { client, role } => json!({ "client": client, "role": role.as_str() }),
        EventKind::Detached { client } => json!({ "client": client }),
        EventKind::Resized { size } => json!({ "cols": size.cols, "rows": size.rows }),
        EventKind::Title { title } => json!({ "title": title }),
        _ => json!({}),
    };
    if let (Some(object), serde_json::Value::Object(details)) = (value.as_object_mut(), details) {
        object.extend(details);
    }
    value
}

#[cfg(test)]
mod tests {
    use fugue_client::ExitStatus;
    use uuid::Uuid;

    use super::*;

    fn exited() -> SessionEvent {
        SessionEvent {
            session: Uuid::nil(),
            name: "job".into(),
            seq: Some(42),
            unix_ms: 7,
            kind: EventKind::Exited {
                status: ExitStatus::Code { code: 3 },
            },
        }
    }

    #[test]
    fn exits_print_their_status_in_both_forms() {
        assert_eq!(line(&exited(), false), "7 job exited status=3 seq=42\n");
        let value: serde_json::Value = serde_json::from_str(&line(&exited(), true)).unwrap();
        assert_eq!(value["type"], "exited");
        assert_eq!(value["status"], 3);
        assert_eq!(value["seq"], 42);
        assert_eq!(value["name"], "job");
    }
}

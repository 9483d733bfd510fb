//! Human-readable output for `fugue ls`, `fugue status` and `fugue status --clients`.

use std::time::Duration;

use fugue_client::{ClientSummary, ServerStatus, SessionInfo};

/// Renders sessions as an aligned table with a header row; `now_unix_ms` dates the ages.
pub fn sessions_table(sessions: &[SessionInfo], now_unix_ms: u64) -> String {
    let header = ["NAME", "ID", "PID", "CLIENTS", "SIZE", "CREATED", "COMMAND"].map(String::from);
    let mut rows = vec![header.to_vec()];
    for session in sessions {
        let age = Duration::from_millis(now_unix_ms.saturating_sub(session.created_unix_ms));
        let command = if session.command.is_empty() {
            "-".to_owned()
        } else {
            session.command.join(" ")
        };
        rows.push(vec![
            session.name.clone(),
            short_id(session),
            session.pid.to_string(),
            session.attached_clients.to_string(),
            format!("{}x{}", session.size.cols, session.size.rows),
            format!("{} ago", short_duration(age)),
            command,
        ]);
    }
    align(&rows)
}

/// The first eight hex digits of a session id, enough to tell sessions apart.
fn short_id(session: &SessionInfo) -> String {
    session.id.simple().to_string().chars().take(8).collect()
}

/// Pads every column but the last to its widest cell, two spaces apart.
/// Renders clients as an aligned table: one row each, oldest first.
pub fn clients_table(clients: &[ClientSummary], now_unix_ms: u64) -> String {
    let header = ["ID", "KIND", "ROLE", "SESSION", "REMOTE", "CONNECTED"].map(String::from);
    let mut rows = vec![header.to_vec()];
    for client in clients {
        let age = Duration::from_millis(now_unix_ms.saturating_sub(client.connected_unix_ms));
        rows.push(vec![
            client.id.to_string(),
            client.kind.clone(),
            client.role.clone(),
            client.session.clone().unwrap_or_else(|| "-".to_owned()),
            client.remote.clone(),
            format!("{} ago", short_duration(age)),
        ]);
    }
    align(&rows)
}

fn align(rows: &[Vec<String>]) -> String {
    let n_columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..n_columns)
        .map(|column| {
            rows.iter()
                .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[column] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration in its largest whole unit: `42s`, `5m`, `3h`, `2d`.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// Renders the server's status report as `key  value` lines.
pub fn status_report(status: &ServerStatus) -> String {
    let by_role = status
        .clients_by_role
        .iter()
        .map(|(role, n)| format!("{role} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let lines = [
        (
            "version",
            format!(
                "{} (protocol {})",
                status.server_version, status.protocol_version
            ),
        ),
        ("pid", status.pid.to_string()),
        (
            "uptime",
            short_duration(Duration::from_millis(status.uptime_ms)),
        ),
        ("socket", status.socket_path.clone()),
        ("sessions", status.sessions.to_string()),
        (
            "clients",
            format!("{} ({} attached)", status.clients, status.attached_clients),
        ),
        (
            "by role",
            if by_role.is_empty() {
                "-".into()
            } else {
                by_role
            },
        ),
        (
            "messages",
            format!(
                "{} delivered, {} dropped, {} lag events",
                status.messages_delivered, status.messages_dropped, status.lag_events
            ),
        ),
        (
            "pacing",
            format!(
                "{} timed-out waits for a client to take output ({} missed wake-ups)",
                status.pacing_timeouts, status.pacing_missed_wake_ups
            ),
        ),
    ];
    lines
        .iter()
        .map(|(key, value)| format!("{key:<10}{value}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use fugue_client::TermSize;
    use uuid::Uuid;

    use super::*;

    fn session(name: &str, created_unix_ms: u64) -> SessionInfo {
        SessionInfo {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            name: name.to_owned(),
            command: vec!["bash".to_owned(), "-l".to_owned()],
            pid: 4242,
            created_unix_ms,
            last_attached_unix_ms: created_unix_ms,
            attached_clients: 1,
            size: TermSize { rows: 24, cols: 80 },
            seq: 0,
            foreground: None,
            shell_marks: false,
        }
    }

    #[test]
    fn table_aligns_columns() {
        let sessions = [session("0", 0), session("build", 90_000)];
        let table = sessions_table(&sessions, 120_000);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "NAME   ID        PID   CLIENTS  SIZE   CREATED  COMMAND"
        );
        assert_eq!(
            lines[1],
            "0      01234567  4242  1        80x24  2m ago   bash -l"
        );
        assert_eq!(
            lines[2],
            "build  01234567  4242  1        80x24  30s ago  bash -l"
        );
    }

    #[test]
    fn durations_use_largest_unit() {
        assert_eq!(short_duration(Duration::from_secs(5)), "5s");
        assert_eq!(short_duration(Duration::from_secs(61)), "1m");
        assert_eq!(short_duration(Duration::from_secs(7_200)), "2h");
        assert_eq!(short_duration(Duration::from_secs(200_000)), "2d");
    }
}

//! `fugue capture`: print a session's screen.

use fugue_client::{CaptureFormat, Role};

use super::{Globals, connect, print};
use crate::cli::CaptureArgs;

/// Prints the screen as text (with escape sequences under `--ansi`), or JSON.
///
/// # Errors
///
/// When the server cannot be reached or does not know the session.
pub async fn run(globals: &Globals, args: CaptureArgs) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let format = if args.ansi {
        CaptureFormat::Ansi
    } else {
        CaptureFormat::Plain
    };
    let capture = client
        .capture(&args.session, format, args.scrollback)
        .await?;
    let mut text = if args.json {
        serde_json::to_string_pretty(&capture)?
    } else {
        capture.text
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    print(&text)?;
    Ok(0)
}

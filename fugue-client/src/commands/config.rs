//! `fugue config`, `fugue completions` and the hidden `fugue man`: what the command line and
//! its settings are, for people, shells and `cargo xtask man`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory;
use fugue_protocol::{ServerSettings, WebSettings};
use serde_json::json;

use super::print;
use crate::cli::{Cli, JsonArgs};
use crate::settings::{Setting, Settings};

/// Prints the effective settings and their sources, as a table or JSON.
///
/// # Errors
///
/// Only when standard output fails.
pub fn show(settings: &Settings, args: &JsonArgs) -> anyhow::Result<u8> {
    let rows = rows(settings);
    let text = if args.json {
        let values: serde_json::Map<_, _> = rows
            .iter()
            .map(|(name, value, source)| {
                let entry = json!({ "value": value, "source": source });
                (name.clone(), entry)
            })
            .collect();
        let file = settings
            .file
            .as_ref()
            .map(|(path, exists)| json!({ "path": path.display().to_string(), "exists": exists }));
        let doc = json!({ "file": file, "settings": values });
        format!("{}\n", serde_json::to_string_pretty(&doc)?)
    } else {
        let mut text = match &settings.file {
            Some((path, true)) => format!("# file: {}\n", path.display()),
            Some((path, false)) => format!("# file: {} (not found)\n", path.display()),
            None => "# file: none ($HOME is not set)\n".to_owned(),
        };
        let width = rows.iter().map(|(name, ..)| name.len()).max().unwrap_or(0);
        let value_width = rows
            .iter()
            .map(|(_, value, _)| value.len())
            .max()
            .unwrap_or(0);
        for (name, value, source) in &rows {
            text.push_str(&format!("{name:width$}  {value:value_width$}  {source}\n"));
        }
        text.push_str("# server.* apply when fugue-server starts; its flags override them\n");
        text
    };
    print(&text)?;
    Ok(0)
}

/// `(name, value, source)` for every setting.
fn rows(settings: &Settings) -> Vec<(String, String, String)> {
    let mut rows = vec![
        row("socket", &settings.socket, |path| {
            path.display().to_string()
        }),
        row("detach_key", &settings.detach_key, ToString::to_string),
        row("history", &settings.history, ToString::to_string),
        row("host", &settings.remote, |remote| {
            remote
                .as_ref()
                .map_or_else(|| "(this machine)".to_owned(), ToString::to_string)
        }),
    ];
    rows.extend(server_rows(&settings.contents.server));
    rows.extend(web_rows(&settings.contents.web));
    rows
}

/// The `[web]` table's rows: the file's value, else the server's default.
fn web_rows(web: &WebSettings) -> Vec<(String, String, String)> {
    let path = |path: &Option<PathBuf>| path.as_ref().map(|p| p.display().to_string());
    let web: [(&str, Option<String>, String); 5] = [
        (
            "bind",
            web.bind.clone(),
            WebSettings::DEFAULT_BIND.to_owned(),
        ),
        (
            "allowed_hosts",
            web.allowed_hosts.as_ref().map(|hosts| hosts.join(", ")),
            "(the listener's own address)".to_owned(),
        ),
        (
            "max_clients",
            web.max_clients.map(|n| n.to_string()),
            WebSettings::DEFAULT_MAX_CLIENTS.to_string(),
        ),
        (
            "tls_cert",
            path(&web.tls_cert),
            "(none: loopback only)".to_owned(),
        ),
        (
            "tls_key",
            path(&web.tls_key),
            "(none: loopback only)".to_owned(),
        ),
    ];
    table_rows("web", web)
}

/// A table's rows, `TABLE.NAME`: the file's value, else the default.
fn table_rows<const N: usize>(
    table: &str,
    items: [(&str, Option<String>, String); N],
) -> Vec<(String, String, String)> {
    let rows = items.into_iter().map(|(name, value, default)| {
        let (value, source) = match value {
            Some(value) => (value, "file"),
            None => (default, "default"),
        };
        (format!("{table}.{name}"), value, source.to_owned())
    });
    rows.collect()
}

/// The `[server]` table's rows: the file's value, else the server's default.
fn server_rows(server: &ServerSettings) -> Vec<(String, String, String)> {
    let ServerSettings {
        scrollback,
        idle_timeout,
        max_clients,
        idle_after,
        shell_integration,
        agent_link,
        log_file,
    } = server;
    let shown = |value: &dyn ToString| value.to_string();
    let server: [(&str, Option<String>, String); 7] = [
        (
            "scrollback",
            scrollback.map(|v| v.to_string()),
            shown(&ServerSettings::DEFAULT_SCROLLBACK),
        ),
        (
            "idle_timeout",
            idle_timeout.map(|v| v.to_string()),
            shown(&ServerSettings::DEFAULT_IDLE_TIMEOUT),
        ),
        (
            "max_clients",
            max_clients.map(|v| v.to_string()),
            shown(&ServerSettings::DEFAULT_MAX_CLIENTS),
        ),
        (
            "idle_after",
            idle_after.map(|v| v.to_string()),
            shown(&ServerSettings::DEFAULT_IDLE_AFTER),
        ),
        (
            "shell_integration",
            shell_integration.map(|v| v.to_string()),
            shown(&true),
        ),
        (
            "agent_link",
            agent_link.map(|v| v.to_string()),
            shown(&true),
        ),
        (
            "log_file",
            log_file.as_ref().map(|path| path.display().to_string()),
            "stderr (fugue-server.log next to the socket with --daemon)".to_owned(),
        ),
    ];
    table_rows("server", server)
}

fn row<T>(
    name: &str,
    setting: &Setting<T>,
    show: impl Fn(&T) -> String,
) -> (String, String, String) {
    (
        name.to_owned(),
        show(&setting.value),
        setting.source.to_string(),
    )
}

/// Prints the completion script for `shell`.
///
/// # Errors
///
/// Only when standard output fails.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "fugue", &mut script);
    print(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Writes the man pages: `fugue.1` and one `fugue-SUBCOMMAND.1` per subcommand into
/// `dir`, or only `fugue.1` to standard output without one.
///
/// # Errors
///
/// When a page cannot be written.
pub fn man(dir: Option<&Path>) -> anyhow::Result<u8> {
    let command = Cli::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        print(&String::from_utf8_lossy(&page))?;
        return Ok(0);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let subs = command.get_subcommands().filter(|sub| !sub.is_hide_set());
    // A subcommand's page is fugue-NAME(1); its synopsis says `fugue NAME`.
    let pages = subs
        .map(|sub| {
            let name = sub.get_name();
            let page = sub.clone().bin_name(format!("fugue {name}"));
            (format!("fugue-{name}"), page)
        })
        .collect::<Vec<_>>();
    for (name, page) in std::iter::once(("fugue".to_owned(), command.clone())).chain(pages) {
        let path = dir.join(format!("{name}.1"));
        let mut file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        clap_mangen::Man::new(page.name(name)).render(&mut file)?;
    }
    Ok(0)
}

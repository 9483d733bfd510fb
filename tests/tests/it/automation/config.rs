//! Completions, and the configuration file's place among flags and environment.

use std::process::Command;

use fugue_tests::tmux::{Fugue, assert_success, binaries, stderr, stdout};

use super::{code, json, new_session};

/// Writes the world's configuration file.
fn write_config(fugue: &Fugue, text: &str) {
    let dir = fugue.dir().join("home/.config/fugue");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

#[test]
fn bash_completions_load() {
    let fugue = Fugue::new();
    let script = fugue.dir().join("fugue.bash");
    let output = fugue.run(&["completions", "bash"]);
    assert_success(&output, "fugue completions bash");
    std::fs::write(&script, &output.stdout).unwrap();
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p fugue", script.display()))
        .output()
        .unwrap();
    assert_success(&loaded, "complete -p fugue");
    assert!(stdout(&loaded).contains("fugue"), "{}", stdout(&loaded));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert_success(&fugue.run(&["completions", shell]), shell);
    }
}

#[test]
fn flags_beat_environment_beats_the_file_beats_the_default() {
    let fugue = Fugue::new();
    let setting = |args: &[&str], env: Option<&str>| {
        let mut command = fugue.command(args);
        if let Some(key) = env {
            command.env("FUGUE_DETACH_KEY", key);
        }
        let output = command.output().unwrap();
        let config = json(&output);
        let detach = &config["settings"]["detach_key"];
        (
            detach["value"].as_str().unwrap().to_owned(),
            detach["source"].as_str().unwrap().to_owned(),
        )
    };
    let pair = |value: &str, source: &str| (value.to_owned(), source.to_owned());
    assert_eq!(
        setting(&["config", "--json"], None),
        pair("ctrl-\\", "default")
    );
    write_config(&fugue, "detach_key = \"^a\"\n[server]\nscrollback = 50\n");
    assert_eq!(setting(&["config", "--json"], None), pair("ctrl-a", "file"));
    assert_eq!(
        setting(&["config", "--json"], Some("ctrl-b")),
        pair("ctrl-b", "env $FUGUE_DETACH_KEY")
    );
    let args = ["--detach-key", "ctrl-c", "config", "--json"];
    assert_eq!(setting(&args, Some("ctrl-b")), pair("ctrl-c", "flag"));
    let config = json(&fugue.run(&["config", "--json"]));
    assert_eq!(config["settings"]["server.scrollback"]["value"], "50");
    assert_eq!(config["file"]["exists"], true);
    let table = stdout(&fugue.run(&["config"]));
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("detach_key") && line.ends_with("file")),
        "{table}"
    );
}

#[test]
fn the_server_reads_its_table_and_a_malformed_file_is_an_error_naming_the_line() {
    let fugue = Fugue::new();
    write_config(&fugue, "[server]\nshell_integration = false\n");
    new_session(&fugue, "s", &["bash"]);
    assert_eq!(code(&fugue.run(&["run", "s", "--", "true"])), 0);
    assert_eq!(json(&fugue.run(&["ls", "--json"]))[0]["shell_marks"], false);

    write_config(
        &fugue,
        "detach_key = \"^a\"\n\n[server]\nscrollback = \"many\"\n",
    );
    for args in [&["ls"][..], &["config"]] {
        let output = fugue.run(args);
        assert_eq!(code(&output), 1);
        let message = stderr(&output);
        assert!(
            message.contains("config.toml") && message.contains("line 4"),
            "{message}"
        );
    }
    let server = Command::new(&binaries().server)
        .args(["--socket", "/nonexistent/s.sock"])
        .env("HOME", fugue.dir().join("home"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FUGUE_CONFIG")
        .output()
        .unwrap();
    assert!(!server.status.success());
    assert!(stderr(&server).contains("line 4"), "{}", stderr(&server));
    write_config(&fugue, "detach_key = \"alt-x\"\n");
    let output = fugue.run(&["ls"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("invalid detach key"),
        "{}",
        stderr(&output)
    );
}

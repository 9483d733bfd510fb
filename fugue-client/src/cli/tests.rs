//! The command line parses as documented.

use clap::CommandFactory;

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("fugue").chain(args.iter().copied()))
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn no_arguments_means_new() {
    let cli = parse(&[]).unwrap();
    assert!(cli.command.is_none());
    assert_eq!(cli.detach_key, None);
}

#[test]
fn new_takes_options_then_the_command() {
    let cli = parse(&[
        "new", "-s", "work", "-d", "-e", "A=1", "-e", "B=x=y", "--", "ls", "-la",
    ]);
    let Some(Command::New(args)) = cli.unwrap().command else {
        panic!("not new")
    };
    assert_eq!(args.name.as_deref(), Some("work"));
    assert!(args.detached);
    assert_eq!(
        args.env,
        [("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    assert_eq!(args.command, ["ls", "-la"]);
}

#[test]
fn new_command_without_double_dash_keeps_its_flags() {
    let Some(Command::New(args)) = parse(&["new", "vim", "-u", "NONE"]).unwrap().command else {
        panic!("not new")
    };
    assert_eq!(args.command, ["vim", "-u", "NONE"]);
}

#[test]
fn env_var_parsing() {
    assert_eq!(parse_env_var("K=V"), Ok(("K".into(), "V".into())));
    assert_eq!(parse_env_var("K="), Ok(("K".into(), String::new())));
    assert!(parse_env_var("K").is_err());
    assert!(parse_env_var("=V").is_err());
}

#[test]
fn global_options_work_after_the_subcommand() {
    let cli = parse(&["ls", "--socket", "/tmp/s.sock", "--detach-key", "^a"]).unwrap();
    assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s.sock")));
    assert_eq!(cli.detach_key, Some("ctrl-a".parse().unwrap()));
}

#[test]
fn bad_detach_key_is_a_usage_error() {
    let err = parse(&["--detach-key", "alt-x"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn send_accepts_dash_for_stdin() {
    let Some(Command::Send(args)) = parse(&["send", "s", "-", "--enter"]).unwrap().command else {
        panic!("not send")
    };
    assert_eq!(args.text, ["-"]);
    assert!(args.enter);
}

#[test]
fn wait_needs_exactly_one_condition() {
    assert!(parse(&["wait", "s"]).is_err());
    assert!(parse(&["wait", "s", "--for", "x", "--exit"]).is_err());
    let cli = parse(&["wait", "s", "--for", "\\$ $", "--timeout", "1.5"]).unwrap();
    let Some(Command::Wait(args)) = cli.command else {
        panic!("not wait")
    };
    assert_eq!(args.condition.pattern.as_deref(), Some("\\$ $"));
    assert_eq!(args.timeout, Some(Duration::from_millis(1500)));
}

#[test]
fn kill_needs_a_name() {
    assert!(parse(&["kill"]).is_err());
    assert!(parse(&["kill", "a", "b"]).is_ok());
}

#[test]
fn run_takes_the_command_after_a_double_dash() {
    let cli = parse(&["run", "s", "--timeout", "2", "--", "ls", "-la", "--json"]).unwrap();
    let Some(Command::Run(args)) = cli.command else {
        panic!("not run")
    };
    assert_eq!(args.command, ["ls", "-la", "--json"]);
    assert!(!args.json);
    assert!(parse(&["run", "s"]).is_err(), "a command is required");
}

#[test]
fn wait_after_needs_a_pattern() {
    assert!(parse(&["wait", "s", "--exit", "--after", "3"]).is_err());
    let cli = parse(&["wait", "s", "--for", "x", "--after", "3", "--json"]).unwrap();
    let Some(Command::Wait(args)) = cli.command else {
        panic!("not wait")
    };
    assert_eq!(args.after, Some(3));
    assert!(args.json);
}

#[test]
fn host_takes_an_ssh_address_and_empty_means_this_machine() {
    let cli = parse(&["-H", "ssh://me@build:2222", "ls"]).unwrap();
    let host = cli
        .host
        .and_then(|host| host.0)
        .map(|remote| remote.to_string());
    assert_eq!(host.as_deref(), Some("ssh://me@build:2222"));
    let cli = parse(&["ls", "--host", "ssh://build"]).unwrap();
    assert!(cli.host.is_some(), "global after the subcommand");
    assert!(parse(&["-H", "build", "ls"]).is_err());
    assert_eq!(parse(&["-H", "", "ls"]).unwrap().host, Some(Host(None)));
    assert!(matches!(
        parse(&["proxy", "--start"]).unwrap().command,
        Some(Command::Proxy { start: true })
    ));
}

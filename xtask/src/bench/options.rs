//! `cargo xtask bench` arguments, and the plan (runs and sizes) they select.

use anyhow::{Context, bail};

use super::tools::Tool;

/// The usage text of the bench task.
pub const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--tools LIST] [--scenarios LIST] [--runs N] [--no-registry]

  --quick          3 runs, 16 MiB floods, 100 echo round trips (a few minutes)
  --tools          comma-separated, from fugue,tmux,screen,dtach,raw and the ssh variants
                   fugue-ssh (fugue -H ssh://), ssh-fugue (ssh -t fugue attach) and
                   ssh-tmux (ssh -t tmux attach), through a local sshd, measured for
                   throughput and latency (default: all)
  --scenarios      comma-separated, from throughput,latency,web,fanout,memory,attach,
                   upgrade (default: all); web measures fugue's browser viewer (`fugue web`,
                   when fugue is among the tools) beside terminado through one WebSocket
                   client, and installs terminado once into target/bench/terminado-venv
                   (python3 with venv, and PyPI, needed the first time)
  --runs N         runs of each scenario, overriding the default
  --no-registry    skip the registry microbenchmarks (criterion)
";

/// A measurement the bench makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Output throughput, one client.
    Throughput,
    /// Keystroke echo latency.
    Latency,
    /// Throughput and echo through a WebSocket: fugue's browser viewer beside terminado.
    Web,
    /// Throughput with 1, 8 and 32 clients.
    Fanout,
    /// Server RSS with 1 and 32 clients.
    Memory,
    /// Attach to a session with 10,000 lines of history.
    Attach,
    /// The service gap of `fugue upgrade` (fugue only).
    Upgrade,
}

impl Scenario {
    /// Every scenario, in run order.
    pub const ALL: [Scenario; 7] = [
        Scenario::Throughput,
        Scenario::Latency,
        Scenario::Web,
        Scenario::Fanout,
        Scenario::Memory,
        Scenario::Attach,
        Scenario::Upgrade,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::Latency => "latency",
            Scenario::Web => "web",
            Scenario::Fanout => "fanout",
            Scenario::Memory => "memory",
            Scenario::Attach => "attach",
            Scenario::Upgrade => "upgrade",
        }
    }
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The short variant.
    pub quick: bool,
    /// Tools asked for, in report order.
    pub tools: Vec<Tool>,
    /// Scenarios asked for, in run order.
    pub scenarios: Vec<Scenario>,
    /// A run count that overrides the plan's.
    pub runs: Option<usize>,
    /// Whether to run the registry microbenchmarks.
    pub registry: bool,
}

/// Runs and sizes, from the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Runs of throughput, latency and attach (tools alternate within each run).
    pub runs: usize,
    /// Runs of fan-out and memory, which cost more.
    pub heavy_runs: usize,
    /// Size of the throughput file.
    pub flood_bytes: usize,
    /// Size of the fan-out file.
    pub fanout_bytes: usize,
    /// Client counts of the fan-out scenario.
    pub fanout_clients: Vec<usize>,
    /// Echo round trips per tool over all runs.
    pub echo_round_trips: usize,
    /// Clients in the second memory reading.
    pub memory_clients: usize,
    /// Lines of history before the attach.
    pub history_lines: usize,
    /// Sessions (and clients, one each) during the upgrade scenario.
    pub upgrade_clients: usize,
    /// Upgrades per upgrade run.
    pub upgrades: usize,
}

const MIB: usize = 1024 * 1024;

impl Options {
    /// Parses the arguments after `bench`.
    ///
    /// # Errors
    ///
    /// On an unknown flag, tool or scenario, or a missing value.
    pub fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut options = Options {
            quick: false,
            tools: Tool::ALL.to_vec(),
            scenarios: Scenario::ALL.to_vec(),
            runs: None,
            registry: true,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("`{arg}` needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-registry" => options.registry = false,
                "--tools" => options.tools = parse_list(value()?, Tool::ALL, Tool::name)?,
                "--scenarios" => {
                    options.scenarios = parse_list(value()?, Scenario::ALL, Scenario::name)?
                }
                "--runs" => {
                    let runs: usize = value()?.parse().context("`--runs` takes a number")?;
                    if runs == 0 {
                        bail!("`--runs` must be at least 1");
                    }
                    options.runs = Some(runs);
                }
                other => bail!("unknown bench argument `{other}`\n\n{USAGE}"),
            }
        }
        Ok(options)
    }

    /// The runs and sizes for these options.
    pub fn plan(&self) -> Plan {
        let (runs, heavy_runs, flood_bytes, fanout_bytes, echo_round_trips) = if self.quick {
            (3, 1, 16 * MIB, 2 * MIB, 100)
        } else {
            (5, 3, 64 * MIB, 8 * MIB, 500)
        };
        Plan {
            runs: self.runs.unwrap_or(runs),
            heavy_runs: self.runs.unwrap_or(heavy_runs),
            flood_bytes,
            fanout_bytes,
            fanout_clients: vec![1, 8, 32],
            echo_round_trips,
            memory_clients: 32,
            history_lines: 10_000,
            upgrade_clients: 10,
            upgrades: if self.quick { 5 } else { 10 },
        }
    }
}

/// Parses a comma-separated list of names from `all`, keeping `all`'s order.
fn parse_list<T: Copy + PartialEq, const N: usize>(
    text: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
) -> anyhow::Result<Vec<T>> {
    let mut chosen = Vec::new();
    for word in text
        .split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
    {
        match all.iter().find(|item| name(**item) == word) {
            Some(item) => chosen.push(*item),
            None => {
                let names: Vec<&str> = all.iter().map(|item| name(*item)).collect();
                bail!(
                    "unknown name `{word}` (expected one of {})",
                    names.join(", ")
                );
            }
        }
    }
    if chosen.is_empty() {
        bail!("an empty list `{text}`");
    }
    Ok(all
        .into_iter()
        .filter(|item| chosen.contains(item))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> anyhow::Result<Options> {
        Options::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_are_everything_full_size() {
        let options = parse(&[]).unwrap();
        assert!(!options.quick && options.registry);
        assert_eq!(options.tools, Tool::ALL);
        let plan = options.plan();
        assert_eq!(
            (plan.runs, plan.flood_bytes, plan.echo_round_trips),
            (5, 64 * MIB, 500)
        );
        assert_eq!(plan.fanout_clients, [1, 8, 32]);
    }

    #[test]
    fn quick_tools_scenarios_and_runs() {
        let options = parse(&[
            "--quick",
            "--tools",
            "raw,fugue",
            "--scenarios",
            "attach",
            "--no-registry",
        ])
        .unwrap();
        assert!(options.quick && !options.registry);
        // Report order, not the order given.
        assert_eq!(options.tools, [Tool::Fugue, Tool::Raw]);
        assert_eq!(options.scenarios, [Scenario::Attach]);
        let plan = options.plan();
        assert_eq!(
            (plan.runs, plan.flood_bytes, plan.echo_round_trips),
            (3, 16 * MIB, 100)
        );
        assert_eq!(parse(&["--runs", "7"]).unwrap().plan().heavy_runs, 7);
    }

    #[test]
    fn rejects_bad_arguments() {
        for bad in [
            &["--tools", "zellij"][..],
            &["--tools"],
            &["--runs", "0"],
            &["--fast"],
            &["--tools", ","],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

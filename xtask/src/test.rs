//! `cargo xtask test`: install what the tests need, then run every test.
//!
//! The end-to-end tests run real programs: they drive `fugue` inside tmux, drop privileges
//! with `setpriv`, run vim, less, top and vttest in sessions, `fugue run` in bash, zsh, fish
//! and sh, and remote sessions through a real sshd. On a fresh Debian machine some of
//! these are missing. As root with `apt-get`, this task installs them; otherwise it names
//! the packages to install and stops, before a long test run fails halfway.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// A program the tests run, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// The command looked for on `PATH`.
    pub(crate) command: &'static str,
    /// The package that installs it.
    pub(crate) package: &'static str,
}

/// Everything the test suite runs besides cargo.
pub(crate) const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        command: "tmux",
        package: "tmux",
    },
    Requirement {
        command: "setpriv",
        package: "util-linux",
    },
    Requirement {
        command: "vim",
        package: "vim",
    },
    Requirement {
        command: "less",
        package: "less",
    },
    Requirement {
        command: "top",
        package: "procps",
    },
    // The screen model is checked against vttest's screens.
    Requirement {
        command: "vttest",
        package: "vttest",
    },
    // `fugue run` is tested in each shell it integrates with.
    Requirement {
        command: "zsh",
        package: "zsh",
    },
    Requirement {
        command: "fish",
        package: "fish",
    },
    // Remote sessions run through a real OpenSSH server and client; the agent-link tests
    // run ssh-agent.
    Requirement {
        command: "ssh",
        package: "openssh-client",
    },
    Requirement {
        command: "ssh-keygen",
        package: "openssh-client",
    },
    Requirement {
        command: "/usr/sbin/sshd",
        package: "openssh-server",
    },
    // The browser viewer's TLS test makes its certificate with openssl; its end-to-end
    // tests drive Debian's headless Chromium over WebDriver.
    Requirement {
        command: "openssl",
        package: "openssl",
    },
    Requirement {
        command: "chromium",
        package: "chromium",
    },
    Requirement {
        command: "chromedriver",
        package: "chromium-driver",
    },
];

/// The command line of the test step.
pub(crate) const TEST_ARGS: &[&str] = &["test", "--workspace"];

/// Installs what is missing (or says what to install), then runs `cargo test --workspace`.
///
/// # Errors
///
/// When a requirement is missing and cannot be installed here, or a test fails.
pub fn run(root: &Path) -> anyhow::Result<()> {
    install_missing(REQUIREMENTS)?;
    eprintln!("xtask test: cargo {}", TEST_ARGS.join(" "));
    let status = Command::new(crate::cargo::program())
        .args(TEST_ARGS)
        .current_dir(root)
        .status()
        .context("cannot run cargo test")?;
    if !status.success() {
        bail!(
            "the tests failed (`cargo {}` exited with {status})",
            TEST_ARGS.join(" ")
        );
    }
    Ok(())
}

/// Makes sure every requirement's command is on `PATH`: installs the missing packages with
/// `apt-get` when running as root, else fails naming them.
///
/// # Errors
///
/// When something is missing and cannot be installed.
pub(crate) fn install_missing(requirements: &[Requirement]) -> anyhow::Result<()> {
    let packages = missing_packages(requirements, on_path);
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !is_root() || !on_path(OsStr::new("apt-get")) {
        bail!(
            "the tests need programs that are not installed; install them, then run this \
             again:\n    sudo apt-get install {list}"
        );
    }
    eprintln!("xtask: installing {list}");
    apt_get(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(packages.iter().copied());
    apt_get(&install)?;
    let still = missing_packages(requirements, on_path);
    if !still.is_empty() {
        bail!(
            "apt-get installed {list}, but {} is still missing",
            still.join(" ")
        );
    }
    Ok(())
}

/// The packages of the requirements whose command `found` does not find, each once.
fn missing_packages(
    requirements: &[Requirement],
    found: impl Fn(&OsStr) -> bool,
) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for requirement in requirements {
        if !found(OsStr::new(requirement.command)) && !packages.contains(&requirement.package) {
            packages.push(requirement.package);
        }
    }
    packages
}

fn apt_get(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Whether an executable file named `command` is in a directory of `PATH`.
fn on_path(command: &OsStr) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(command))
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
}

/// Whether this process runs as root (`/proc/self/status` has `Uid: 0 ...`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_listed_once_in_order() {
        let requirements = [
            Requirement {
                command: "a",
                package: "pkg-a",
            },
            Requirement {
                command: "b",
                package: "pkg-shared",
            },
            Requirement {
                command: "c",
                package: "pkg-shared",
            },
            Requirement {
                command: "d",
                package: "pkg-d",
            },
        ];
        let found = |command: &OsStr| command == "d";
        assert_eq!(
            missing_packages(&requirements, found),
            ["pkg-a", "pkg-shared"]
        );
        assert!(missing_packages(&requirements, |_| true).is_empty());
    }

    #[test]
    fn the_shell_is_on_path_and_nonsense_is_not() {
        assert!(on_path(OsStr::new("sh")));
        assert!(!on_path(OsStr::new("xtask-no-such-program")));
    }

    #[test]
    fn every_requirement_names_a_command_and_a_package() {
        for requirement in REQUIREMENTS {
            assert!(!requirement.command.is_empty() && !requirement.package.is_empty());
        }
    }
}

//! CLI: `authkeeper-devserver [--port <u16>] [--host <addr>] [--root <dir>]`.
//! Prints one line `authkeeper-devserver listening on http://<addr>` once bound (scripts wait
//! for it and read the port from it) and exits cleanly on SIGTERM/SIGINT.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use authkeeper_devserver::{serve, ServerConfig};

const USAGE: &str = "usage: authkeeper-devserver [--port <u16> (default 8787, 0 = any free port)] \
[--host <addr> (default 127.0.0.1)] [--root <dir> (default ., the repo root)]";

/// How long in-flight requests (e.g. an injected refresh hang) may delay exit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn parse_args(args: impl Iterator<Item = String>) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        // Accept both `--port 8080` and `--port=8080`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                config.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number (0-65535)"))?;
            }
            "--host" => config.host = value()?,
            "--root" => config.root = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(config)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("authkeeper-devserver: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !config.root.join("www").is_dir() {
        eprintln!(
            "authkeeper-devserver: warning: {} has no www/ directory",
            config.root.display()
        );
    }
    let (addr, mut handle) = match serve(config.clone()).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "authkeeper-devserver: cannot listen on {}:{}: {e}",
                config.host, config.port
            );
            return ExitCode::FAILURE;
        }
    };
    // The one line scripts wait for; flushed explicitly because stdout is a pipe there.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "authkeeper-devserver listening on http://{addr}");
    let _ = out.flush();
    drop(out);

    wait_for_signal().await;
    handle.signal();
    match tokio::time::timeout(SHUTDOWN_GRACE, handle.join()).await {
        Ok(Err(e)) => {
            eprintln!("authkeeper-devserver: server error: {e}");
            ExitCode::FAILURE
        }
        // Finished, or still busy after the grace period: exit either way.
        _ => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_and_flags() {
        let c = parse_args(args(&[])).expect("defaults");
        assert_eq!(
            (c.host.as_str(), c.port, c.root.clone()),
            ("127.0.0.1", 8787, PathBuf::from("."))
        );
        let c =
            parse_args(args(&["--port", "0", "--host=0.0.0.0", "--root", "/x"])).expect("flags");
        assert_eq!(
            (c.host.as_str(), c.port, c.root),
            ("0.0.0.0", 0, PathBuf::from("/x"))
        );
        assert!(parse_args(args(&["--port", "99999"])).is_err());
        assert!(parse_args(args(&["--port"])).is_err());
        assert!(parse_args(args(&["--bogus"])).is_err());
    }
}

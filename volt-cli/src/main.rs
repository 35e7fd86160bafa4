//! The `volt` command. Parses arguments, calls one SDK function per command, prints the result
//! through one renderer, and maps the error kind to the exit code.

mod cas;
mod cli;
mod container;
mod generate;
mod image;
mod network;
mod output;
mod progress;
mod ps;
mod vm;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use volt_core::{ColorMode, Config, ErrorKind, OutputFormat, Volt};

use cli::{Cli, Color, Command, Format};
use output::View;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config::load();
    let (format, color, debug) = match &config {
        Ok(c) => (
            cli.output.unwrap_or(match c.output {
                OutputFormat::Table => Format::Table,
                OutputFormat::Json => Format::Json,
                OutputFormat::Yaml => Format::Yaml,
            }),
            cli.color.unwrap_or(match c.color {
                ColorMode::Auto => Color::Auto,
                ColorMode::Always => Color::Always,
                ColorMode::Never => Color::Never,
            }),
            cli.debug || c.debug,
        ),
        Err(_) => (cli.output.unwrap_or(Format::Table), cli.color.unwrap_or(Color::Auto), cli.debug),
    };
    let colored = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    init_logging(debug, cli.quiet, colored);
    let result = config.and_then(|c| run(cli.command, c, format, cli.quiet));
    match result {
        Ok(view) => match view.print(format, cli.quiet) {
            Ok(()) => ExitCode::from(view.exit as u8),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("volt: cannot write output: {e}");
                ExitCode::from(ErrorKind::General.exit_code() as u8)
            }
        },
        Err(e) => report(&e, format, colored),
    }
}

fn run(command: Command, config: Config, format: Format, quiet: bool) -> volt_core::Result<View> {
    match command {
        Command::Completion { shell } => {
            generate::completion(shell);
            Ok(View::empty())
        }
        Command::Man { dir } => {
            let files = generate::man_pages(&dir).map_err(|e| volt_core::Error::Io {
                op: "write man pages",
                path: dir.clone(),
                source: e,
            })?;
            let human = format!("wrote {} man pages to {}\n", files.len(), dir.display());
            Ok(View::new(&files, human).id(dir.display().to_string()))
        }
        Command::Cas(cmd) => with_volt(config, |volt| async move { cas::run(&volt, cmd, quiet).await }),
        Command::Image(cmd) => with_volt(config, |volt| async move { image::run(&volt, cmd, quiet).await }),
        // Container commands are synchronous (processes, files, cgroups): no async runtime.
        Command::Container(cmd) => container::run(&Volt::open(config)?, cmd, format, quiet),
        Command::Ps => ps::ps(&Volt::open(config)?),
        Command::Vm(cmd) => vm::run(&Volt::open(config)?, cmd),
        Command::Kernel(cmd) => vm::kernel(&Volt::open(config)?, cmd),
        Command::Tune(cmd) => vm::tune(&Volt::open(config)?, cmd),
        Command::Volume(cmd) => container::volume(&Volt::open(config)?, cmd),
        Command::Network(cmd) => network::run(&Volt::open(config)?, cmd),
        Command::Top { interval, iterations } => container::top(&Volt::open(config)?, interval, iterations, format),
        Command::Registry(cmd) => {
            // The server handles SIGINT/SIGTERM itself (it drains requests in flight).
            let volt = Volt::open(config)?;
            runtime(true)?.block_on(image::registry(&volt, cmd, quiet))
        }
    }
}

fn runtime(multi: bool) -> volt_core::Result<tokio::runtime::Runtime> {
    let mut b =
        if multi { tokio::runtime::Builder::new_multi_thread() } else { tokio::runtime::Builder::new_current_thread() };
    b.enable_all().build().map_err(|e| volt_core::Error::Task(e.to_string()))
}

/// Open Volt and run one command on a runtime; SIGINT/SIGTERM end the process with exit 13.
fn with_volt<F, Fut>(config: Config, f: F) -> volt_core::Result<View>
where
    F: FnOnce(Volt) -> Fut,
    Fut: std::future::Future<Output = volt_core::Result<View>>,
{
    let volt = Volt::open(config)?;
    runtime(true)?.block_on(async {
        tokio::select! {
            r = f(volt) => r,
            sig = interrupted() => {
                // The store stays consistent (staged objects are only published on commit; gc
                // removes leftovers), so leave without waiting for the work.
                eprintln!(
                    "volt: interrupted by {sig}; the store is consistent \
                     (`volt cas gc` removes what the command had staged)"
                );
                std::process::exit(ErrorKind::Interrupted.exit_code());
            }
        }
    })
}

/// Resolves on SIGINT or SIGTERM, naming the signal.
pub(crate) async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn init_logging(debug: bool, quiet: bool, colored: bool) {
    let filter = match (debug, quiet) {
        (true, _) => "debug",
        (false, true) => "error,netlink_packet_route=off",
        (false, false) => "warn,netlink_packet_route=error",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VOLT_LOG").unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .with_ansi(colored)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Print the error and its cause chain; with `--output json`, a JSON object instead.
fn report(e: &volt_core::Error, format: Format, colored: bool) -> ExitCode {
    let kind = e.kind();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            // The reader went away (`volt cas cat … | head`): not an error of ours.
            return ExitCode::SUCCESS;
        }
        src = s.source();
    }
    let line = e.chain();
    if format == Format::Json {
        let j = serde_json::json!({"error": line, "kind": kind.name(), "code": kind.exit_code()});
        println!("{j}");
    } else {
        let prefix = if colored { "\x1b[31merror\x1b[0m" } else { "error" };
        eprintln!("{prefix}: {line}");
    }
    ExitCode::from(kind.exit_code() as u8)
}

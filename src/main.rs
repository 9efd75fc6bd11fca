//! The `linkledger` binary: parse arguments, set up logging, hand over to
//! the command (the daemon, the agent, or one of the CLI's reads and
//! contract actions).

#[macro_use]
mod shown;
mod cli;
mod cli_contract;
mod cli_report;
mod usage;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // LINKLEDGER_LOG, else the usual RUST_LOG, else info.
            tracing_subscriber::EnvFilter::try_from_env("LINKLEDGER_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn")
                }),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a log file or the journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    cli::main(cli)
}

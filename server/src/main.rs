//! The `sealtrail` command: server, migrations, keys, verification, export.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sealtrail",
    version,
    about = "Tamper-evident audit trail for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version.
    Version,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Version => println!("sealtrail {}", sealtrail_core::version()),
    }
    Ok(())
}

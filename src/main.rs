use clap::Parser;
use pocket_catalog::config::{Cli, LogFormat};
use pocket_catalog::{cli, obs};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    obs::logging::init(cli.global.log_format == LogFormat::Json);
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            err.exit_code()
        }
    }
}

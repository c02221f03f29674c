use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = awsops::cli::Cli::parse();
    awsops::telemetry::init(cli.log_format == awsops::cli::LogFormat::Json, cli.sdk_warnings());
    match awsops::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

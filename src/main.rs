use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = awsops::cli::Cli::parse();
    awsops::telemetry::init(cli.log_format == awsops::cli::LogFormat::Json);
    awsops::cli::run(cli).await
}

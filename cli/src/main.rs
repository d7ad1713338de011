//! `ocbgp`, the command-line client of `ocbgpd`. It speaks gNMI to the
//! daemon, like any other management client.

mod import_gobgp;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ocbgp_gnmi::proto::gnmi::{CapabilityRequest, Encoding};

/// Command line of `ocbgp`.
#[derive(Debug, Parser)]
#[command(version, about = "Command-line client for ocbgpd (talks gNMI)")]
struct Args {
    /// gNMI address of the daemon.
    #[arg(long, short = 't', global = true, default_value = "127.0.0.1:9339", env = "OCBGP_TARGET")]
    target: String,

    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the models, encodings and gNMI version the daemon implements.
    ///
    /// Example: `ocbgp capabilities --json`
    Capabilities,

    /// Convert a GoBGP configuration (TOML or YAML) into ocbgpd's OpenConfig
    /// JSON; settings that do not map are listed on standard error.
    ///
    /// Example: `ocbgp import-gobgp /etc/gobgpd.toml -o /etc/ocbgp/ocbgpd.json`
    ImportGobgp {
        /// The GoBGP configuration file (.toml, .yaml or .yml).
        file: std::path::PathBuf,
        /// Where to write the result (default: standard output).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<std::path::PathBuf>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocbgp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    match args.command {
        Command::Capabilities => capabilities(args).await,
        Command::ImportGobgp { ref file, ref output } => Ok(import_gobgp::run(file, output.as_deref())?),
    }
}

async fn capabilities(args: &Args) -> anyhow::Result<()> {
    let mut client = ocbgp_gnmi::connect(&args.target).await.map_err(|e| {
        anyhow::anyhow!("cannot reach ocbgpd at {}: {e} (is the daemon running?)", args.target)
    })?;
    let caps = client.capabilities(CapabilityRequest::default()).await?.into_inner();
    let encodings: Vec<&str> = caps
        .supported_encodings
        .iter()
        .map(|&e| Encoding::try_from(e).map(|e| e.as_str_name()).unwrap_or("UNKNOWN"))
        .collect();
    if args.json {
        let models: Vec<_> = caps
            .supported_models
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "organization": m.organization, "version": m.version}))
            .collect();
        let out = serde_json::json!({
            "gnmi_version": caps.g_nmi_version,
            "encodings": encodings,
            "models": models,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("gNMI version: {}", caps.g_nmi_version);
    println!("encodings:    {}", encodings.join(", "));
    let width = caps.supported_models.iter().map(|m| m.name.len()).max().unwrap_or(5);
    println!("\n{:width$}  VERSION", "MODEL");
    for m in &caps.supported_models {
        println!("{:width$}  {}", m.name, m.version);
    }
    Ok(())
}

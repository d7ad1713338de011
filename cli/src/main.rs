//! `ocbgp`, the command-line client of `ocbgpd`. It speaks gNMI (and gNOI
//! BGP for session resets) to the daemon, like any other management
//! client. Verbs live in their own modules; this file is the command line.

mod bmp;
mod client;
mod commit;
mod monitor;
mod mrt;
mod neighbor;
mod paths;
mod policy;
mod raw;
mod rib;
mod table;

mod import_gobgp;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use ocbgp_gnmi::proto::gnmi::Encoding;

use client::{Conn, ConnectOptions, ReadType};
use paths::Family;

/// Command line of `ocbgp`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Command-line client for ocbgpd (talks gNMI)",
    after_help = "Examples:\n  ocbgp neighbor\n  ocbgp neighbor 192.0.2.1\n  ocbgp global rib 10.1.2.3\n  ocbgp -t 10.0.0.1:9339 -u admin -p secret --tls-ca ca.pem neighbor --json\n\nJSON output shapes: see cli/README.md."
)]
struct Args {
    #[command(flatten)]
    connect: ConnectOptions,

    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Neighbors: summary table, one neighbor's detail, its tables, and session actions.
    #[command(
        args_conflicts_with_subcommands = false,
        after_help = "Examples:\n  ocbgp neighbor                          summary of every neighbor\n  ocbgp neighbor 192.0.2.1                detail\n  ocbgp neighbor 192.0.2.1 adj-in         routes received (after import policy)\n  ocbgp neighbor 192.0.2.1 adj-out 10.0.0.0/24\n  ocbgp neighbor 192.0.2.1 softreset in\n  ocbgp neighbor 192.0.2.1 shutdown"
    )]
    Neighbor {
        /// Neighbor address; without it, the summary of all neighbors.
        address: Option<String>,
        #[command(subcommand)]
        action: Option<NeighborAction>,
    },
    /// BMP monitoring stations: state, counters and what each is sent.
    #[command(after_help = "Examples:\n  ocbgp bmp\n  ocbgp bmp --json")]
    Bmp,
    /// MRT dumps: the configured ones, a one-off table dump, injecting a file.
    #[command(
        after_help = "Examples:\n  ocbgp mrt\n  ocbgp mrt dump /var/lib/ocbgp/rib.mrt\n  ocbgp mrt inject rib.20240101.0000.mrt --count 1000 --prefix 10.0.0.0/8"
    )]
    Mrt {
        #[command(subcommand)]
        action: Option<MrtAction>,
    },
    /// The global (Loc-RIB) table and originated routes.
    #[command(
        after_help = "Examples:\n  ocbgp global rib\n  ocbgp global rib 10.1.2.3\n  ocbgp global rib add 10.9.0.0/24 med 10\n  ocbgp global rib del 10.9.0.0/24"
    )]
    Global {
        #[command(subcommand)]
        what: GlobalCommand,
    },
    /// Routing policy: defined sets and policy statements.
    #[command(
        after_help = "Examples:\n  ocbgp policy\n  ocbgp policy prefix\n  ocbgp policy statement --json"
    )]
    Policy {
        /// Only this kind of set, or the statements.
        #[arg(value_enum)]
        kind: Option<policy::Kind>,
    },
    /// Print changes as they happen, until interrupted (Ctrl-C).
    #[command(
        after_help = "Examples:\n  ocbgp monitor neighbor\n  ocbgp monitor rib -a ipv4 --json"
    )]
    Monitor {
        #[command(subcommand)]
        what: MonitorCommand,
    },
    /// Read any model path (JSON output).
    #[command(
        after_help = "Examples:\n  ocbgp get /network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global\n  ocbgp get /routing-policy --type config\n  ocbgp get '/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor/state/session-state' --type state"
    )]
    Get {
        /// gNMI path, e.g. /routing-policy/defined-sets.
        path: String,
        /// Which data.
        #[arg(long = "type", value_enum, default_value_t = ReadType::All)]
        kind: ReadType,
    },
    /// Change any configuration path (gNMI Set update, or replace).
    #[command(
        after_help = "VALUE is JSON (RFC 7951); a bare word is taken as a string.\n\nExamples:\n  ocbgp set '/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.1]/config/description' 'core router'\n  ocbgp set /routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]/config '{\"name\": \"PS\", \"mode\": \"IPV4\"}'\n  ocbgp set PATH '{...}' --replace"
    )]
    Set {
        /// gNMI path.
        path: String,
        /// The value: JSON, or a bare string.
        value: String,
        /// Replace the subtree instead of merging into it.
        #[arg(long)]
        replace: bool,
    },
    /// Delete any configuration path.
    #[command(
        after_help = "Example:\n  ocbgp delete /routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]"
    )]
    Delete {
        /// gNMI path.
        path: String,
    },
    /// The daemon's commit history (every door's commits: gNMI, NETCONF,
    /// file, rollbacks).
    #[command(after_help = "Examples:\n  ocbgp commit history\n  ocbgp commit history --json")]
    Commit {
        #[command(subcommand)]
        what: CommitCommand,
    },
    /// Make the configuration what it was right after commit ID (see
    /// `ocbgp commit history`), as a new commit with origin ROLLBACK.
    #[command(after_help = "Example:\n  ocbgp rollback 3")]
    Rollback {
        /// The commit to go back to.
        id: u64,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  ocbgp completion bash > /etc/bash_completion.d/ocbgp\n  ocbgp completion zsh > \"${fpath[1]}/_ocbgp\"\n  ocbgp completion fish > ~/.config/fish/completions/ocbgp.fish"
    )]
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Show the models, encodings and gNMI version the daemon implements.
    #[command(after_help = "Example:\n  ocbgp capabilities --json")]
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

#[derive(Debug, Subcommand)]
enum MrtAction {
    /// ocbgpd writes one TABLE_DUMP_V2 snapshot to FILE (an absolute path
    /// on the daemon's machine).
    Dump {
        /// Where ocbgpd writes the dump.
        file: String,
        /// Seconds to wait for it.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Announces the routes of a TABLE_DUMP_V2 or BGP4MP file (read here)
    /// as originated routes, in one commit.
    Inject {
        /// The MRT file.
        file: std::path::PathBuf,
        /// At most this many routes (the first ones in the file).
        #[arg(long)]
        count: Option<usize>,
        /// Only routes inside this prefix.
        #[arg(long)]
        prefix: Option<ipnet::IpNet>,
    },
}

#[derive(Debug, Subcommand)]
enum CommitCommand {
    /// The kept commits, oldest first: id, time, origin, user, number of
    /// changes, comment.
    History,
}

#[derive(Debug, Subcommand)]
enum NeighborAction {
    /// Routes received from the neighbor, after import policy.
    #[command(
        after_help = "Examples:\n  ocbgp neighbor 192.0.2.1 adj-in\n  ocbgp neighbor 192.0.2.1 adj-in 10.1.2.3 -a ipv4"
    )]
    AdjIn {
        /// A prefix (exact) or an address (longest match).
        prefix: Option<String>,
        /// Address family (default: both).
        #[arg(short = 'a', long = "address-family", value_enum)]
        family: Option<Family>,
    },
    /// Routes sent to the neighbor, after export policy.
    #[command(
        after_help = "Examples:\n  ocbgp neighbor 192.0.2.1 adj-out\n  ocbgp neighbor 192.0.2.1 adj-out -a ipv6"
    )]
    AdjOut {
        /// A prefix (exact) or an address (longest match).
        prefix: Option<String>,
        /// Address family (default: both).
        #[arg(short = 'a', long = "address-family", value_enum)]
        family: Option<Family>,
    },
    /// Hard reset: close the session (Cease/Administrative Reset) and set it up again.
    #[command(after_help = "Example:\n  ocbgp neighbor 192.0.2.1 reset")]
    Reset,
    /// Soft reset, the session stays up: `in` re-runs import policy, `out` re-sends our routes; both without an argument.
    #[command(
        after_help = "Examples:\n  ocbgp neighbor 192.0.2.1 softreset\n  ocbgp neighbor 192.0.2.1 softreset in"
    )]
    Softreset {
        /// Direction (default: both).
        #[arg(value_enum)]
        direction: Option<neighbor::Direction>,
    },
    /// Administratively shut the session down (sets config/enabled false).
    #[command(after_help = "Example:\n  ocbgp neighbor 192.0.2.1 shutdown")]
    Shutdown,
    /// Bring a shut down session back (sets config/enabled true).
    #[command(after_help = "Example:\n  ocbgp neighbor 192.0.2.1 enable")]
    Enable,
}

#[derive(Debug, Subcommand)]
enum GlobalCommand {
    /// The Loc-RIB, or originated routes (add, del).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "PREFIX is a prefix (exact match) or an address (longest match).\n\nExamples:\n  ocbgp global rib\n  ocbgp global rib -a ipv6\n  ocbgp global rib 10.1.2.3\n  ocbgp global rib 10.1.0.0/16 --json\n  ocbgp global rib add 10.9.0.0/24 nexthop 192.0.2.10 med 10 community 65000:1 65000:2\n  ocbgp global rib del 10.9.0.0/24"
    )]
    Rib {
        /// A prefix (exact) or an address (longest match).
        prefix: Option<String>,
        /// Address family (default: both).
        #[arg(short = 'a', long = "address-family", value_enum)]
        family: Option<Family>,
        #[command(subcommand)]
        action: Option<RibAction>,
    },
}

#[derive(Debug, Subcommand)]
enum RibAction {
    /// Originate a route (replaces one already originated for the prefix).
    #[command(
        after_help = "Attributes: nexthop ADDR, origin igp|egp|incomplete, med N, local-pref N,\ncommunity C [C ...] (ASN:VALUE or no-export, no-advertise, no-export-subconfed, nopeer),\nlarge-community GA:LD1:LD2 [...]. Without nexthop the session's local address is used.\n\nExample:\n  ocbgp global rib add 10.9.0.0/24 nexthop 192.0.2.10 origin igp med 10 community 65000:1"
    )]
    Add {
        /// The prefix.
        prefix: String,
        /// Attributes as WORD VALUE pairs.
        attributes: Vec<String>,
    },
    /// Withdraw an originated route.
    #[command(after_help = "Example:\n  ocbgp global rib del 10.9.0.0/24")]
    Del {
        /// The prefix.
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
enum MonitorCommand {
    /// Session state changes of every neighbor, or of one.
    #[command(
        after_help = "Examples:\n  ocbgp monitor neighbor\n  ocbgp monitor neighbor 192.0.2.1 --json"
    )]
    Neighbor {
        /// Neighbor address.
        address: Option<String>,
    },
    /// Loc-RIB changes.
    #[command(after_help = "Examples:\n  ocbgp monitor rib\n  ocbgp monitor rib -a ipv4 --json")]
    Rib {
        /// Address family (default: both).
        #[arg(short = 'a', long = "address-family", value_enum)]
        family: Option<Family>,
    },
}

/// mimalloc instead of glibc's malloc: faster small allocations and frees
/// across threads (docs/benchmarks.md measures both).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let json = args.json;
    if let Command::Completion { shell } = &args.command {
        clap_complete::generate(
            *shell,
            &mut Args::command(),
            "ocbgp",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    // The converter works on files alone: no daemon needed.
    if let Command::ImportGobgp { file, output } = &args.command {
        return Ok(import_gobgp::run(file, output.as_deref())?);
    }
    let mut conn = Conn::open(&args.connect).await?;
    let c = &mut conn;
    match &args.command {
        Command::Neighbor {
            address: None,
            action: None,
        } => neighbor::summary(c, json).await,
        Command::Bmp => bmp::list_stations(c, json).await,
        Command::Mrt { action: None } => mrt::list_dumps(c, json).await,
        Command::Mrt {
            action: Some(MrtAction::Dump { file, timeout }),
        } => mrt::dump(c, file, std::time::Duration::from_secs(*timeout), json).await,
        Command::Mrt {
            action:
                Some(MrtAction::Inject {
                    file,
                    count,
                    prefix,
                }),
        } => mrt::inject(c, file, *count, *prefix, json).await,
        Command::Neighbor {
            address: None,
            action: Some(_),
        } => {
            anyhow::bail!("give the neighbor's address first: ocbgp neighbor ADDR ...")
        }
        Command::Neighbor {
            address: Some(a),
            action,
        } => match action {
            None => neighbor::detail(c, a, json).await,
            Some(NeighborAction::AdjIn { prefix, family }) => {
                let filter = rib::Filter::parse(prefix.as_deref())?;
                rib::show(c, rib::TableKind::AdjIn(a.clone()), *family, filter, json).await
            }
            Some(NeighborAction::AdjOut { prefix, family }) => {
                let filter = rib::Filter::parse(prefix.as_deref())?;
                rib::show(c, rib::TableKind::AdjOut(a.clone()), *family, filter, json).await
            }
            Some(NeighborAction::Reset) => neighbor::clear(c, a, true, None, json).await,
            Some(NeighborAction::Softreset { direction }) => {
                neighbor::clear(c, a, false, *direction, json).await
            }
            Some(NeighborAction::Shutdown) => neighbor::set_enabled(c, a, false, json).await,
            Some(NeighborAction::Enable) => neighbor::set_enabled(c, a, true, json).await,
        },
        Command::Global {
            what:
                GlobalCommand::Rib {
                    prefix,
                    family,
                    action,
                },
        } => match action {
            None => {
                let filter = rib::Filter::parse(prefix.as_deref())?;
                rib::show(c, rib::TableKind::Loc, *family, filter, json).await
            }
            Some(RibAction::Add { prefix, attributes }) => {
                rib::add(c, prefix, attributes, json).await
            }
            Some(RibAction::Del { prefix }) => rib::del(c, prefix, json).await,
        },
        Command::Policy { kind } => policy::show(c, *kind, json).await,
        Command::Monitor {
            what: MonitorCommand::Neighbor { address },
        } => monitor::neighbor(c, address.as_deref(), json).await,
        Command::Monitor {
            what: MonitorCommand::Rib { family },
        } => monitor::rib(c, *family, json).await,
        Command::Get { path, kind } => raw::get(c, path, *kind, json).await,
        Command::Set {
            path,
            value,
            replace,
        } => raw::set(c, path, value, *replace, json).await,
        Command::Delete { path } => raw::delete(c, path, json).await,
        Command::Capabilities => capabilities(c, json).await,
        Command::Commit {
            what: CommitCommand::History,
        } => commit::history(c, json).await,
        Command::Rollback { id } => commit::rollback(c, *id, json).await,
        Command::Completion { .. } | Command::ImportGobgp { .. } => {
            unreachable!("handled before connecting")
        }
    }
}

async fn capabilities(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let caps = conn.capabilities().await?;
    let encodings: Vec<&str> = caps
        .supported_encodings
        .iter()
        .map(|&e| {
            Encoding::try_from(e)
                .map(|e| e.as_str_name())
                .unwrap_or("UNKNOWN")
        })
        .collect();
    if json {
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
        table::print_json(&out);
        return Ok(());
    }
    println!("gNMI version: {}", caps.g_nmi_version);
    println!("encodings:    {}", encodings.join(", "));
    let mut t = table::Table::new(&["MODEL", "VERSION"]);
    for m in &caps.supported_models {
        t.row(vec![m.name.clone(), m.version.clone()]);
    }
    println!();
    t.print();
    Ok(())
}

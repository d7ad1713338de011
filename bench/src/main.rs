//! `bgpbench`: how fast a BGP daemon takes in a full table and passes it
//! on.
//!
//! - `inject` sends a generated table of a million IPv4 prefixes over one
//!   eBGP session ([`inject`]);
//! - `sink` runs N eBGP speakers that count what they are sent
//!   ([`sink`]);
//! - `run` puts a daemon between them in network namespaces and measures
//!   the time from the first UPDATE until every sink has every prefix, and
//!   the daemon's peak memory and CPU time ([`run`]);
//! - `run --policy` (ocbgpd) adds a 100,000-entry prefix-set import policy
//!   and times the re-evaluation after one entry changes, editing through
//!   `policy-set`, a one-shot gNMI Set ([`policy`]);
//! - `run --restart-daemon kill|term` (ocbgpd) restarts the daemon under
//!   the loaded table with graceful restart towards the injector and the
//!   sinks, which act as helpers ([`restart`]);
//! - `run --netconf-get`, `--mrt-dump`, `--mrt-dump-during`, `--bmp`
//!   (ocbgpd) read the table through NETCONF, an MRT dump and a BMP
//!   station (`netconf-get`, `bmp-station`; [`nc_load`]);
//! - `run --fib` installs the table into the kernel of the daemon's
//!   namespace and times it until the kernel holds every route
//!   (`fib-count`; [`fib`]);
//! - `run --rpki-vrps N` (ocbgpd) loads N VRPs from a stayrtr cache
//!   before the table and validates it ([`rpki`]);
//! - `commit` times small gNMI Sets on a large configuration (ocbgpd on
//!   loopback, no table; [`commit`]);
//! - `table` turns `run`'s JSON lines into a Markdown table.
//!
//! See docs/benchmarks.md and bench/scripts/fullfeed.sh.

mod cli_load;
mod commit;
mod daemons;
mod event;
mod fib;
mod gen;
mod gnmi_load;
mod inject;
mod measure;
mod nc_load;
mod netns;
mod policy;
mod restart;
mod rpki;
mod run;
mod sink;
mod speaker;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Command line of `bgpbench`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Full-table BGP benchmark: injector, sinks, and a daemon between them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Send a generated full table over one eBGP session.
    Inject(inject::InjectArgs),
    /// Run N sinks that count the prefixes they are sent.
    Sink(sink::SinkArgs),
    /// Run the whole scenario for one daemon (root: creates namespaces).
    Run(run::RunArgs),
    /// One gNMI Set (used by `run --policy` in the daemon's namespace).
    PolicySet(policy::PolicySetArgs),
    /// gNMI ON_CHANGE subscribers to ocbgpd's Loc-RIB (used by `run`).
    GnmiSub(gnmi_load::SubArgs),
    /// One gNMI Get of ocbgpd's Loc-RIB (used by `run`).
    GnmiGet(gnmi_load::GetArgs),
    /// One NETCONF <get> of ocbgpd's Loc-RIB, counting routes as they
    /// stream in (used by `run --netconf-get`).
    NetconfGet(nc_load::NetconfGetArgs),
    /// A BMP station that counts the Loc-RIB routes it is sent (used by
    /// `run --bmp`).
    BmpStation(nc_load::BmpStationArgs),
    /// Count one kernel table's routes of one protocol until N are there
    /// (used by `run --fib` in the daemon's namespace).
    FibCount(fib::FibCountArgs),
    /// Print `run`'s JSON result lines (files or stdin) as a Markdown table.
    Table(table::TableArgs),
    /// Small gNMI Sets on a large configuration (ocbgpd on loopback).
    Commit(commit::CommitArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the sinks' work is light, and a single thread saves the
    // cross-thread wake-ups that would take CPU from the daemon under test.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bgpbench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Inject(args) => inject::run(args).await,
            Command::Sink(args) => sink::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Table(args) => table::run(args),
            Command::PolicySet(args) => policy::set(args).await,
            Command::GnmiSub(args) => gnmi_load::run_sub(args).await,
            Command::GnmiGet(args) => gnmi_load::run_get(args).await,
            Command::NetconfGet(args) => nc_load::netconf_get(args).await,
            Command::BmpStation(args) => nc_load::bmp_station(args).await,
            Command::FibCount(args) => fib::count(args).await,
            Command::Commit(args) => commit::run(args).await,
        }
    });
    // Tasks blocked on sockets must not hold the exit up.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgpbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT, or after `duration` seconds if given;
/// says which.
pub(crate) async fn stop_signal(duration: Option<u64>) -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers only the duration can end the run.
        match duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending::<()>().await,
        }
        return "duration over";
    };
    let timer = async {
        match duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = timer => "duration over",
    }
}

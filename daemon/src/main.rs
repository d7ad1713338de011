//! `ocbgpd`, the ocbgp daemon: loads and validates its configuration, then
//! serves the management doors onto it.

mod logging;
mod metrics;
mod reload;
mod restart;
mod servers;
mod startup;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Command line of `ocbgpd`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "BGP daemon whose configuration and state are the OpenConfig model"
)]
pub struct Args {
    /// Configuration file (OpenConfig JSON per RFC 7951, or XML); without it
    /// the embedded default configuration is used.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,

    /// Directory where the running configuration is saved on every commit.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/ocbgp",
        env = "OCBGP_STATE_DIR"
    )]
    state_dir: PathBuf,

    /// Check FILE as a commit would and exit: 0 if valid, 1 if not. Beyond
    /// the schema: BGP settings and policies resolve, listen addresses are
    /// the host's, TLS files and the NETCONF host key (in --state-dir)
    /// read and parse. Ports are not bound (a running daemon may hold
    /// them).
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    check: Option<PathBuf>,

    /// With --check: only what does not depend on this host (schema, BGP
    /// settings, policies, users, gNMI exposure rules), for a file meant
    /// for another machine; addresses, TLS files and the host key are not
    /// looked at.
    #[arg(long, requires = "check")]
    no_host: bool,

    /// Print the embedded default configuration and exit.
    #[arg(long)]
    print_default_config: bool,

    /// Print the configuration saved in --state-dir (its snapshot with the
    /// journal of later commits applied) and exit: for backups and
    /// `--check`, also while ocbgpd runs.
    #[arg(long, conflicts_with_all = ["config", "check"])]
    print_saved: bool,

    /// Log format.
    #[arg(long, value_enum, default_value_t = logging::Format::Human)]
    log_format: logging::Format,
}

/// mimalloc instead of glibc's malloc: faster small allocations and frees
/// across threads (docs/benchmarks.md measures both). Its `override`
/// feature (the workspace's Cargo.toml) makes it the C library's malloc
/// too, so libyang's trees (a million small nodes with a large
/// configuration) pay no per-chunk header and no 16-byte rounding:
/// 134 MB instead of 162 MB with issue #19's large configuration. Memory
/// profilers that interpose malloc (heaptrack) see nothing of it; profile
/// a build with both removed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freed memory goes back to the system 10 ms after mimalloc sees it
/// free (its version 2 default) rather than after a second (version 3's):
/// a second is long enough for a thread to go quiet first (a runtime
/// worker after start-up, a blocking thread after a commit), and a quiet
/// thread never gets round to it. With issue #19's large configuration:
/// 134 MB instead of 143 MB, and whole-config replaces no slower (0 ms
/// was slower; docs/benchmarks.md). `MIMALLOC_PURGE_DELAY`, set, still
/// wins.
fn tune_allocator() {
    const NAME: &str = "MIMALLOC_PURGE_DELAY";
    // mimalloc's `mi_option_purge_delay` (`mimalloc.h`).
    const PURGE_DELAY: std::ffi::c_int = 15;
    extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os(NAME).is_none() {
        // SAFETY: mi_option_set stores an integer in mimalloc's option
        // table; PURGE_DELAY is an option of the linked version.
        unsafe { mi_option_set(PURGE_DELAY, 10) }
    }
}

/// After a gNMI Set or a streamed NETCONF read, the thread that served it
/// (a blocking-pool thread that may sit idle for a while) hands its freed
/// pages back at once (the request's, and those of the configuration it
/// replaced or of the entries it wrote) instead of keeping them for its
/// next allocations.
pub(crate) fn release_freed_memory() {
    // mimalloc's own C API, linked in with the allocator (the mimalloc
    // crate exposes it only behind a feature that pulls in another crate).
    extern "C" {
        fn mi_collect(force: bool);
    }
    // SAFETY: mi_collect only walks the calling thread's mimalloc heap; it
    // takes no pointers and may be called at any time.
    unsafe { mi_collect(true) }
}

/// Keeps the kernel from backing the heap with transparent huge pages.
/// With them, each first touch of a 2 MiB region zeroes all of it and
/// keeps it resident however little of it the allocator uses: in the
/// full-table benchmark the daemon held 30-37 MB before any route and
/// 173-181 MB at the peak with them, 18-20 and 151-161 MB without, and
/// converged no slower (docs/benchmarks.md). The same as mimalloc's
/// `MIMALLOC_ALLOW_THP=0`, for the whole process (libyang's allocations
/// too).
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes
    // nothing but this process's huge page policy.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        // Older kernels lack it: the daemon works the same, using more memory.
        tracing::debug!(
            "transparent huge pages stay on: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    tune_allocator();
    let args = Args::parse();
    logging::init(args.log_format);
    ocbgp_gnmi::set_after_set(release_freed_memory);
    ocbgp_netconf::set_after_streamed(release_freed_memory);

    if args.print_default_config {
        print!("{}", startup::DEFAULT_CONFIG);
        return ExitCode::SUCCESS;
    }
    if args.print_saved {
        return match ocbgp_models::datastore::saved(&args.state_dir) {
            Ok(Some(config)) => match config.print(ocbgp_models::config::Encoding::Json) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            },
            Ok(None) => {
                eprintln!("nothing saved in {}", args.state_dir.display());
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(file) = &args.check {
        return match startup::check_file(file, &args.state_dir, !args.no_host) {
            Ok(notes) => {
                println!("{}: valid", file.display());
                for note in notes {
                    println!("note: {note}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(startup::run(args.config.as_deref(), &args.state_dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

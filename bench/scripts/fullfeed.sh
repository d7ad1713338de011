#!/usr/bin/env bash
# Full-table benchmark: a generated table of IPv4 prefixes is injected into
# each daemon, which passes it on to 1 and to 10 sinks; measures the seconds
# from the first UPDATE until every sink has every prefix, the daemon's peak
# RSS and its CPU time. Prints the results as a Markdown table for
# docs/benchmarks.md.
#
#   bench/scripts/fullfeed.sh                  # 1,000,000 prefixes, every daemon
#   bench/scripts/fullfeed.sh --quick          # 100,000 prefixes
#   bench/scripts/fullfeed.sh --daemons "bird frr" --sinks "1 10" --prefixes 500000
#
# Options:
#   --prefixes N      table size (default 1000000)
#   --quick           same as --prefixes 100000
#   --daemons LIST    among: ocbgpd gobgpd bird frr (default: all four)
#   --sinks LIST      sink counts (default: "1 10")
#   --injectors LIST  injector counts (default: 1); above 1, each injector
#                     sends the same prefixes with paths of its own and the
#                     sinks wait for every prefix's best path
#   --repeat N        runs per daemon and sink count; the table shows medians
#                     (default 1)
#   --timeout S       seconds allowed per run from the first UPDATE (default 600)
#   --results FILE    where the JSON result lines go (default: a file in /tmp)
#   --no-build        use the binaries already in target/release
#
# Needs root (network namespaces) and the daemons: scripts/install-deps test
# installs gobgpd, bird2 and frr; ocbgpd is built here. A daemon that is
# missing is skipped; a run that fails or times out gets a row saying so.
set -euo pipefail

prefixes=1000000
daemons="ocbgpd gobgpd bird frr"
sinks="1 10"
injectors="1"
timeout=600
repeat=1
results=""
build=1

while [ $# -gt 0 ]; do
  case "$1" in
    --prefixes) prefixes=$2; shift 2 ;;
    --quick) prefixes=100000; shift ;;
    --daemons) daemons=$2; shift 2 ;;
    --sinks) sinks=$2; shift 2 ;;
    --injectors) injectors=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fullfeed: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "fullfeed: needs root to create network namespaces" >&2
  exit 1
fi

cd "$(dirname "$0")/../.."
results=${results:-/tmp/fullfeed-$(date +%Y%m%d-%H%M%S).jsonl}

if [ "$build" = 1 ]; then
  packages=(-p ocbgp-bench)
  case " $daemons " in *" ocbgpd "*) packages+=(-p ocbgpd) ;; esac
  echo "fullfeed: cargo build --release ${packages[*]}" >&2
  cargo build --release --locked "${packages[@]}"
fi
target=${CARGO_TARGET_DIR:-target}
bench=$target/release/bgpbench

binary_of() {
  case "$1" in
    ocbgpd) echo "$target/release/ocbgpd" ;;
    gobgpd) echo /usr/bin/gobgpd ;;
    bird) echo /usr/sbin/bird ;;
    frr) echo /usr/lib/frr/bgpd ;;
    *) echo "fullfeed: unknown daemon $1" >&2; return 1 ;;
  esac
}

version_of() {
  case "$1" in
    ocbgpd) "$target/release/ocbgpd" --version 2>/dev/null | head -1 ;;
    gobgpd) gobgpd --version 2>/dev/null | head -1 ;;
    bird) bird --version 2>&1 | head -1 ;;
    frr) /usr/lib/frr/bgpd --version 2>/dev/null | head -1 ;;
  esac
}

echo "fullfeed: $prefixes prefixes; results in $results" >&2
: >"$results"
for daemon in $daemons; do
  binary=$(binary_of "$daemon")
  if [ ! -x "$binary" ]; then
    echo "fullfeed: $daemon not found at $binary, skipped (scripts/install-deps test)" >&2
    continue
  fi
  echo "fullfeed: $daemon: $(version_of "$daemon")" >&2
  for i in $injectors; do
    for n in $sinks; do
      for run in $(seq "$repeat"); do
        echo "fullfeed: $daemon with $i injector(s), $n sink(s), run $run of $repeat..." >&2
        # One JSON result line per run, kept even when the run fails.
        "$bench" run --daemon "$daemon" --binary "$binary" --sinks "$n" --injectors "$i" \
          --prefixes "$prefixes" --timeout "$timeout" | tee -a "$results" | grep -v '^{' >&2 || true
      done
    done
  done
done

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo
"$bench" table "$results"

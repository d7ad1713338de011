//! The server driven by ncclient and netconf-console2 (Python), run with
//! `python3 -c`.

mod common;

use common::Server;

async fn run(name: &str, script: &str) {
    let server = Server::start(name).await;
    let out = server.python(script).await;
    assert!(out.trim_end().ends_with("OK"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_candidate_validate_commit() {
    run("py-commit", include_str!("python/candidate_commit.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_confirmed_commit() {
    run("py-confirmed", include_str!("python/confirmed_commit.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_locks_and_kill_session() {
    run("py-locks", include_str!("python/locks.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_edit_operations_and_errors() {
    run("py-edit", include_str!("python/edit_operations.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_filters_and_with_defaults() {
    run("py-filters", include_str!("python/filters.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncclient_get_schema() {
    run("py-schema", include_str!("python/get_schema.py")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netconf_console2_scenario() {
    run("py-console", include_str!("python/netconf_console.py")).await;
}

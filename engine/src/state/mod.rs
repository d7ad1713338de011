//! The engine's half of the operational datastore: session state, counters
//! and routes, written into the model's `config false` nodes.
//!
//! Neighbor and global state are small and written whole. The RIB is never
//! written into a tree: both doors read it as a stream of entries
//! (`rib_stream.rs`, [`StateProvider::stream_state`]) and follow it
//! through the route change feed ([`StateProvider::stream_changes`]).

mod neighbor;
mod rib_nodes;
mod rib_stream;

use std::time::Duration;

use ocbgp_models::datastore::{StateProvider, StateStream, StreamChange};
use ocbgp_models::gen::state::{DumpState, GlobalState, StationState};
use ocbgp_models::ModelError;
use yang2::data::DataTree;

use crate::config::bgp_path;
use crate::engine::Engine;

/// How long a state read waits for the RIB task.
const RIB_WAIT: Duration = Duration::from_secs(10);

/// Serves the engine's state to the datastore.
pub struct EngineState {
    engine: Engine,
}

impl EngineState {
    /// State of `engine`.
    pub fn new(engine: Engine) -> EngineState {
        EngineState { engine }
    }
}

/// Whether a read of `path` wants the subtree at `subtree` (one is a
/// prefix of the other).
fn wants(path: &str, subtree: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty() || subtree.starts_with(path) || path.starts_with(subtree)
}

/// The BMP stations' state: settings in force and connection counters.
fn write_stations(
    engine: &Engine,
    tree: &mut DataTree<'static>,
    path: &str,
) -> Result<(), ModelError> {
    use crate::bmp::counter;
    use ocbgp_models::gen::types::StationSessionState;
    use std::sync::atomic::Ordering;
    for v in engine.bmp_stations() {
        let s = &v.settings;
        let at = format!(
            "{}/ocbgp:bmp/station[address='{}'][port='{}']/state",
            bgp_path(),
            s.address,
            s.port
        );
        if !wants(path, &at) {
            continue;
        }
        let state = StationState {
            address: Some(s.address),
            port: Some(s.port),
            adj_rib_in_pre_policy: Some(s.pre_policy),
            adj_rib_in_post_policy: Some(s.post_policy),
            loc_rib: Some(s.loc_rib),
            adj_rib_out_pre_policy: Some(s.out_pre_policy),
            adj_rib_out_post_policy: Some(s.out_post_policy),
            statistics_interval: Some(s.statistics_interval),
            session_state: Some(if v.stats.up.load(Ordering::Relaxed) {
                StationSessionState::Up
            } else {
                StationSessionState::Down
            }),
            messages_sent: Some(counter(&v.stats.messages_sent)),
            drops: Some(counter(&v.stats.drops)),
            connections: Some(counter(&v.stats.connections)),
            last_error: v.stats.last_error(),
        };
        state.write(tree, &at)?;
    }
    Ok(())
}

/// The MRT dumps' state: settings in force and the file being written.
fn write_dumps(
    engine: &Engine,
    tree: &mut DataTree<'static>,
    path: &str,
) -> Result<(), ModelError> {
    use crate::mrt::DumpKind;
    use ocbgp_models::gen::types::DumpType;
    for v in engine.mrt_dumps() {
        let s = &v.settings;
        let at = format!(
            "{}/ocbgp:mrt/dump[name={}]/state",
            bgp_path(),
            ocbgp_models::path::quote(&s.name)
        );
        if !wants(path, &at) {
            continue;
        }
        DumpState {
            name: Some(s.name.clone()),
            r#type: Some(match s.kind {
                DumpKind::Updates => DumpType::Updates,
                DumpKind::Table => DumpType::Table,
            }),
            file_name: Some(s.file_name.clone()),
            rotation_interval: Some(s.rotation_interval),
            current_file: v.stats.current_file(),
        }
        .write(tree, &at)?;
    }
    Ok(())
}

impl StateProvider for EngineState {
    fn write_state(&self, tree: &mut DataTree<'static>, path: &str) -> Result<(), ModelError> {
        let bgp = bgp_path();
        if !wants(path, &bgp) {
            return Ok(());
        }
        write_stations(&self.engine, tree, path)?;
        write_dumps(&self.engine, tree, path)?;
        let Some(global) = self.engine.global() else {
            return Ok(());
        };
        let rib = self.engine.rib();
        let totals = rib
            .as_ref()
            .and_then(|r| {
                r.query_blocking(RIB_WAIT, |rib| {
                    (rib.v4().len() + rib.v6().len(), rib.paths())
                })
            })
            .unwrap_or((0, 0));
        let g = GlobalState {
            r#as: Some(global.asn),
            router_id: Some(global.router_id),
            total_prefixes: Some(totals.0 as u32),
            total_paths: Some(totals.1 as u32),
            client_to_client_reflection: Some(global.client_to_client),
        };
        let global_state = format!("{bgp}/global/state");
        if wants(path, &global_state) {
            g.write(tree, &global_state)?;
        }
        for (cache, st) in self.engine.rpki_caches() {
            let at = format!(
                "{bgp}/global/ocbgp:rpki/caches/cache[address='{}'][port='{}']/state",
                cache.address.ip(),
                cache.address.port()
            );
            if !wants(path, &at) {
                continue;
            }
            use std::sync::atomic::Ordering::Relaxed;
            let up = st.established.load(Relaxed);
            let mut leaves = vec![
                (
                    "session-state",
                    (if up { "ESTABLISHED" } else { "CONNECTING" }).to_string(),
                ),
                (
                    "ipv4-vrps",
                    st.v4.load(Relaxed).min(u64::from(u32::MAX)).to_string(),
                ),
                (
                    "ipv6-vrps",
                    st.v6.load(Relaxed).min(u64::from(u32::MAX)).to_string(),
                ),
            ];
            if up {
                leaves.push(("session-id", st.session.load(Relaxed).to_string()));
                leaves.push(("serial", st.serial.load(Relaxed).to_string()));
            }
            if let Some(e) = st
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                leaves.push(("last-error", e));
            }
            for (leaf, value) in leaves {
                tree.new_path(&format!("{at}/{leaf}"), Some(&value), false)?;
            }
        }
        let fib_state = format!("{bgp}/global/ocbgp:fib/state");
        if let Some((settings, stats)) = self.engine.fib().filter(|_| wants(path, &fib_state)) {
            use std::sync::atomic::Ordering::Relaxed;
            for (leaf, n) in [
                ("installed", stats.installed.len() as u64),
                ("failed", stats.failed.load(Relaxed)),
            ] {
                let n = n.min(u64::from(u32::MAX)).to_string();
                tree.new_path(&format!("{fib_state}/{leaf}"), Some(&n), false)?;
            }
            if matches!(settings.backend, crate::fib::FibBackend::Zebra(_)) {
                let connected = stats.connected.load(Relaxed);
                let state = if connected { "CONNECTED" } else { "CONNECTING" };
                tree.new_path(&format!("{fib_state}/connection-state"), Some(state), false)?;
                let error = stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if let Some(e) = error {
                    tree.new_path(&format!("{fib_state}/last-error"), Some(&e), false)?;
                }
            }
        }
        neighbor::write_all(&self.engine, rib.as_ref(), tree, path)?;
        Ok(())
    }

    fn stream_state(&self, path: &str) -> Option<StateStream> {
        self.stream_states(&[path.to_string()]).pop().flatten()
    }

    fn stream_states(&self, paths: &[String]) -> Vec<Option<StateStream>> {
        let rib_path = format!("{}/rib", bgp_path());
        let sels: Vec<Option<rib_stream::Selection>> = paths
            .iter()
            .map(|p| rib_stream::Selection::of(p, &rib_path))
            .collect();
        let rib = match (self.engine.global(), self.engine.rib()) {
            (Some(_), Some(rib)) if sels.iter().any(Option::is_some) => rib,
            _ => return paths.iter().map(|_| None).collect(),
        };
        rib_stream::streams(&self.engine, &rib, sels)
    }

    fn stream_state_nested(&self, path: &str) -> Option<StateStream> {
        let mut sel = rib_stream::Selection::of(path, &format!("{}/rib", bgp_path()))?;
        sel.nested = true;
        let rib = self.engine.rib()?;
        self.engine.global()?;
        rib_stream::streams(&self.engine, &rib, vec![Some(sel)])
            .pop()
            .flatten()
    }

    fn stream_changes(&self, path: &str) -> Option<tokio::sync::mpsc::Receiver<StreamChange>> {
        let sel = rib_stream::Selection::of(path, &format!("{}/rib", bgp_path()))?;
        self.engine.global()?;
        let rib = self.engine.rib()?;
        rib_stream::changes(self.engine.clone(), rib, sel)
    }
}

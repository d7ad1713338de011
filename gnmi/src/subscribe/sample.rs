//! Timing of subscriptions: which trigger each subscribed path gets, the
//! checks on sample and heartbeat intervals, and the TARGET_DEFINED choice.
//!
//! * SAMPLE: every `sample_interval`; 0 means the smallest interval served
//!   ([`super::SubscribeOptions::min_sample_interval`], 1 s by default);
//!   a smaller non-zero interval is refused with `InvalidArgument`, as the
//!   specification asks of an interval the target cannot serve.
//! * heartbeat_interval: the same lower bound; 0 means none.
//! * TARGET_DEFINED: per leaf. Configuration leaves and state leaves that
//!   report events (session-state, established-transitions, time stamps,
//!   capabilities and the like) are sent ON_CHANGE; counters (counter
//!   typedefs, message, queue and prefix counts) are sampled every
//!   [`super::SubscribeOptions::target_defined_sample`] (10 s by default).

use std::time::Duration;

use tonic::Status;

use super::{Entry, Filter, SubscribeOptions, Trigger};
use crate::data::Query;
use crate::proto::gnmi::{Subscription, SubscriptionMode};

/// A nanosecond interval from a request.
fn interval(ns: u64) -> Duration {
    Duration::from_nanos(ns)
}

/// Checks an interval against the smallest one served; `None` for 0.
fn bounded(
    what: &str,
    ns: u64,
    query: &Query,
    options: &SubscribeOptions,
) -> Result<Option<Duration>, Status> {
    if ns == 0 {
        return Ok(None);
    }
    let asked = interval(ns);
    if asked < options.min_sample_interval {
        return Err(Status::invalid_argument(format!(
            "{}: {what} {} ns is below the smallest interval served, {} ns",
            query.text(),
            ns,
            options.min_sample_interval.as_nanos()
        )));
    }
    Ok(Some(asked))
}

/// The entries a STREAM subscription to one path makes: one, or two for
/// TARGET_DEFINED on a subtree with state (events on change, counters
/// sampled).
pub(super) fn stream_entries(
    sub: &Subscription,
    query: Query,
    options: &SubscribeOptions,
) -> Result<Vec<Entry>, Status> {
    let heartbeat = bounded(
        "heartbeat_interval",
        sub.heartbeat_interval,
        &query,
        options,
    )?;
    let mode = SubscriptionMode::try_from(sub.mode).map_err(|_| {
        Status::invalid_argument(format!(
            "{}: unknown subscription mode {}",
            query.text(),
            sub.mode
        ))
    })?;
    Ok(match mode {
        SubscriptionMode::OnChange => vec![Entry::new(
            query,
            Trigger::OnChange,
            Filter::All,
            false,
            heartbeat,
        )],
        SubscriptionMode::Sample => {
            let every = bounded("sample_interval", sub.sample_interval, &query, options)?
                .unwrap_or(options.min_sample_interval);
            vec![Entry::new(
                query,
                Trigger::Sample(every),
                Filter::All,
                sub.suppress_redundant,
                heartbeat,
            )]
        }
        SubscriptionMode::TargetDefined => {
            let mut out = Vec::with_capacity(2);
            if query.has_state {
                out.push(Entry::new(
                    query.clone(),
                    Trigger::Sample(options.target_defined_sample),
                    Filter::Counters,
                    false,
                    heartbeat,
                ));
            }
            out.insert(
                0,
                Entry::new(query, Trigger::OnChange, Filter::Events, false, heartbeat),
            );
            out
        }
    })
}

//! `foldline audit`: what an auditor runs against the event store.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use foldline_aggregates::audit::{self, At, AuditError, AuditedEvent};
use foldline_aggregates::chain::{self, Break, Checkpoint};
use sqlx::PgPool;
use uuid::Uuid;

/// `audit verify`: walks every chain, prints each break with its position,
/// and says whether the store is intact.
pub async fn verify(
    pool: &PgPool,
    organization: Option<Uuid>,
    against: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let checkpoint: Option<Checkpoint> = against
        .map(|path| -> anyhow::Result<Checkpoint> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the checkpoint {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a foldline checkpoint", path.display()))
        })
        .transpose()?;
    let started = Instant::now();
    let found = chain::verify(pool, organization, checkpoint.as_ref()).await?;
    for broken in &found.breaks {
        writeln!(out, "{}", describe(broken))?;
    }
    writeln!(
        out,
        "{} events in {} streams verified in {:.1} s{}: {}",
        found.events,
        found.streams,
        started.elapsed().as_secs_f64(),
        checkpoint
            .as_ref()
            .map(|c| format!(" against the checkpoint of {}", c.taken_at.to_rfc3339()))
            .unwrap_or_default(),
        match found.breaks.len() {
            0 => "intact".to_owned(),
            1 => "1 break".to_owned(),
            n => format!("{n} breaks"),
        }
    )?;
    Ok(found.breaks.is_empty())
}

/// One break, in a line that starts with its global position.
pub fn describe(broken: &Break) -> String {
    match broken {
        Break::Altered {
            global_position,
            stream,
            sequence,
        } => format!(
            "position {global_position}: {stream} event {sequence} does not match its hash (altered)"
        ),
        Break::Gap {
            global_position,
            stream,
            expected,
            found,
        } => format!(
            "position {global_position}: {stream} goes to event {found} where {expected} should come (removed, moved or reordered before it)"
        ),
        Break::Removed {
            stream,
            sequence,
            global_position,
        } => format!(
            "position {global_position}: {stream} event {sequence}, its head at the checkpoint, is gone (removed since)"
        ),
        Break::Rewritten {
            stream,
            sequence,
            global_position,
        } => format!(
            "position {global_position}: {stream} event {sequence} has another hash than at the checkpoint (rewritten since)"
        ),
    }
}

/// `audit checkpoint`: every stream's head, as JSON, for the auditor to keep.
pub async fn checkpoint(
    pool: &PgPool,
    organization: Option<Uuid>,
    out: &mut impl Write,
) -> anyhow::Result<Checkpoint> {
    let checkpoint = chain::checkpoint(pool, organization).await?;
    serde_json::to_writer_pretty(&mut *out, &checkpoint)?;
    writeln!(out)?;
    Ok(checkpoint)
}

/// Events read per query when printing a stream, a request or an export.
const PAGE: i64 = 1_000;

/// `audit stream`: every event of one stream, as a table or JSON Lines.
pub async fn stream(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let pages = |after| audit::stream(pool, aggregate_type, id, None, after, PAGE);
    let printed = print_events(json, false, out, pages, |event| event.sequence).await?;
    if printed == 0 {
        anyhow::bail!("no events for {aggregate_type} {id}");
    }
    Ok(printed)
}

/// `audit request`: every event one request caused, across aggregates.
pub async fn request(
    pool: &PgPool,
    correlation_id: Uuid,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let pages = |after| audit::request(pool, correlation_id, None, after, PAGE);
    let printed = print_events(json, true, out, pages, |event| event.global_position).await?;
    if printed == 0 {
        anyhow::bail!("no events with correlation id {correlation_id}");
    }
    Ok(printed)
}

/// Prints every page `pages(after)` gives, each starting after the
/// `cursor` of the last event printed; returns how many it printed.
async fn print_events<F, P>(
    json: bool,
    with_stream: bool,
    out: &mut impl Write,
    pages: F,
    cursor: fn(&AuditedEvent) -> i64,
) -> anyhow::Result<u64>
where
    F: Fn(i64) -> P,
    P: Future<Output = Result<Vec<AuditedEvent>, AuditError>>,
{
    if !json {
        let stream = if with_stream { "stream  " } else { "" };
        writeln!(out, "{stream}{EVENT_HEADER}")?;
    }
    let mut printed = 0;
    let mut after = 0;
    loop {
        let events = pages(after).await?;
        let Some(last) = events.last() else {
            return Ok(printed);
        };
        after = cursor(last);
        for event in &events {
            print_event(event, json, with_stream, out)?;
            printed += 1;
        }
    }
}

/// `audit export`: an organization's events as JSON Lines, chain hashes
/// included.
pub async fn export(
    pool: &PgPool,
    organization: Uuid,
    since: Option<DateTime<Utc>>,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let mut written = 0;
    let mut after = 0;
    loop {
        let events = audit::export(pool, organization, since, after, PAGE).await?;
        let Some(last) = events.last() else { break };
        after = last.event.global_position;
        for event in &events {
            serde_json::to_writer(&mut *out, event)?;
            writeln!(out)?;
            written += 1;
        }
    }
    Ok(written)
}

/// `audit state`: the aggregate's state at a moment, as JSON.
pub async fn state(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
    at: At,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let states = audit::states(pool, aggregate_type, id, at, false).await?;
    let Some(state) = states.last() else {
        anyhow::bail!("{aggregate_type} {id} has no event at {at:?}");
    };
    serde_json::to_writer_pretty(&mut *out, state)?;
    writeln!(out)?;
    Ok(())
}

/// `audit history`: each field's successive values.
pub async fn history(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
    field: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let states = audit::states(pool, aggregate_type, id, At::Latest, true).await?;
    if states.is_empty() {
        anyhow::bail!("no events for {aggregate_type} {id}");
    }
    let changes = audit::lineage(&states, field);
    if !json {
        writeln!(
            out,
            "{:<7} {:<20} {:<36} {:<8} {:<28} {:<32} value",
            "version", "recorded", "actor", "source", "event", "field"
        )?;
    }
    for change in &changes {
        if json {
            serde_json::to_writer(&mut *out, change)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:<7} {:<20} {:<36} {:<8} {:<28} {:<32} {}",
                change.version,
                change.recorded_at.format("%Y-%m-%d %H:%M:%S"),
                change.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                change.source.as_deref().unwrap_or(""),
                change.event_type,
                change.field,
                change.value
            )?;
        }
    }
    Ok(())
}

const EVENT_HEADER: &str = "position   seq  event                        version  recorded             actor                                source    correlation                          causation                            payload";

/// One event as a table row (`with_stream`: led by its `Type/id`, when the
/// events are of several streams) or as a JSON line.
fn print_event(
    event: &AuditedEvent,
    json: bool,
    with_stream: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, event)?;
        writeln!(out)?;
        return Ok(());
    }
    let version = match &event.upcasted {
        Some(upcasted) => format!("{}→{}", event.event_version, upcasted.event_version),
        None => event.event_version.clone(),
    };
    let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    if with_stream {
        write!(out, "{}/{}  ", event.aggregate_type, event.aggregate_id)?;
    }
    writeln!(
        out,
        "{:<10} {:>4}  {:<28} {:<8} {:<20} {:<36} {:<9} {:<36} {:<36} {}",
        event.global_position,
        event.sequence,
        event.event_type,
        version,
        event.recorded_at.format("%Y-%m-%d %H:%M:%S"),
        id(event.actor_id),
        event.source.as_deref().unwrap_or(""),
        id(event.correlation_id),
        id(event.causation_id),
        event.payload
    )?;
    Ok(())
}

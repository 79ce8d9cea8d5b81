//! `foldline audit`: what an auditor runs against the event store.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
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

//! Tamper evidence for the event store: each event's `chain_hash` links it
//! to the previous event of its stream (`migrations/0011_event_chain.sql`,
//! where the database computes it on insert). [`verify`] recomputes every
//! link; a [`Checkpoint`] of every stream's head, kept by an auditor, also
//! finds the last events of a stream removed or a chain rewritten whole.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// The previous hash of a stream's first event.
pub const GENESIS: [u8; 32] = [0; 32];
/// Events read per query while verifying.
const BATCH: i64 = 5_000;

/// An event as the chain covers it; `payload` and `metadata` are jsonb's
/// own text, as the database hashed them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Link {
    /// Its global position.
    pub global_position: i64,
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// The stream's aggregate id.
    pub aggregate_id: String,
    /// Its place in the stream.
    pub sequence: i64,
    /// The event's type.
    pub event_type: String,
    /// The event's schema version.
    pub event_version: String,
    /// The payload, as text.
    pub payload: String,
    /// The metadata, as text.
    pub metadata: String,
    /// The organization the event belongs to.
    pub organization_id: Uuid,
    /// The hash the database stored.
    pub chain_hash: Vec<u8>,
}

impl Link {
    /// The hash this event should carry after `previous`.
    pub fn expected(&self, previous: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(previous);
        for (n, part) in [
            self.aggregate_type.as_str(),
            self.aggregate_id.as_str(),
            &self.sequence.to_string(),
            self.event_type.as_str(),
            self.event_version.as_str(),
            self.payload.as_str(),
            self.metadata.as_str(),
        ]
        .into_iter()
        .enumerate()
        {
            if n > 0 {
                hash.update(b"\n");
            }
            hash.update(part.as_bytes());
        }
        hash.finalize().into()
    }

    fn stream(&self) -> String {
        format!("{}/{}", self.aggregate_type, self.aggregate_id)
    }
}

/// What is wrong at one place in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Break {
    /// The event's content is not what its hash was computed over: its
    /// payload, metadata, type, version, stream or sequence changed.
    Altered {
        /// Where.
        global_position: i64,
        /// The stream, `Type/id`.
        stream: String,
        /// Its sequence.
        sequence: i64,
    },
    /// The stream skips from one sequence to another here: events between
    /// were removed, moved, or reordered.
    Gap {
        /// The event after the gap.
        global_position: i64,
        /// The stream.
        stream: String,
        /// The sequence that should have come.
        expected: i64,
        /// The sequence that came.
        found: i64,
    },
    /// A stream head recorded in the checkpoint is no longer there.
    Removed {
        /// The stream.
        stream: String,
        /// The head's sequence when the checkpoint was taken.
        sequence: i64,
        /// The head's position when the checkpoint was taken.
        global_position: i64,
    },
    /// A stream head recorded in the checkpoint has another hash now: the
    /// stream was rewritten, however consistently, since.
    Rewritten {
        /// The stream.
        stream: String,
        /// The head's sequence when the checkpoint was taken.
        sequence: i64,
        /// Where that event is now.
        global_position: i64,
    },
}

impl Break {
    /// The global position it is reported at.
    pub fn global_position(&self) -> i64 {
        match self {
            Break::Altered {
                global_position, ..
            }
            | Break::Gap {
                global_position, ..
            }
            | Break::Removed {
                global_position, ..
            }
            | Break::Rewritten {
                global_position, ..
            } => *global_position,
        }
    }
}

/// The head of one stream when a checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The stream's organization.
    pub organization_id: Uuid,
    /// The head's sequence.
    pub sequence: i64,
    /// The head's global position.
    pub global_position: i64,
    /// The head's chain hash, in hex.
    pub hash: String,
}

/// Every stream's head at one moment: the auditor keeps it, and a later
/// verification against it finds what was removed or rewritten since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// The organization it covers, if one.
    pub organization_id: Option<Uuid>,
    /// Events covered.
    pub events: u64,
    /// Each stream's head, by `Type/id`.
    pub streams: BTreeMap<String, Head>,
}

/// What a verification found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Events read.
    pub events: u64,
    /// Streams read.
    pub streams: u64,
    /// Every break, by position.
    pub breaks: Vec<Break>,
    /// Each stream's last event, by `Type/id`.
    pub heads: BTreeMap<String, Head>,
}

/// Walks every stream (of `organization`, if given) in sequence order,
/// checking that sequences run 1, 2, 3… and that each event's hash is the
/// link from the stored hash of the event before it; with `against`, also
/// that every head the checkpoint recorded is still there, unchanged.
pub async fn verify(
    pool: &PgPool,
    organization: Option<Uuid>,
    against: Option<&Checkpoint>,
) -> Result<Verification, sqlx::Error> {
    let mut found = Verification::default();
    // The checkpoint's heads not yet met. Only the heads are compared: the
    // chain links everything before a head to it.
    let mut pending: HashMap<&str, &Head> = against
        .map(|checkpoint| {
            checkpoint
                .streams
                .iter()
                .filter(|(_, head)| organization.is_none_or(|org| head.organization_id == org))
                .map(|(stream, head)| (stream.as_str(), head))
                .collect()
        })
        .unwrap_or_default();
    // The stream being walked, and the last event of it read.
    let mut current: Option<Link> = None;
    let mut after = (String::new(), String::new(), 0i64);
    loop {
        // In primary-key order, a page at a time, so that each stream is
        // walked in sequence order whatever order its events were written.
        let links: Vec<Link> = sqlx::query_as(
            "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type,
                    event_version, payload::text AS payload, metadata::text AS metadata,
                    organization_id, chain_hash
             FROM events
             WHERE (aggregate_type, aggregate_id, sequence) > ($1, $2, $3)
               AND ($4::uuid IS NULL OR organization_id = $4)
             ORDER BY aggregate_type, aggregate_id, sequence
             LIMIT $5",
        )
        .bind(&after.0)
        .bind(&after.1)
        .bind(after.2)
        .bind(organization)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        let Some(last) = links.last() else { break };
        after = (
            last.aggregate_type.clone(),
            last.aggregate_id.clone(),
            last.sequence,
        );
        for link in links {
            let previous = match current.take() {
                Some(before)
                    if before.aggregate_type == link.aggregate_type
                        && before.aggregate_id == link.aggregate_id =>
                {
                    Some(before)
                }
                Some(head) => {
                    found.close(head);
                    None
                }
                None => None,
            };
            let (expected, previous_hash) = match &previous {
                Some(before) => (before.sequence + 1, before.chain_hash.as_slice()),
                None => (1, GENESIS.as_slice()),
            };
            if link.sequence != expected {
                found.breaks.push(Break::Gap {
                    global_position: link.global_position,
                    stream: link.stream(),
                    expected,
                    found: link.sequence,
                });
            } else if link.expected(previous_hash).as_slice() != link.chain_hash.as_slice() {
                found.breaks.push(Break::Altered {
                    global_position: link.global_position,
                    stream: link.stream(),
                    sequence: link.sequence,
                });
            }
            if !pending.is_empty() {
                let stream = link.stream();
                if let Some(head) = pending.get(stream.as_str()).copied() {
                    if head.sequence == link.sequence {
                        if hex::encode(&link.chain_hash) != head.hash {
                            found.breaks.push(Break::Rewritten {
                                stream: stream.clone(),
                                sequence: head.sequence,
                                global_position: link.global_position,
                            });
                        }
                        pending.remove(stream.as_str());
                    }
                }
            }
            found.events += 1;
            current = Some(link);
        }
    }
    if let Some(head) = current {
        found.close(head);
    }
    for (stream, head) in pending {
        found.breaks.push(Break::Removed {
            stream: stream.to_owned(),
            sequence: head.sequence,
            global_position: head.global_position,
        });
    }
    found.breaks.sort_by_key(Break::global_position);
    Ok(found)
}

impl Verification {
    /// Records `head` as the last event of its stream.
    fn close(&mut self, head: Link) {
        self.streams += 1;
        self.heads.insert(
            head.stream(),
            Head {
                organization_id: head.organization_id,
                sequence: head.sequence,
                global_position: head.global_position,
                hash: hex::encode(&head.chain_hash),
            },
        );
    }
}

/// Every stream's head now (of `organization`, if given), read in one
/// statement: a checkpoint records what is there, and `verify` is what
/// judges it.
pub async fn checkpoint(
    pool: &PgPool,
    organization: Option<Uuid>,
) -> Result<Checkpoint, sqlx::Error> {
    let taken_at = Utc::now();
    // The window counts every event matched, before DISTINCT ON keeps the
    // heads.
    #[derive(sqlx::FromRow)]
    struct HeadRow {
        aggregate_type: String,
        aggregate_id: String,
        organization_id: Uuid,
        sequence: i64,
        global_position: i64,
        chain_hash: Vec<u8>,
        events: i64,
    }
    let heads: Vec<HeadRow> = sqlx::query_as(
        "SELECT DISTINCT ON (aggregate_type, aggregate_id)
                aggregate_type, aggregate_id, organization_id, sequence, global_position,
                chain_hash, count(*) OVER () AS events
         FROM events
         WHERE $1::uuid IS NULL OR organization_id = $1
         ORDER BY aggregate_type, aggregate_id, sequence DESC",
    )
    .bind(organization)
    .fetch_all(pool)
    .await?;
    let events = heads.first().map_or(0, |head| head.events as u64);
    let streams = heads
        .into_iter()
        .map(|head| {
            (
                format!("{}/{}", head.aggregate_type, head.aggregate_id),
                Head {
                    organization_id: head.organization_id,
                    sequence: head.sequence,
                    global_position: head.global_position,
                    hash: hex::encode(head.chain_hash),
                },
            )
        })
        .collect();
    Ok(Checkpoint {
        taken_at,
        organization_id: organization,
        events,
        streams,
    })
}

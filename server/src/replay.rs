//! `foldline replay`: rebuilds projections, with progress on a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use foldline_projectors::rebuild::{rebuild, Target};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Cli;
use crate::database;

/// Rebuilds the named projections (or all) in one pass over the feed.
pub async fn run(
    cli: &Cli,
    names: &[String],
    all: bool,
    in_place: bool,
    batch_size: i64,
) -> anyhow::Result<()> {
    let projections = if all {
        foldline_projectors::all()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            match foldline_projectors::by_name(name) {
                Some(projection) => chosen.push(projection),
                None => {
                    let known: Vec<&str> = foldline_projectors::all()
                        .iter()
                        .map(|p| p.name())
                        .collect();
                    bail!("no projection named `{name}`; known: {}", known.join(", "));
                }
            }
        }
        chosen
    };
    let pool = database::connect(&cli.database).await?;
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let label = if names.len() == 1 { names[0] } else { "replay" };
    let report = Report::new(label);
    let started = Instant::now();
    let progress = |applied: u64, total: u64| report.update(applied, total);
    let target = if in_place {
        Target::InPlace
    } else {
        Target::Shadow
    };
    let applied = rebuild(&pool, &projections, target, batch_size, &progress)
        .await
        .with_context(|| format!("rebuilding {}", names.join(", ")))?;
    report.finish();
    let seconds = started.elapsed().as_secs_f64();
    let how = if in_place {
        "rebuilt in place"
    } else {
        "rebuilt, swapped in"
    };
    for name in &names {
        println!("{name}: {how}");
    }
    println!(
        "{} projection(s) over {applied} events in {seconds:.1} s ({:.0} events/s)",
        names.len(),
        applied as f64 / seconds.max(1e-9),
    );
    Ok(())
}

/// Progress: a bar with events/s and ETA on a terminal, a line every few
/// seconds otherwise.
enum Report {
    Bar(ProgressBar),
    Lines { name: String, last: Mutex<Instant> },
}

impl Report {
    fn new(name: &str) -> Report {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>18} [{bar:30}] {pos}/{len} events {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            Report::Bar(bar)
        } else {
            Report::Lines {
                name: name.to_owned(),
                last: Mutex::new(Instant::now()),
            }
        }
    }

    fn update(&self, applied: u64, total: u64) {
        match self {
            Report::Bar(bar) => {
                bar.set_length(total.max(applied));
                bar.set_position(applied);
            }
            Report::Lines { name, last } => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    eprintln!("{name}: {applied}/{total} events");
                }
            }
        }
    }

    fn finish(&self) {
        if let Report::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

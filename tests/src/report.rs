//! The benchmark report: sections of figures, each row printed as it is measured and the whole
//! written as Markdown (BENCHMARKS.md) with the machine and the date.
//!
//! A row holds a timing ([`Summary`]) or a plain value, the workload it was measured on, the
//! target from the issue and whether it was met. Rows measured against a floor say how many
//! times the floor they took, so a figure is never read without what it is compared with.

use std::fmt::Write as _;

use crate::Summary;

/// All sections of one run.
#[derive(Debug, Default)]
pub struct Report {
    sections: Vec<Section>,
}

/// One group of figures (edit, open, sync, ...), printed under a title.
#[derive(Debug)]
pub struct Section {
    title: String,
    about: String,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// One figure.
#[derive(Debug, Clone)]
struct Row {
    figure: String,
    workload: String,
    median: String,
    p99: String,
    target: String,
    met: Option<bool>,
}

/// Whether a figure met its target, as the report shows it.
fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "",
    }
}

impl Report {
    /// An empty report.
    pub fn new() -> Report {
        Report::default()
    }

    /// Starts a section; `about` says what is measured and how, in a sentence or two.
    pub fn section(&mut self, title: &str, about: &str) -> &mut Section {
        println!();
        println!("## {title}");
        println!("{about}");
        println!("| figure | workload | median | p99 | target | |");
        self.sections.push(Section {
            title: title.to_string(),
            about: about.to_string(),
            rows: Vec::new(),
            notes: Vec::new(),
        });
        self.sections.last_mut().expect("just pushed")
    }

    /// Targets that were not met, as "section: figure" lines.
    pub fn misses(&self) -> Vec<String> {
        self.sections
            .iter()
            .flat_map(|s| {
                s.rows
                    .iter()
                    .filter(|r| r.met == Some(false))
                    .map(move |r| format!("{}: {}", s.title, r.figure))
            })
            .collect()
    }

    /// The whole report as Markdown, under a header naming the command, machine and date.
    pub fn markdown(&self, command: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{command}` on {} ({}). Every figure is measured in the same run as the \
             floor it is compared with; medians and p99 are over the samples the workload names.\n",
            jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z"),
            machine()
        );
        for s in &self.sections {
            let _ = writeln!(out, "## {}\n\n{}\n", s.title, s.about);
            let _ = writeln!(out, "| figure | workload | median | p99 | target | |");
            let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
            for r in &s.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    r.figure,
                    r.workload,
                    r.median,
                    r.p99,
                    r.target,
                    verdict(r.met)
                );
            }
            if !s.notes.is_empty() {
                out.push('\n');
                for n in &s.notes {
                    let _ = writeln!(out, "- {n}");
                }
            }
            out.push('\n');
        }
        out
    }
}

impl Section {
    /// A timed figure. `met` is whether it reached `target` (None for figures without one).
    pub fn timing(
        &mut self,
        figure: &str,
        workload: &str,
        s: &Summary,
        target: &str,
        met: Option<bool>,
    ) -> &mut Self {
        self.push(Row {
            figure: figure.to_string(),
            workload: format!("{workload}, n={}", s.n),
            median: ms(s.median_ms),
            p99: ms(s.p99_ms),
            target: target.to_string(),
            met,
        })
    }

    /// A timed figure that is its own floor: the same work in memory, without disk or network.
    pub fn floor(&mut self, figure: &str, workload: &str, s: &Summary) -> &mut Self {
        self.timing(&format!("{figure} (floor)"), workload, s, "", None)
    }

    /// A figure that is one value (a size, a ratio, a single long run) rather than a spread.
    pub fn value(
        &mut self,
        figure: &str,
        workload: &str,
        value: &str,
        target: &str,
        met: Option<bool>,
    ) -> &mut Self {
        self.push(Row {
            figure: figure.to_string(),
            workload: workload.to_string(),
            median: value.to_string(),
            p99: "—".to_string(),
            target: target.to_string(),
            met,
        })
    }

    /// A sentence under the table: what a figure means, what an optimization bought.
    pub fn note(&mut self, text: &str) -> &mut Self {
        println!("  {text}");
        self.notes.push(text.to_string());
        self
    }

    fn push(&mut self, row: Row) -> &mut Self {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.figure,
            row.workload,
            row.median,
            row.p99,
            row.target,
            verdict(row.met)
        );
        self.rows.push(row);
        self
    }
}

/// A duration in milliseconds with sensible precision.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// `a / b` as "2.31×".
pub fn times(a: f64, b: f64) -> String {
    format!("{:.2}×", a / b)
}

/// "2 cores (AMD EPYC ...), 24 GiB": what the figures were measured on.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0);
    match mem_gib {
        Some(g) => format!("{cores} cores ({model}), {g:.0} GiB"),
        None => format!("{cores} cores ({model})"),
    }
}

/// Resident memory of this process, in bytes (Linux; None elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn markdown_holds_every_row_and_the_misses_are_named() {
        let mut report = Report::new();
        let s = Summary::of(&[Duration::from_millis(2), Duration::from_millis(4)]);
        report
            .section("edit", "one edit")
            .timing("edit acknowledged", "empty group", &s, "≤ 5 ms", Some(true))
            .value("size", "1 group", "1.02×", "≤ 1.1×", Some(false))
            .note("fsync dominates");
        let md = report.markdown("quire-bench");
        assert!(
            md.contains("| edit acknowledged | empty group, n=2 |"),
            "{md}"
        );
        assert!(md.contains("**not met**"), "{md}");
        assert!(md.contains("- fsync dominates"), "{md}");
        assert_eq!(report.misses(), vec!["edit: size".to_string()]);
    }

    #[test]
    fn resident_memory_is_read() {
        let rss = resident_bytes().expect("linux has /proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
    }
}

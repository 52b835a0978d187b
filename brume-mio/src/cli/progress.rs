//! How transfers show their progress on stderr: bars that fit the terminal
//! (`--progress auto`, at a terminal), plain lines every few seconds
//! (`plain`, for logs), or nothing (`none`, and `auto` off a terminal). Each
//! shows the sender's hashing phase, where a resume starts, and a rate over
//! the bytes that actually moved (the core's, which leaves resumed bytes out).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use brume_proto::transfer::TransferKey;
use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, nothing otherwise.
    Auto,
    /// A line per transfer every few seconds, for logs.
    Plain,
    /// Nothing.
    None,
}

/// `--progress`, for the commands that move files.
#[derive(Debug, clap::Args)]
pub struct ProgressArg {
    /// How to show progress on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "HOW")]
    pub progress: ProgressMode,
}

/// Plain lines come at most this often per transfer.
const PLAIN_EVERY: Duration = Duration::from_secs(2);
/// Below this width a bar has no room: the figures are shown alone.
const NARROW: usize = 60;
/// The narrowest bar worth drawing.
const MIN_BAR: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Bars,
    Plain,
    Nothing,
}

struct Item {
    name: String,
    bar: Option<ProgressBar>,
    last_plain: Option<Instant>,
    resumed: u64,
    rate: u64,
}

/// The progress of every transfer of one command.
pub struct Bars {
    show: Show,
    multi: MultiProgress,
    items: BTreeMap<TransferKey, Item>,
}

impl Bars {
    pub fn new(mode: ProgressMode) -> Self {
        let show = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => Show::Bars,
            ProgressMode::Auto | ProgressMode::None => Show::Nothing,
            ProgressMode::Plain => Show::Plain,
        };
        Self {
            show,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            items: BTreeMap::new(),
        }
    }

    /// Names a transfer; nothing is shown until it moves.
    pub fn start(&mut self, key: &TransferKey, name: &str) {
        self.items.insert(
            key.clone(),
            Item {
                name: name.to_owned(),
                bar: None,
                last_plain: None,
                resumed: 0,
                rate: 0,
            },
        );
    }

    /// The sender hashes its files before it can offer them.
    pub fn hashing(&mut self, key: &TransferKey, done: u64, total: u64) {
        let text = if done >= total {
            "offered; waiting for the receiver".to_owned()
        } else {
            format!("hashing {}/{}", size(done), size(total))
        };
        self.show(key, done, total, &[text]);
    }

    /// Work before data moves (the demo writing its file).
    pub fn phase(&mut self, key: &TransferKey, verb: &str, done: u64, total: u64) {
        let text = format!("{verb} {}/{}", size(done), size(total));
        self.show(key, done, total, &[text]);
    }

    fn show(&mut self, key: &TransferKey, done: u64, total: u64, text: &[String]) {
        let (show, multi) = (self.show, self.multi.clone());
        if let Some(item) = self.items.get_mut(key) {
            item.update(show, &multi, done, total, text, done >= total);
        }
    }

    /// Bytes moved; `resumed` of `done` were already at the receiver.
    pub fn progress(&mut self, key: &TransferKey, done: u64, total: u64, resumed: u64, rate: u64) {
        let (show, multi) = (self.show, self.multi.clone());
        let Some(item) = self.items.get_mut(key) else {
            return;
        };
        if resumed > 0 && item.resumed == 0 {
            let pct = resumed as f64 * 100.0 / total.max(1) as f64;
            let line = format!(
                "{}: resuming at {} of {} ({pct:.0} %)",
                item.name,
                size(resumed),
                size(total)
            );
            say_on(show, &multi, &line);
        }
        item.resumed = resumed;
        item.rate = rate;
        // Most telling first: a narrow bar keeps what fits.
        let mut text = vec![
            format!("{}/{}", size(done), size(total)),
            format!("{}/s", size(rate)),
        ];
        if rate > 0 && done < total {
            text.push(format!("eta {}", hms((total - done) / rate)));
        }
        item.update(show, &multi, done, total, &text, done >= total);
    }

    /// Ends a transfer's bar; what it resumed from and its rate, for the last line.
    pub fn finish(&mut self, key: &TransferKey) -> (u64, u64) {
        let Some(item) = self.items.remove(key) else {
            return (0, 0);
        };
        if let Some(bar) = item.bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        (item.resumed, item.rate)
    }

    /// Prints a line on stdout without tearing the bars.
    pub fn println(&self, line: &str) {
        self.multi.suspend(|| println!("{line}"));
    }

    /// The bars' drawing target, for others to print above them.
    pub fn multi(&self) -> MultiProgress {
        self.multi.clone()
    }

    /// Runs `f` with the bars out of the way (a prompt, say).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

/// A line on stderr, above any bars.
fn say_on(show: Show, multi: &MultiProgress, line: &str) {
    match show {
        Show::Bars => {
            let _ = multi.println(line);
        }
        Show::Plain => eprintln!("{line}"),
        Show::Nothing => {}
    }
}

impl Item {
    fn update(
        &mut self,
        show: Show,
        multi: &MultiProgress,
        done: u64,
        total: u64,
        text: &[String],
        force: bool,
    ) {
        match show {
            Show::Nothing => {}
            Show::Plain => {
                let now = Instant::now();
                if force || self.last_plain.is_none_or(|at| now >= at + PLAIN_EVERY) {
                    self.last_plain = Some(now);
                    let pct = done as f64 * 100.0 / total.max(1) as f64;
                    eprintln!("{}: {} ({pct:.0} %)", self.name, text.join(" "));
                }
            }
            Show::Bars => {
                let bar = self.bar.get_or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(total));
                    bar.set_style(style());
                    bar
                });
                bar.set_length(total);
                bar.set_position(done);
                let width = term_width();
                let prefix = fit_name(&self.name, width);
                // Room for the figures: after the name, and the bar's least.
                let bar_room = if width < NARROW { 0 } else { MIN_BAR + 1 };
                let room = width.saturating_sub(prefix.chars().count() + 2 + bar_room);
                bar.set_prefix(prefix);
                bar.set_message(fit_parts(text, room));
            }
        }
    }
}

/// A bar as wide as the terminal leaves room for: the name, the bar, the
/// figures; on a narrow terminal the figures alone.
fn style() -> ProgressStyle {
    let template = if term_width() < NARROW {
        "{prefix} {msg}"
    } else {
        "{prefix} {wide_bar} {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Columns of the terminal on stderr.
fn term_width() -> usize {
    console::Term::stderr().size().1 as usize
}

/// The name cut to a quarter of the terminal, 8 to 24 columns.
fn fit_name(name: &str, width: usize) -> String {
    let room = (width / 4).clamp(8, 24);
    console::truncate_str(name, room, "…").into_owned()
}

/// The first part always, then as many of the next as fit in `room` columns.
fn fit_parts(parts: &[String], room: usize) -> String {
    let mut out = String::new();
    for part in parts {
        let needed = part.chars().count() + usize::from(!out.is_empty());
        if !out.is_empty() && out.chars().count() + needed > room {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

/// Seconds for people: `42s`, `3m05s`, `1h02m`.
fn hms(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// Bytes for people: `64.0 MiB`.
pub fn size(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_what_fits() {
        let parts: Vec<String> = ["6.03 MiB/7.63 MiB", "23.99 MiB/s", "eta 0s"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            fit_parts(&parts, 80),
            "6.03 MiB/7.63 MiB 23.99 MiB/s eta 0s"
        );
        assert_eq!(fit_parts(&parts, 30), "6.03 MiB/7.63 MiB 23.99 MiB/s");
        assert_eq!(fit_parts(&parts, 28), "6.03 MiB/7.63 MiB");
        assert_eq!(fit_parts(&parts, 3), "6.03 MiB/7.63 MiB");
        assert_eq!(fit_name("a-very-long-file-name.bin", 45), "a-very-lon…");
        assert_eq!(fit_name("short.txt", 200), "short.txt");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(hms(5), "5s");
        assert_eq!(hms(185), "3m05s");
        assert_eq!(hms(3720), "1h02m");
    }

    #[test]
    fn quiet_modes_draw_nothing_and_keep_figures() {
        let key = TransferKey {
            peer: brume_proto::signal::Address::User(
                brume_proto::signal::UserName::new("bob").unwrap(),
            ),
            id: 1,
            outgoing: true,
        };
        let mut bars = Bars::new(ProgressMode::None);
        bars.start(&key, "movie.mkv");
        bars.hashing(&key, 10, 100);
        bars.progress(&key, 60, 100, 40, 7);
        assert_eq!(bars.finish(&key), (40, 7));
        assert_eq!(bars.finish(&key), (0, 0));
    }
}

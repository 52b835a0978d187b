//! Progress bars for transfers (on stderr; hidden when it is not a terminal).

use std::collections::BTreeMap;

use brume_proto::transfer::TransferKey;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Default)]
pub struct Bars(BTreeMap<TransferKey, ProgressBar>);

impl Bars {
    /// Starts a bar for a transfer.
    pub fn start(&mut self, key: &TransferKey, name: &str, total: u64) {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(name.to_owned());
        self.0.insert(key.clone(), bar);
    }

    /// Moves a bar.
    pub fn set(&mut self, key: &TransferKey, done: u64, total: u64) {
        if let Some(bar) = self.0.get(key) {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    /// Ends a bar.
    pub fn finish(&mut self, key: &TransferKey) {
        if let Some(bar) = self.0.remove(key) {
            bar.finish_and_clear();
        }
    }
}

/// Bytes for people: `64.0 MiB`.
pub fn size(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

//! What `awsops apply` and `delete` show while they run: one line per phase
//! change and per event, with the elapsed time, and an upload progress bar
//! per site (on stderr, only when it is a terminal).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::key::Key;

pub struct Terminal {
    start: Instant,
    bars: MultiProgress,
    uploads: Mutex<HashMap<Key, ProgressBar>>,
}

impl Default for Terminal {
    fn default() -> Self {
        Self { start: Instant::now(), bars: MultiProgress::new(), uploads: Mutex::default() }
    }
}

impl Terminal {
    /// Seconds since the command started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// One line about one object, above any progress bar.
    pub fn line(&self, key: &Key, text: &str) {
        let line = format!("[{:>6.1}s] {key}: {text}", self.elapsed());
        self.bars.suspend(|| println!("{line}"));
    }

    /// A line not about one object.
    pub fn say(&self, text: &str) {
        let line = format!("[{:>6.1}s] {text}", self.elapsed());
        self.bars.suspend(|| println!("{line}"));
    }

    pub fn progress(&self, key: &Key, done: usize, total: usize) {
        let mut uploads = self.uploads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bar = uploads.entry(key.clone()).or_insert_with(|| {
            let style = ProgressStyle::with_template("{prefix} uploading [{bar:30}] {pos}/{len} files {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            self.bars.add(ProgressBar::new(total as u64).with_style(style).with_prefix(key.to_string()))
        });
        bar.set_position(done as u64);
        if done >= total {
            bar.finish_and_clear();
            uploads.remove(key);
        }
    }
}

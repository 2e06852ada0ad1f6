//! Settings for opening a database.

/// How to open a database. `Options::default()` creates the database if it is missing.
///
/// ```
/// let options = northstar::Options::default().create(false);
/// assert!(!options.is_create());
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) create: bool,
    pub(crate) verify_every_commit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create: true,
            verify_every_commit: cfg!(feature = "verify"),
        }
    }
}

impl Options {
    /// Whether a missing database is created (default `true`).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Whether a missing database will be created.
    pub fn is_create(&self) -> bool {
        self.create
    }

    /// Runs the full validator after every commit and panics on any problem. Slow; for
    /// tests. On by default with the `verify` feature.
    pub fn verify_every_commit(mut self, verify: bool) -> Self {
        self.verify_every_commit = verify;
        self
    }
}

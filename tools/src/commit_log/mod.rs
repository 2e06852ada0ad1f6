//! Reading a commit log without opening the engine: what `logdump` is made of, and what
//! `history`, `stat` and the demo use to look at a log.

mod ops;
mod page_meta;
mod report;
mod source;
mod verify;
mod walk;

pub use ops::{name as op_name, text as op_text, to_json as op_json};
pub use page_meta::newest_meta;
pub use report::{damage_failure, damage_json, damage_text, plural};
pub use source::LogSource;
pub use verify::{verify, CheckpointCheck, Status, Verdict};
pub use walk::{seek, Damage, DamageKind, Step, Walker};

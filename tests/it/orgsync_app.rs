//! Unit tests of the orgsync reference integration's logic (examples/orgsync/app) over the
//! in-memory fakes: every command, its output and exit code, without a network.
//!
//! The module is compiled here through `#[path]` rather than with `test = true` on the
//! example, because cargo does not build an example's runnable binary when it tests it, and
//! tests/orgsync_cli/ needs that binary.

#[path = "../../examples/orgsync/app/mod.rs"]
mod app;

//! Demo (placeholder until the fakes land).
fn main() {}

//! Ready [`ConfigStore`](crate::ports::ConfigStore) implementations.

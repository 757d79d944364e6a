//! lazyfs against the real kernel: each test mounts a fresh backing
//! directory (FUSE needs root and `/dev/fuse`), works on the mount, cuts the
//! power and reads the backing directory.

mod bin;
mod files;
mod helpers;
mod postgres;
mod sled;

//! Tool groups, one module each. Each module adds an `impl DevinMcp` block with its own
//! router, merged in [`super::server::DevinMcp::new`].

pub mod batch;
pub mod sessions;
pub mod wait;

//! A simulator of the Devin REST API v3.

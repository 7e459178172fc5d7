//! Incremental UTF-8 validation (RFC 3629) for text messages.

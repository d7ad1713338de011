//! BGP message codec (RFC 4271 and extensions).

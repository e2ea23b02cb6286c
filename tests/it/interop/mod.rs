//! Transfers: export, import, PACS.

mod hospital;
mod streaming;
mod tls;
mod transfers;

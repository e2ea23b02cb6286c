//! Transfers: export, import, PACS.

mod hospital;
mod tls;
mod transfers;

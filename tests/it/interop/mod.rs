//! Transfers: export, import, PACS.

mod hospital;
mod transfers;

//! What the controller sees of a database from the network, as its clients
//! do: the cluster endpoint's DNS ([`dns`]) and, with `spec.verify.writeProbe`,
//! a MySQL login asking whether the server takes writes ([`probe`]).

pub mod dns;
pub mod probe;

pub use dns::{Dns, Resolution, Resolve};

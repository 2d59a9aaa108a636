//! eksboot: from an empty AWS account to a secured Amazon EKS cluster, and back to nothing.
//!
//! The flow: a profile ([`profile`]) is planned ([`plan`], pure), checked against the account
//! ([`preflight`], read-only, through the [`aws`] adapters), and shown by [`ui`], the only
//! module that prints. [`app`] wires a parsed command line to them. [`sandbox`] runs all of it
//! against eksboot's own AWS emulator on this machine.

pub mod app;
pub mod apply;
pub mod aws;
pub mod cli;
pub mod kubeconfig;
pub mod plan;
pub mod preflight;
pub mod profile;
pub mod sandbox;
pub mod settings;
pub mod token;
pub mod ui;
pub mod wizard;

#[cfg(test)]
pub mod test_support;

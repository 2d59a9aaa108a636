//! The integration tests: the real `eksboot` binary, driven against a real AWS emulator, with
//! AWS state checked through the SDK rather than through eksboot's own records.

mod harness;

mod addon_identity;
mod auto_mode;
mod auto_teardown;
mod boundary;
mod cli;
mod cluster;
mod create;
mod day_two;
mod day_two_others;
mod day_two_safe;
mod drain;
mod emulator;
mod faults;
mod fidelity;
mod least_privilege;
mod policies;
mod preflight;
mod propagation;
mod quotas;
mod requests;
mod safe_defaults;
mod sandbox;
mod shared_state;
mod shared_state_checks;
mod teardown;
mod teardown_aws;
mod teardown_network;
mod teardown_volumes;
mod tokens;
mod upgrade;
mod wizard;

//! The execution engine: market simulator, parent/child orders, strategies,
//! risk controls, the hub that serves clients and the journal.

pub mod access;
pub mod auth;
pub mod bus;
pub mod capture_session;
pub mod cli;
pub mod core;
pub mod deploy;
pub mod family;
pub mod features;
pub mod feed;
pub mod feed_bus;
pub mod fix_gateway;
pub mod hub;
pub mod journal;
pub mod market;
pub mod orders;
pub mod prices;
pub mod recovery;
pub mod risk;
pub mod runner;
pub mod scenario;
pub mod scenario_cli;
pub mod serve;
pub mod strategy;
pub mod tactics;

pub use self::core::{CommandOutcome, Engine, EngineOptions, SessionTimes};
pub use scenario::{Scenario, ScenarioFile};

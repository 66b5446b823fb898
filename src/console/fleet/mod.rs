//! One console over many engines on a NATS bus (`vigil console
//! nats://HOST:PORT --engine NAME|all`): `link` reads every engine's
//! JetStream stream and routes commands by request/reply, `merge` folds the
//! engines into one picture for the app (orders named `<engine>/<id>`),
//! `qualify` does the naming, `saved` keeps where each engine's lane is
//! across the console's own restarts.

pub mod link;
pub mod merge;
pub mod qualify;
pub mod saved;

pub use link::{spawn_fleet, Engines, FleetConfig};
pub use merge::{EngineStatus, LaneLink};

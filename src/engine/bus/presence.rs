//! Which engines are up: each engine keeps a record under its name in the
//! `vigil_presence` bucket (scenario or market, simulated clock, state, last
//! seq, wall time), rewritten every second; the bucket forgets a record after
//! `STALE`, so an engine that died drops out by itself. A second engine that
//! finds a fresh record of another run under its name refuses to start.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use async_nats::jetstream::kv::Store;
use tracing::warn;

use super::{BusOptions, Names, PRESENCE};
use crate::engine::runner::EngineHandle;

const EVERY: Duration = Duration::from_secs(1);
/// A record this old means its engine is gone.
pub const STALE: Duration = Duration::from_millis(crate::protocol::bus::PRESENCE_STALE_MS);

pub use crate::protocol::bus::PresenceRecord;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

pub struct Presence {
    kv: Store,
    names: Names,
    market: String,
    engine: EngineHandle,
}

impl Presence {
    pub async fn open(
        js: &async_nats::jetstream::Context,
        names: &Names,
        opts: &BusOptions,
        engine: &EngineHandle,
    ) -> Result<Presence> {
        let kv = super::open_bucket(js, PRESENCE, STALE, 64 << 10).await?;
        if let Some(bytes) = kv
            .get(&names.engine)
            .await
            .context("reading the presence bucket")?
        {
            if let Ok(other) = serde_json::from_slice::<PresenceRecord>(&bytes) {
                let age = Duration::from_millis(wall_ms().saturating_sub(other.wall_ms));
                if other.instance_id != engine.shared.instance_id && age < STALE {
                    bail!(
                        "another engine named {} is on this bus (its run {}, {}, seen {:.1} s ago): give this one another --engine-id",
                        names.engine,
                        other.instance_id,
                        other.market,
                        age.as_secs_f64()
                    );
                }
            }
        }
        let p = Presence {
            kv,
            names: names.clone(),
            market: opts.market.clone(),
            engine: engine.clone(),
        };
        p.write().await?;
        Ok(p)
    }

    fn record(&self) -> PresenceRecord {
        PresenceRecord {
            engine_id: self.names.engine.clone(),
            instance_id: self.engine.shared.instance_id.clone(),
            market: self.market.clone(),
            ts: self.engine.shared.sim_ts.load(Ordering::Relaxed),
            last_seq: *self.engine.shared.published.borrow(),
            wall_ms: wall_ms(),
        }
    }

    async fn write(&self) -> Result<()> {
        let body = serde_json::to_vec(&self.record())?;
        self.kv
            .put(&self.names.engine, body.into())
            .await
            .context("writing the presence record")?;
        Ok(())
    }

    pub async fn run(self) {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = self.write().await {
                warn!("bus: {e:#}");
            }
        }
    }
}

//! The PAC the service stamps with (see `domain::pac` for the interface a connector
//! implements). Only the sandbox exists so far; `PAC_SANDBOX_FAILURE_RATE` makes it fail a
//! share of the stamps, so the retry path can be exercised end to end (tests, staging).

use std::sync::Arc;

use chrono::NaiveDateTime;
use domain::pac::{Cancellation, CancellationAnswer, Pac, PacError, SealedCfdi, Stamped};
use domain::stamp::SandboxPac;
use uuid::Uuid;

/// The configured PAC.
pub fn from_config(failure_rate: f64) -> Result<Arc<dyn Pac>, String> {
    let sandbox = SandboxPac::new().map_err(|e| e.to_string())?;
    if failure_rate > 0.0 {
        Ok(Arc::new(Flaky {
            inner: sandbox,
            failure_rate,
        }))
    } else {
        Ok(Arc::new(sandbox))
    }
}

/// The sandbox PAC failing a share of its stamps as an unavailable PAC would.
#[derive(Debug)]
struct Flaky {
    inner: SandboxPac,
    failure_rate: f64,
}

impl Pac for Flaky {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn stamp(
        &self,
        cfdi: &SealedCfdi<'_>,
        uuid: Uuid,
        now: NaiveDateTime,
    ) -> Result<Stamped, PacError> {
        if rand::random::<f64>() < self.failure_rate {
            return Err(PacError::Unavailable(
                "injected failure (PAC_SANDBOX_FAILURE_RATE)".to_string(),
            ));
        }
        Pac::stamp(&self.inner, cfdi, uuid, now)
    }

    fn cancel(&self, request: &Cancellation<'_>) -> Result<CancellationAnswer, PacError> {
        self.inner.cancel(request)
    }
}

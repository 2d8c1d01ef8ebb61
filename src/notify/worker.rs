//! Delivers the outbox: claims due messages, posts each to the SMS
//! gateway's webhook with the message id as `Idempotency-Key`, and settles
//! it (delivered, retry later per [`super::RETRY_AFTER_SECS`], or failed).
//! Runs in every server process; the claim keeps two processes off the
//! same message. Logs carry the message id and a masked phone only.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::{masked, next_try, Message};
use crate::basic::Clock;
use crate::store::{outbox, Db};

/// How long a claim holds before another process may take the message.
const LEASE_SECS: i64 = 900;
/// Messages claimed per round.
const BATCH: i64 = 32;
/// Messages in flight at once per process.
const IN_FLIGHT: usize = 8;

/// The delivery loop of one process.
pub struct Worker {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub webhook: String,
    /// Woken when a commit wrote messages; polled every `poll` regardless
    /// (messages written by other processes, retries coming due).
    pub ready: Arc<tokio::sync::Notify>,
    pub poll: Duration,
    pub timeout: Duration,
}

impl Worker {
    pub async fn run(self) {
        let client = match reqwest::Client::builder().timeout(self.timeout).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "notify: no HTTP client; messages stay pending");
                return;
            }
        };
        loop {
            let sent = self.round(&client).await;
            if sent == 0 {
                tokio::select! {
                    () = self.ready.notified() => {}
                    () = tokio::time::sleep(self.poll) => {}
                }
            }
        }
    }

    /// Claims and sends one batch; the number of messages tried.
    pub async fn round(&self, client: &reqwest::Client) -> usize {
        let now = self.clock.now();
        let lease = now + chrono::Duration::seconds(LEASE_SECS);
        let batch = match outbox::claim(&self.db, now, lease, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "notify: claiming messages failed");
                return 0;
            }
        };
        let n = batch.len();
        futures_util::stream::iter(batch)
            .for_each_concurrent(IN_FLIGHT, |m| self.deliver(client, m))
            .await;
        n
    }

    async fn deliver(&self, client: &reqwest::Client, m: Message) {
        let res = client
            .post(&self.webhook)
            .header("Idempotency-Key", m.id.to_string())
            .json(&m.webhook_body())
            .send()
            .await;
        let outcome = match res {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Err(if e.is_timeout() {
                "timed out".to_owned()
            } else {
                "connection failed".to_owned()
            }),
        };
        let now = self.clock.now();
        let settled = match &outcome {
            Ok(()) => {
                metrics::counter!("repairnet_messages_delivered_total").increment(1);
                tracing::info!(message = m.id, job = %m.job_code, template = %m.template, to = %masked(&m.recipient), try_no = m.attempts, "message delivered");
                outbox::delivered(&self.db, m.id, now).await
            }
            Err(err) => {
                let retry = next_try(m.attempts, now);
                if retry.is_none() {
                    metrics::counter!("repairnet_messages_failed_total").increment(1);
                }
                metrics::counter!("repairnet_message_attempt_failures_total").increment(1);
                tracing::warn!(message = m.id, job = %m.job_code, template = %m.template, to = %masked(&m.recipient), try_no = m.attempts, error = %err, gives_up = retry.is_none(), "message not delivered");
                outbox::attempt_failed(&self.db, m.id, err, retry).await
            }
        };
        if let Err(e) = settled {
            // The lease runs out and the message is tried again: at least once.
            tracing::warn!(message = m.id, error = %e, "notify: settling a message failed");
        }
    }
}

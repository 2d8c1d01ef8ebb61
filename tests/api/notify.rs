//! Customer messages: the outbox, the webhook, the scheduler.

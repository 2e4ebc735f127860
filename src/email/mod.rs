//! Email delivery: magic-auth codes, verification codes, password-reset links, invitations and
//! email-change codes (issue 4, "Email delivery").
//!
//! This module holds the messages ([`Email`]), their templates ([`render`]) and the address type
//! users and invitations are stored with ([`EmailAddress`]); it imports nothing above the
//! foundations. Callers queue an [`Email`] with
//! [`crate::store::email_outbox::enqueue`] inside the transaction that creates the code or link,
//! so the email exists exactly when that change commits. The email worker renders it from the
//! templates under `templates/email/` (plain text + HTML) and sends it over SMTP after the
//! commit, retrying with backoff; the API response never waits for SMTP. Without `KEYSTEAD_SMTP_URL` nothing is sent: the worker
//! marks queued rows `skipped` and wipes their payload, and the codes stay available where the
//! API returns them.
//!
//! Queued payloads hold one-time secrets: [`Email`]'s `Debug` redacts them, the worker never
//! logs them, and rows are deleted once sent (their payload is nulled when they fail for good).

mod address;
mod message;
mod templates;

pub use address::EmailAddress;
pub use message::Email;
pub use templates::{Rendered, render};

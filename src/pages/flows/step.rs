//! What a step of a hosted-login flow answers ([`Step`]: done, a form error, or an error page)
//! and the checks steps start with (a deliverable address, the rate limits).

use std::str::FromStr;

use axum::http::StatusCode;

use crate::email::EmailAddress;
use crate::http::rate_limit::Class;
use crate::pages::error::PageError;
use crate::state::AppState;

/// A problem shown on the form that was sent.
#[derive(Debug, Clone)]
pub struct FormError {
    /// HTTP status of the re-rendered form.
    pub status: StatusCode,
    /// The message.
    pub message: String,
}

impl FormError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Why a step did not complete: a form error, or an error page.
#[derive(Debug)]
pub enum Failure {
    /// Show the form again with this message.
    Form(FormError),
    /// End with an error page.
    Page(PageError),
}

impl<E: Into<PageError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Page(e.into())
    }
}

impl Failure {
    /// As an error page (a form error becomes a 400 page with its message).
    pub fn into_page(self) -> PageError {
        match self {
            Self::Page(p) => p,
            Self::Form(e) => PageError::BadRequest(e.message),
        }
    }
}

/// The result of a step.
pub type Step<T> = Result<T, Failure>;

/// A form error with `status` and `message`.
pub(super) fn form<T>(status: StatusCode, message: &str) -> Step<T> {
    Err(Failure::Form(FormError::new(status, message)))
}

/// The normalised address, if it is one emails can be sent to.
pub(super) fn deliverable_email(email: &str) -> Option<EmailAddress> {
    EmailAddress::parse(email)
        .ok()
        .filter(|e| lettre::Address::from_str(e).is_ok())
}

/// Counts one request against `class` for `key`; a rejection becomes a 429 form error.
pub(super) async fn limit(state: &AppState, class: Class, key: &str) -> Step<()> {
    let d = state.limiter.check(class, key).await;
    if d.allowed {
        return Ok(());
    }
    form(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too many attempts. Wait {} seconds and try again.",
            d.retry_after_secs.max(1)
        ),
    )
}

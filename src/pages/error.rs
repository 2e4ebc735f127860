//! [`PageError`]: an error that ends a page request with an HTML error page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::views::{self, Chrome, Message};
use crate::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};

/// An error that ends a page request with an HTML page (forms show their own errors inline).
#[derive(Debug)]
pub enum PageError {
    /// The flow cookie is missing, unknown or expired (400).
    FlowExpired,
    /// A malformed request (400).
    BadRequest(String),
    /// Refused (403): CSRF, or not allowed.
    Forbidden(String),
    /// Anything else; internal errors render a generic 500 page.
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Api(e.into())
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            Self::FlowExpired => (
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "This sign-in page has expired or was opened in another browser. Go back to the \
                 application and sign in again."
                    .to_string(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Something is wrong", m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Request refused", m),
            Self::Api(ApiError::RateLimited {
                retry_after_secs, ..
            }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!(
                    "Too many attempts. Wait {} seconds and try again.",
                    retry_after_secs.max(1)
                ),
            ),
            Self::Api(e) => {
                let status = e.status();
                if status.is_server_error() {
                    if let ApiError::Internal(inner) = &e {
                        tracing::error!(error = ?inner, "internal error on a hosted page");
                    }
                    (
                        status,
                        "Something went wrong",
                        "Something went wrong on our side. Try again in a moment.".to_string(),
                    )
                } else {
                    let body = e.body();
                    let message = body["message"]
                        .as_str()
                        .or_else(|| body["error_description"].as_str())
                        .unwrap_or("The request could not be completed.")
                        .to_string();
                    (status, "Something is wrong", message)
                }
            }
        };
        let page = Message::new(Chrome::new("Keystead", heading), message);
        let mut response = views::render(status, &page);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

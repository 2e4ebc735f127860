//! The one error type of the HTTP API and its WorkOS-shaped JSON bodies.
//!
//! WorkOS uses several error dialects (WORKOS-API-NOTES §2.7): `{message}` (shape A), `{code, message}`
//! (B), `{code, message, errors}` (C) and the OAuth `{error, error_description}` (D). Each variant
//! renders exactly one of them. Internal failures render a generic 500 and log their detail once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::ids::TypedId;

/// Result alias for handlers and store functions.
pub type ApiResult<T> = Result<T, ApiError>;

/// Every error a request can end in. Client errors carry the exact WorkOS body fields.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400, shape B/C: `{code, message[, errors]}`; `code` absent renders shape A.
    #[error("bad request: {message}")]
    BadRequest {
        /// WorkOS error code, e.g. `invalid_credentials`.
        code: Option<&'static str>,
        /// Human-readable message.
        message: String,
        /// Optional item list (`[{code, message}]` or `[{code, field}]`).
        errors: Vec<Value>,
    },
    /// 401, shape A. Missing, unknown or revoked API key.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403, shape B plus extra fields (pending-authentication payloads, WORKOS-API-NOTES §4.4).
    #[error("forbidden: {code}")]
    Forbidden {
        /// WorkOS error code, e.g. `email_verification_required`.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// Extra top-level fields merged into the body.
        extra: Map<String, Value>,
    },
    /// 404, shape A: `{"message": "<Entity> not found: '<id>'."}`; shape B (`{code, message}`)
    /// when the operation defines a code, e.g. `entity_not_found` for webhook endpoints.
    #[error("{entity} not found: {id}")]
    NotFound {
        /// Display name of the entity, e.g. `Organization`.
        entity: &'static str,
        /// The id (or key) that was looked up.
        id: String,
        /// WorkOS error code, when the operation defines one.
        code: Option<&'static str>,
    },
    /// 409, shape A or B.
    #[error("conflict: {message}")]
    Conflict {
        /// WorkOS error code, when the operation defines one.
        code: Option<&'static str>,
        /// Human-readable message.
        message: String,
    },
    /// 422, shape B/C: `invalid_request_parameters` with `errors[{code, field}]`.
    #[error("unprocessable: {message}")]
    Unprocessable {
        /// WorkOS error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// Item list, usually `[{code, field}]`.
        errors: Vec<Value>,
    },
    /// OAuth-style error, shape D: `{error, error_description}` with the given status.
    #[error("oauth error {error}")]
    OAuth {
        /// HTTP status (400 in almost every case).
        status: StatusCode,
        /// OAuth error code, e.g. `invalid_grant`.
        error: &'static str,
        /// Human-readable description.
        description: String,
    },
    /// 408: the request did not finish within the configured timeout.
    #[error("request timeout")]
    Timeout,
    /// 429: a rate limit was exceeded; renders `Retry-After` and `X-RateLimit-*` headers.
    #[error("rate limited")]
    RateLimited {
        /// WorkOS error code: `rate_limit_exceeded`, or the code the spec names for the
        /// operation (`daily_quota_exceeded` on the send-code routes).
        code: &'static str,
        /// The class's burst (`X-RateLimit-Limit`).
        limit: u32,
        /// Seconds until the bucket is full again (`X-RateLimit-Reset`).
        reset_secs: u64,
        /// Seconds to wait (`Retry-After`, at least 1).
        retry_after_secs: u64,
    },
    /// 429 with a WorkOS code other than `rate_limit_exceeded`, shape B (e.g.
    /// `email_change_too_many_attempts`); no rate-limit headers.
    #[error("too many attempts: {code}")]
    TooManyAttempts {
        /// WorkOS error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// 413: the request body exceeds the configured limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 503: the database is unreachable (see [`is_connection_failure`]); renders
    /// `Retry-After`.
    #[error("service unavailable")]
    Unavailable,
    /// 500: anything unexpected; detail is logged, never sent.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait (`Retry-After`) after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 1;

/// Whether `e` is a failure to reach or keep the database connection rather than a failure of
/// the statement: pool timeout or closed, I/O, TLS, the worker gone, and PostgreSQL's
/// SQLSTATE classes `57P` (operator intervention: admin or crash shutdown, cannot connect now)
/// and `08` (connection exception). Such a request may succeed when retried.
pub fn is_connection_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

impl From<anyhow::Error> for ApiError {
    /// An unexpected failure is a 500, unless a connection-level database failure caused it
    /// (a 503).
    fn from(e: anyhow::Error) -> Self {
        let unavailable = e.chain().any(|cause| {
            cause
                .downcast_ref::<sqlx::Error>()
                .is_some_and(is_connection_failure)
        });
        if unavailable {
            tracing::warn!(error = %e, "database unavailable");
            Self::Unavailable
        } else {
            Self::Internal(e)
        }
    }
}

impl ApiError {
    /// 404 for `entity` with the given id.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
            code: None,
        }
    }

    /// The 404 of `T`'s entity for `id` (a typed id, or the raw text a client sent): its
    /// [`TypedId::ENTITY`] and, when it has one, its [`TypedId::NOT_FOUND_CODE`].
    pub fn not_found_id<T: TypedId>(id: impl Into<String>) -> Self {
        Self::NotFound {
            entity: T::ENTITY,
            id: id.into(),
            code: T::NOT_FOUND_CODE,
        }
    }

    /// 404 for `entity` with the given id and a WorkOS code (shape B).
    pub fn not_found_with_code(
        code: &'static str,
        entity: &'static str,
        id: impl Into<String>,
    ) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
            code: Some(code),
        }
    }

    /// 400 with a WorkOS code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: Some(code),
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 422 `invalid_request_parameters` for one field: `errors: [{code, field}]`.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code: "invalid_request_parameters",
            message: message.into(),
            errors: vec![json!({ "code": code, "field": field })],
        }
    }

    /// OAuth-style 400 (`{error, error_description}`).
    pub fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    /// The HTTP status this error renders with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::OAuth { status, .. } => *status,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } | Self::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body, in the WorkOS dialect for this variant.
    pub fn body(&self) -> Value {
        fn coded(code: Option<&str>, message: &str, errors: &[Value]) -> Value {
            let mut body = Map::new();
            if let Some(code) = code {
                body.insert("code".into(), code.into());
            }
            body.insert("message".into(), message.into());
            if !errors.is_empty() {
                body.insert("errors".into(), Value::Array(errors.to_vec()));
            }
            Value::Object(body)
        }
        match self {
            Self::BadRequest {
                code,
                message,
                errors,
            } => coded(*code, message, errors),
            Self::Unauthorized(message) => json!({ "message": message }),
            Self::Forbidden {
                code,
                message,
                extra,
            } => {
                let mut body = extra.clone();
                body.insert("code".into(), (*code).into());
                body.insert("message".into(), message.as_str().into());
                Value::Object(body)
            }
            Self::NotFound { entity, id, code } => {
                coded(*code, &format!("{entity} not found: '{id}'."), &[])
            }
            Self::Conflict { code, message } => coded(*code, message, &[]),
            Self::TooManyAttempts { code, message } => coded(Some(code), message, &[]),
            Self::Unprocessable {
                code,
                message,
                errors,
            } => coded(Some(code), message, errors),
            Self::OAuth {
                error, description, ..
            } => {
                json!({ "error": error, "error_description": description })
            }
            Self::Timeout => json!({
                "code": "request_timeout",
                "message": "The request took too long to process."
            }),
            Self::RateLimited { code, .. } => json!({
                "code": code,
                "message": "Too many requests."
            }),
            Self::PayloadTooLarge => json!({
                "code": "payload_too_large",
                "message": "The request body is too large."
            }),
            Self::Unavailable => json!({
                "code": "service_unavailable",
                "message": "The service is temporarily unavailable. Try again shortly."
            }),
            Self::Internal(_) => json!({
                "code": "internal_error",
                "message": "An internal error occurred."
            }),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if is_connection_failure(&e) {
            tracing::warn!(error = %e, "database unavailable");
            Self::Unavailable
        } else {
            Self::Internal(anyhow::Error::new(e))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            // Logged here, inside the request's span, so the line carries the request id.
            tracing::error!(error = ?e, "internal error");
        }
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
            );
        }
        if let Self::RateLimited {
            limit,
            reset_secs,
            retry_after_secs,
            ..
        } = self
        {
            let headers = response.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", u64::from(limit)),
                ("x-ratelimit-remaining", 0),
                ("x-ratelimit-reset", reset_secs),
                ("retry-after", retry_after_secs.max(1)),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
                    headers.insert(name, v);
                }
            }
        }
        response
    }
}

/// Maps database constraint violations to client errors (launchbadge's `on_constraint`).
pub trait ResultExt<T> {
    /// If the error is a violation of `constraint`, replace it with `f()`.
    fn on_constraint(self, constraint: &str, f: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T, E: Into<ApiError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(self, constraint: &str, f: impl FnOnce() -> ApiError) -> ApiResult<T> {
        self.map_err(|e| match e.into() {
            ApiError::Internal(inner) => match inner.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) if db.constraint() == Some(constraint) => f(),
                _ => ApiError::Internal(inner),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_workos_dialects() {
        assert_eq!(
            ApiError::not_found("Organization", "org_1").body(),
            json!({"message": "Organization not found: 'org_1'."})
        );
        assert_eq!(
            ApiError::not_found_with_code("entity_not_found", "Webhook Endpoint", "we_1").body(),
            json!({"code": "entity_not_found", "message": "Webhook Endpoint not found: 'we_1'."})
        );
        assert_eq!(
            ApiError::bad_request("invalid_credentials", "Invalid credentials.").body(),
            json!({"code": "invalid_credentials", "message": "Invalid credentials."})
        );
        assert_eq!(
            ApiError::oauth("invalid_grant", "bad").body(),
            json!({"error": "invalid_grant", "error_description": "bad"})
        );
        let e = ApiError::invalid_field("name", "required", "Validation failed.");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body()["errors"][0]["field"], "name");
    }

    /// A database error with a SQLSTATE, as PostgreSQL sends it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "terminating connection due to administrator command"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    #[test]
    fn connection_failures_are_503_with_retry_after() {
        let refused = || {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ))
        };
        let failures = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            refused(),
            sqlx::Error::WorkerCrashed,
            db("57P01"), // admin_shutdown
            db("57P02"), // crash_shutdown
            db("57P03"), // cannot_connect_now
            db("08006"), // connection_failure
            db("08003"), // connection_does_not_exist
        ];
        for e in failures {
            let shown = e.to_string();
            let api = ApiError::from(e);
            assert!(matches!(api, ApiError::Unavailable), "{shown}");
            let response = api.into_response();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{shown}"
            );
            assert_eq!(response.headers()[header::RETRY_AFTER], "1", "{shown}");
        }
        // Wrapped in anyhow (with context), as `?` in domain code does.
        let wrapped = anyhow::Error::new(refused()).context("loading the user");
        assert!(matches!(ApiError::from(wrapped), ApiError::Unavailable));
        let body = ApiError::Unavailable.body();
        assert_eq!(body["code"], "service_unavailable");
        assert!(body["message"].is_string());
    }

    #[test]
    fn statement_failures_stay_500() {
        for e in [
            db("23505"), // unique_violation
            db("22021"), // character_not_in_repertoire
            db("57014"), // query_canceled: class 57, but not 57P
            sqlx::Error::RowNotFound,
        ] {
            let shown = e.to_string();
            let api = ApiError::from(e);
            assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR, "{shown}");
            let response = api.into_response();
            assert!(response.headers().get(header::RETRY_AFTER).is_none());
        }
        let plain = anyhow::anyhow!("unexpected");
        assert!(matches!(ApiError::from(plain), ApiError::Internal(_)));
    }
}

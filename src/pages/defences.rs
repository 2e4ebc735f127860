//! The layers every hosted page sits behind (besides the per-IP rate limit): tower-http's
//! cross-origin POST protection ([`csrf_layer`]) and the security headers
//! ([`security_headers`]).

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::csrf::{CsrfLayer, ResponseForProtectionError};

use super::error::PageError;

/// tower-http's cross-origin POST protection; the public URL's origin is trusted too, for
/// proxies that rewrite `Host`.
pub(super) fn csrf_layer(
    public_url: &str,
) -> CsrfLayer<impl ResponseForProtectionError<Body> + use<>> {
    let mut layer = CsrfLayer::new();
    if let Ok(url) = url::Url::parse(public_url) {
        let origin = url.origin().ascii_serialization();
        match layer.clone().add_trusted_origin(&origin) {
            Ok(l) => layer = l,
            Err(e) => tracing::warn!(error = ?e, "public URL not usable as a trusted origin"),
        }
    }
    layer.with_rejection_response(|_| {
        PageError::Forbidden(
            "This form was sent from another site, so it was refused. Go back to the \
             application and start again."
                .into(),
        )
        .into_response()
    })
}

/// Security headers on every page: no scripts, no framing, no referrer, no caching.
pub(super) async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

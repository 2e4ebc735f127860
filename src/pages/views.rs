//! The hosted pages' templates (`templates/pages/*.html`, askama, HTML-escaped), the helper
//! that renders one into a response, and the pages' stylesheet.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// An organization the user can sign in to (one of their active memberships).
#[derive(Debug, Clone)]
pub(super) struct OrganizationChoice {
    /// `org_…`
    pub id: crate::ids::OrganizationId,
    /// Display name.
    pub name: String,
}

/// What every page shows around its form (`layout.html`).
#[derive(Debug, Clone, Default)]
pub(super) struct Chrome {
    /// The environment's name.
    pub product: String,
    /// The page heading (also the `<title>`).
    pub heading: String,
    /// An error to show above the form (`role="alert"`).
    pub error: Option<String>,
    /// A notice to show above the form (`role="status"`).
    pub notice: Option<String>,
}

impl Chrome {
    /// A page of `product` titled `heading`.
    pub fn new(product: &str, heading: &str) -> Self {
        Self {
            product: product.to_string(),
            heading: heading.to_string(),
            ..Self::default()
        }
    }

    /// With an error message.
    pub fn error(mut self, message: impl Into<String>) -> Self {
        self.error = Some(message.into());
        self
    }

    /// With a notice.
    pub fn notice(mut self, message: impl Into<String>) -> Self {
        self.notice = Some(message.into());
        self
    }
}

/// Email + password sign-in.
#[derive(Template)]
#[template(path = "pages/sign_in.html")]
pub(super) struct SignIn {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) email: String,
    /// Whether email-based options (codes, reset links) are offered.
    pub(super) email_enabled: bool,
    /// Whether the password form is offered (`sign_in_methods.password`).
    pub(super) password_enabled: bool,
    /// Whether the magic-code link is offered (email enabled and `sign_in_methods.magic_auth`).
    pub(super) magic_enabled: bool,
}

/// Account creation.
#[derive(Template)]
#[template(path = "pages/sign_up.html")]
pub(super) struct SignUp {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) email: String,
    pub(super) min_password: usize,
}

/// Asks for the address a magic code goes to.
#[derive(Template)]
#[template(path = "pages/magic_code.html")]
pub(super) struct MagicCode {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) email: String,
}

/// Asks for a 6-digit code (magic code, email verification, TOTP).
#[derive(Template)]
#[template(path = "pages/code.html")]
pub(super) struct Code {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) explanation: String,
    pub(super) label: &'static str,
    pub(super) action: &'static str,
    pub(super) resend_action: Option<&'static str>,
}

/// Organization selection.
#[derive(Template)]
#[template(path = "pages/organization.html")]
pub(super) struct Organization {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) organizations: Vec<OrganizationChoice>,
}

/// Asks for the address a reset link goes to.
#[derive(Template)]
#[template(path = "pages/forgot_password.html")]
pub(super) struct ForgotPassword {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) email: String,
}

/// Asks for a new password (the reset token travels in a hidden field).
#[derive(Template)]
#[template(path = "pages/reset_password.html")]
pub(super) struct ResetPassword {
    pub(super) page: Chrome,
    pub(super) client_id: String,
    pub(super) token: String,
    pub(super) min_password: usize,
}

/// Asks for the user code a device shows (device verification, RFC 8628 §3.3).
#[derive(Template)]
#[template(path = "pages/device_code.html")]
pub(super) struct DeviceCode {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) user_code: String,
}

/// "Allow device?": approve or deny the device authorization of a signed-in person.
#[derive(Template)]
#[template(path = "pages/device_confirm.html")]
pub(super) struct DeviceConfirm {
    pub(super) page: Chrome,
    pub(super) csrf: String,
    pub(super) user_code: String,
    pub(super) email: String,
}

/// A message (and optionally a link); also the error page.
#[derive(Template)]
#[template(path = "pages/message.html")]
pub(super) struct Message {
    pub(super) page: Chrome,
    pub(super) message: String,
    pub(super) link: Option<String>,
    pub(super) link_text: String,
}

impl Message {
    /// A message page without a link.
    pub fn new(page: Chrome, message: impl Into<String>) -> Self {
        Self {
            page,
            message: message.into(),
            link: None,
            link_text: String::new(),
        }
    }

    /// With a link.
    pub fn link(mut self, href: &str, text: &str) -> Self {
        self.link = Some(href.to_string());
        self.link_text = text.to_string();
        self
    }
}

/// Renders `template` with `status` as `text/html`.
pub(super) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// `GET /authkit/static/style.css`: the pages' stylesheet.
pub(super) async fn stylesheet() -> Response {
    let mut res = include_str!("../../templates/pages/style.css").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res
}

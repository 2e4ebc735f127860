//! The first-factor pages: sign in with a password (`/authkit/sign-in`), sign up
//! (`/authkit/sign-up`), magic code (`/authkit/magic-code`, `/authkit/magic-code/verify`),
//! and password reset (`/authkit/forgot-password`, `/authkit/reset-password`).
//!
//! Email-based options are offered only when emails can be sent (`KEYSTEAD_SMTP_URL`); the
//! password form and the magic-code pages only when the environment's `sign_in_methods` allow
//! them (a disabled method's pages answer 400; sign-up, which sets a password, goes with
//! `password`). The
//! reset link works without the flow cookie (it may be opened in another browser): it carries
//! the environment's `client_id` and the token.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::browser::Browser;
use super::error::PageError;
use super::flow_cookie::{current_flow, posted_flow};
use super::flows::{self, step::Failure};
use super::form::{form_again, read_form, see_other};
use super::steps::{CodeForm, go};
use super::views::{
    self, Chrome, Code, ForgotPassword, MagicCode, Message, ResetPassword, SignIn, SignUp,
};
use crate::http::QueryMap;
use crate::http::extract::{FormBody, FormError};
use crate::password::MIN_PASSWORD_CHARS;
use crate::state::AppState;
use crate::store::authkit_flows::Flow;
use crate::store::environment_settings::{self, SignInMethods};
use crate::store::environments::{self, Environment};

/// Routes of the first-factor pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/authkit/sign-in", get(sign_in_page).post(sign_in))
        .route("/authkit/sign-up", get(sign_up_page).post(sign_up))
        .route(
            "/authkit/magic-code",
            get(magic_code_page).post(send_magic_code),
        )
        .route(
            "/authkit/magic-code/verify",
            get(magic_code_verify_page).post(verify_magic_code),
        )
        .route(
            "/authkit/forgot-password",
            get(forgot_password_page).post(forgot_password),
        )
        .route(
            "/authkit/reset-password",
            get(reset_password_page).post(reset_password),
        )
}

/// The sign-in form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignInForm {
    csrf_token: String,
    email: String,
    password: String,
}

/// The sign-up form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignUpForm {
    csrf_token: String,
    first_name: String,
    last_name: String,
    email: String,
    password: String,
}

/// A form with one email field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmailForm {
    csrf_token: String,
    email: String,
}

/// The reset form (no CSRF token: the reset token is the secret).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResetForm {
    client_id: String,
    token: String,
    password: String,
}

fn sign_in_view(
    state: &AppState,
    methods: &SignInMethods,
    csrf: String,
    email: String,
    page: Chrome,
) -> SignIn {
    let email_enabled = state.settings.email.enabled();
    SignIn {
        page,
        csrf,
        email,
        email_enabled,
        password_enabled: methods.password,
        magic_enabled: email_enabled && methods.magic_auth,
    }
}

/// The flow's environment's `sign_in_methods`, read per request.
async fn sign_in_methods(state: &AppState, flow: &Flow) -> Result<SignInMethods, PageError> {
    let mut conn = state.db.acquire().await?;
    Ok(
        environment_settings::get(&mut conn, &flow.environment_id, &state.settings)
            .await?
            .sign_in_methods,
    )
}

/// Refuses a first-factor page whose method the environment disabled.
fn method_enabled(enabled: bool) -> Result<(), PageError> {
    if enabled {
        Ok(())
    } else {
        Err(PageError::BadRequest(
            "This sign-in method is disabled for this application.".into(),
        ))
    }
}

fn email_pages_enabled(state: &AppState) -> Result<(), PageError> {
    if state.settings.email.enabled() {
        Ok(())
    } else {
        Err(PageError::BadRequest(
            "This option is not available: the server cannot send email.".into(),
        ))
    }
}

/// `GET /authkit/sign-in`.
async fn sign_in_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let email = flow.login_hint.clone().unwrap_or_default();
    let page = Chrome::new(&flow.environment_name, "Sign in");
    let methods = sign_in_methods(&state, &flow).await?;
    Ok(views::render(
        StatusCode::OK,
        &sign_in_view(&state, &methods, csrf, email, page),
    ))
}

/// `POST /authkit/sign-in`.
async fn sign_in(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<SignInForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let methods = sign_in_methods(&state, &flow).await?;
    method_enabled(methods.password)?;
    match flows::password_sign_in(&state, &flow, &browser, &form.email, form.password).await {
        Ok(()) => go(&state, &flow, &browser).await,
        Err(f) => form_again(f, &flow.environment_name, "Sign in", |page| {
            sign_in_view(&state, &methods, csrf, form.email, page)
        }),
    }
}

fn sign_up_view(csrf: String, form: SignUpForm, page: Chrome) -> SignUp {
    SignUp {
        page,
        csrf,
        first_name: form.first_name,
        last_name: form.last_name,
        email: form.email,
        min_password: MIN_PASSWORD_CHARS,
    }
}

/// `GET /authkit/sign-up`.
async fn sign_up_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    method_enabled(sign_in_methods(&state, &flow).await?.password)?;
    let form = SignUpForm {
        email: flow.login_hint.clone().unwrap_or_default(),
        ..SignUpForm::default()
    };
    let page = Chrome::new(&flow.environment_name, "Create your account");
    Ok(views::render(
        StatusCode::OK,
        &sign_up_view(csrf, form, page),
    ))
}

/// `POST /authkit/sign-up`.
async fn sign_up(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<SignUpForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    method_enabled(sign_in_methods(&state, &flow).await?.password)?;
    let input = flows::SignUp {
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
    };
    match flows::sign_up(&state, &flow, &browser, input).await {
        Ok(()) => go(&state, &flow, &browser).await,
        Err(f) => form_again(f, &flow.environment_name, "Create your account", |page| {
            sign_up_view(csrf, form, page)
        }),
    }
}

/// `GET /authkit/magic-code`.
async fn magic_code_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    email_pages_enabled(&state)?;
    let (flow, csrf) = current_flow(&state, &browser).await?;
    method_enabled(sign_in_methods(&state, &flow).await?.magic_auth)?;
    let view = MagicCode {
        page: Chrome::new(&flow.environment_name, "Sign in with a code"),
        csrf,
        email: flow.login_hint.clone().unwrap_or_default(),
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /authkit/magic-code`: sends the code, then asks for it.
async fn send_magic_code(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<EmailForm>, FormError>,
) -> Result<Response, PageError> {
    email_pages_enabled(&state)?;
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    method_enabled(sign_in_methods(&state, &flow).await?.magic_auth)?;
    match flows::send_magic_code(&state, &flow, &form.email).await {
        Ok(()) => Ok(see_other("/authkit/magic-code/verify")),
        Err(f) => form_again(f, &flow.environment_name, "Sign in with a code", |page| {
            MagicCode {
                page,
                csrf,
                email: form.email,
            }
        }),
    }
}

fn magic_code_view(flow: &Flow, csrf: String, page: Chrome) -> Code {
    Code {
        page,
        csrf,
        explanation: format!(
            "We sent a 6-digit code to {}. It expires in 10 minutes.",
            flow.pending_email
                .as_deref()
                .unwrap_or("your email address")
        ),
        label: "Sign-in code",
        action: "/authkit/magic-code/verify",
        resend_action: None,
    }
}

/// `GET /authkit/magic-code/verify`.
async fn magic_code_verify_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    if flow.pending_email.is_none() {
        return Ok(see_other("/authkit/magic-code"));
    }
    let page = Chrome::new(&flow.environment_name, "Check your email");
    Ok(views::render(
        StatusCode::OK,
        &magic_code_view(&flow, csrf, page),
    ))
}

/// `POST /authkit/magic-code/verify`.
async fn verify_magic_code(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<CodeForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    method_enabled(sign_in_methods(&state, &flow).await?.magic_auth)?;
    match flows::verify_magic_code(&state, &flow, &browser, &form.code).await {
        Ok(()) => go(&state, &flow, &browser).await,
        Err(f) => form_again(f, &flow.environment_name, "Check your email", |page| {
            magic_code_view(&flow, csrf, page)
        }),
    }
}

/// `GET /authkit/forgot-password`.
async fn forgot_password_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    email_pages_enabled(&state)?;
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let view = ForgotPassword {
        page: Chrome::new(&flow.environment_name, "Reset your password"),
        csrf,
        email: flow.login_hint.clone().unwrap_or_default(),
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /authkit/forgot-password`: the same answer whether or not the account exists.
async fn forgot_password(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<EmailForm>, FormError>,
) -> Result<Response, PageError> {
    email_pages_enabled(&state)?;
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    match flows::request_password_reset(&state, &flow, &form.email).await {
        Ok(()) => {
            let page = Chrome::new(&flow.environment_name, "Check your email");
            let view = Message::new(
                page,
                "If an account uses this address, we sent it a link to choose a new password. \
                 The link works once.",
            )
            .link("/authkit/sign-in", "Back to sign in");
            Ok(views::render(StatusCode::OK, &view))
        }
        Err(f) => form_again(f, &flow.environment_name, "Reset your password", |page| {
            ForgotPassword {
                page,
                csrf,
                email: form.email,
            }
        }),
    }
}

async fn environment(state: &AppState, client_id: &str) -> Result<Environment, PageError> {
    let mut conn = state.db.acquire().await?;
    environments::find_by_client_id(&mut conn, client_id)
        .await?
        .ok_or_else(|| PageError::BadRequest("This reset link is not valid.".into()))
}

fn invalid_link(env: &Environment) -> Response {
    let page = Chrome::new(&env.name, "Link expired");
    let view = Message::new(
        page,
        "This reset link has expired or was already used. Ask for a new one from the sign-in page.",
    );
    views::render(StatusCode::BAD_REQUEST, &view)
}

/// `GET /authkit/reset-password?client_id=…&token=…` (the link in the email).
async fn reset_password_page(
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, PageError> {
    let env = environment(&state, q.get("client_id").unwrap_or_default()).await?;
    let token = q.get("token").unwrap_or_default().to_string();
    if !flows::reset_token_valid(&state, &env.id, &token)
        .await
        .map_err(Failure::into_page)?
    {
        return Ok(invalid_link(&env));
    }
    let view = ResetPassword {
        page: Chrome::new(&env.name, "Choose a new password"),
        client_id: env.client_id.clone(),
        token,
        min_password: MIN_PASSWORD_CHARS,
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /authkit/reset-password`: sets the password, revokes the user's sessions.
async fn reset_password(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<ResetForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let env = environment(&state, &form.client_id).await?;
    match flows::reset_password(&state, &env.id, &form.token, form.password).await {
        Ok(()) => {
            let page = Chrome::new(&env.name, "Password changed");
            let mut view = Message::new(
                page,
                "Your password has been changed and you have been signed out everywhere.",
            );
            // Back into the flow when this browser has one; otherwise back to the application.
            if current_flow(&state, &browser).await.is_ok() {
                view = view.link("/authkit/sign-in", "Sign in with your new password");
            } else {
                view.message
                    .push_str(" Return to the application to sign in.");
            }
            Ok(views::render(StatusCode::OK, &view))
        }
        Err(Failure::Form(e)) => {
            let view = ResetPassword {
                page: Chrome::new(&env.name, "Choose a new password").error(e.message),
                client_id: env.client_id.clone(),
                token: form.token,
                min_password: MIN_PASSWORD_CHARS,
            };
            Ok(views::render(e.status, &view))
        }
        Err(Failure::Page(PageError::BadRequest(_))) => Ok(invalid_link(&env)),
        Err(Failure::Page(p)) => Err(p),
    }
}

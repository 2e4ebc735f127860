//! The device verification page of RFC 8628 (§3.3), the `verification_uri` that
//! `POST /user_management/authorize/device` hands out:
//!
//! - `GET /device` (optionally `?user_code=…`, from `verification_uri_complete`) asks for the
//!   code the device shows; `POST /device` looks it up (case-insensitive, dashes and spaces
//!   ignored) among the live pending authorizations, starts a hosted-login flow for its
//!   environment that carries the code, and sends the browser to the sign-in page;
//! - the person signs in through the usual pages and steps (password or magic code, email
//!   verification, TOTP, organization selection), which end here instead of at a client;
//! - `GET /device/confirm` asks "Allow device?"; `POST /device/confirm` approves (for the user
//!   and organization the flow settled on) or denies the authorization, which the device's
//!   next poll of the device-code grant reports. The flow ends either way.
//!
//! Events: the sign-in records its `authentication.*` events on the way (as for any flow);
//! approving or denying records none, since the WorkOS spec names no device event; the
//! approved device's grant records `session.created` as the `authorization_code` grant does.
//!
//! The code form is CSRF-protected like the flow's forms, with a token derived from a random
//! value in its own encrypted cookie (no flow exists before the code is known). Code lookups
//! are rate-limited per client IP (the `authenticate_ip` class) on top of the pages' limit.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::Cookie;
use serde::Deserialize;

use super::browser::Browser;
use super::error::PageError;
use super::flow_cookie::{
    FLOW_TTL, current_flow, expired_flow_cookie, flow_cookie, page_cookie, posted_flow,
};
use super::form::{read_form, see_other};
use super::steps::{Next, go, next_step};
use super::views::{self, Chrome, DeviceCode, DeviceConfirm, Message};
use crate::crypto::{ct_eq, random_token, sha256_hex};
use crate::http::QueryMap;
use crate::http::extract::{FormBody, FormError};
use crate::http::rate_limit::Class;
use crate::state::AppState;
use crate::store::authkit_flows::{self, Flow, NewFlow};
use crate::store::device_authorizations::{self, normalize_user_code};

/// The cookie whose value the code form's CSRF token is derived from.
const DEVICE_COOKIE: &str = "keystead_device";
/// Longest user code accepted from a query or form (a real one has 9 characters).
const MAX_CODE: usize = 32;

/// Routes of the device verification pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/device", get(code_page).post(enter_code))
        .route("/device/confirm", get(confirm_page).post(decide))
}

/// The code form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    csrf_token: String,
    user_code: String,
}

/// The confirmation form: `decision` is `approve` or `deny`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DecisionForm {
    csrf_token: String,
    decision: String,
}

/// The code form's CSRF token for the device cookie's value.
fn code_csrf(cookie_value: &str) -> String {
    sha256_hex(&format!("keystead-device-csrf:{cookie_value}"))
}

fn device_cookie(state: &AppState, value: String) -> Cookie<'static> {
    page_cookie(state, DEVICE_COOKIE, value, "/device")
}

fn code_view(csrf: String, user_code: &str, error: Option<String>) -> DeviceCode {
    let mut page = Chrome::new("Keystead", "Connect a device");
    if let Some(e) = error {
        page = page.error(e);
    }
    DeviceCode {
        page,
        csrf,
        user_code: user_code.chars().take(MAX_CODE).collect(),
    }
}

/// `GET /device[?user_code=…]`.
async fn code_page(
    State(state): State<AppState>,
    browser: Browser,
    q: QueryMap,
) -> Result<Response, PageError> {
    let value = browser
        .jar
        .get(DEVICE_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| random_token(32));
    let view = code_view(
        code_csrf(&value),
        &normalize_user_code(q.get("user_code").unwrap_or_default()),
        None,
    );
    let jar = browser.jar.add(device_cookie(&state, value));
    Ok((jar, views::render(StatusCode::OK, &view)).into_response())
}

/// `POST /device`: finds the pending authorization and starts a sign-in for it.
async fn enter_code(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<CodeForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let value = browser
        .jar
        .get(DEVICE_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(form_expired)?;
    let csrf = code_csrf(&value);
    if !ct_eq(csrf.as_bytes(), form.csrf_token.as_bytes()) {
        return Err(form_expired());
    }
    let typed = form.user_code.chars().take(MAX_CODE).collect::<String>();
    let again = |status: StatusCode, message: String| {
        views::render(status, &code_view(csrf.clone(), &typed, Some(message)))
    };
    let code = normalize_user_code(&typed);
    if code.is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "Enter the code shown on your device.".into(),
        ));
    }
    let ip = browser.client.ip_address.as_deref().unwrap_or("unknown");
    let d = state
        .limiter
        .check(Class::AuthenticateIp, &format!("device:{ip}"))
        .await;
    if !d.allowed {
        return Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many attempts. Wait {} seconds and try again.",
                d.retry_after_secs.max(1)
            ),
        ));
    }
    let waiting = {
        let mut conn = state.db.acquire().await?;
        device_authorizations::find_pending(&mut conn, &code).await?
    };
    let Some(waiting) = waiting else {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "That code is not valid or has expired. Check the code on your device, or start \
             again on the device to get a new one."
                .into(),
        ));
    };
    tracing::Span::current().record("environment_id", waiting.environment_id.as_str());
    let mut tx = state.db.begin().await?;
    let (_, token) = authkit_flows::insert(
        &mut tx,
        &waiting.environment_id,
        NewFlow {
            device_user_code: Some(waiting.user_code),
            ..NewFlow::default()
        },
        FLOW_TTL,
    )
    .await?;
    tx.commit().await?;
    let jar = browser.jar.add(flow_cookie(&state, token));
    Ok((jar, see_other("/authkit/sign-in")).into_response())
}

fn form_expired() -> PageError {
    PageError::Forbidden(
        "This form has expired. Open the device page again and enter the code.".into(),
    )
}

/// The flow's device user code, or an error page when the flow is not a device verification.
fn device_code_of(flow: &Flow) -> Result<String, PageError> {
    flow.device_user_code
        .clone()
        .ok_or_else(|| PageError::BadRequest("This sign-in is not connecting a device.".into()))
}

/// Ends the flow (its cookie is removed) with a message page.
async fn finish(
    state: &AppState,
    browser: &Browser,
    flow: &Flow,
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Result<Response, PageError> {
    let mut tx = state.db.begin().await?;
    authkit_flows::delete(&mut tx, &flow.environment_id, &flow.id).await?;
    tx.commit().await?;
    let view = Message::new(Chrome::new(&flow.environment_name, heading), message);
    let jar = browser.jar.clone().remove(expired_flow_cookie());
    Ok((jar, views::render(status, &view)).into_response())
}

const EXPIRED: &str = "This device code has expired or was already used. Start again on the \
                       device to get a new code.";

/// `GET /device/confirm`: "Allow device?" once every sign-in step is done.
async fn confirm_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let user_code = device_code_of(&flow)?;
    let Next::Complete(user, _) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let live = {
        let mut conn = state.db.acquire().await?;
        device_authorizations::find_pending(&mut conn, &user_code)
            .await?
            .is_some_and(|w| w.environment_id == flow.environment_id)
    };
    if !live {
        return finish(
            &state,
            &browser,
            &flow,
            StatusCode::BAD_REQUEST,
            "Code expired",
            EXPIRED,
        )
        .await;
    }
    let view = DeviceConfirm {
        page: Chrome::new(&flow.environment_name, "Allow device?"),
        csrf,
        user_code,
        email: user.email.into_string(),
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /device/confirm`: approves or denies the device authorization, ending the flow.
async fn decide(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<DecisionForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, _) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let user_code = device_code_of(&flow)?;
    let Next::Complete(user, organization_id) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let env = &flow.environment_id;
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(PageError::BadRequest("Choose Allow or Deny.".into())),
    };
    let mut tx = state.db.begin().await?;
    let done = if approve {
        device_authorizations::approve(
            &mut tx,
            env,
            &user_code,
            &user.id,
            organization_id.as_ref(),
            flow.auth_method.as_deref().unwrap_or("password"),
        )
        .await?
    } else {
        device_authorizations::deny(&mut tx, env, &user_code).await?
    };
    tx.commit().await?;
    let (status, heading, message) = match (done, approve) {
        (false, _) => (StatusCode::BAD_REQUEST, "Code expired", EXPIRED),
        (true, true) => (
            StatusCode::OK,
            "Device connected",
            "The device is now signed in. You can close this page and return to the device.",
        ),
        (true, false) => (
            StatusCode::OK,
            "Device denied",
            "The device was not allowed to sign in. You can close this page.",
        ),
    };
    finish(&state, &browser, &flow, status, heading, message).await
}

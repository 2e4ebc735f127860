//! The steps after a first factor, and the end of a flow: email verification
//! (`/authkit/email-verification`), TOTP (`/authkit/mfa`), organization selection
//! (`/authkit/organization`), then the authorization code sent to the client ([`go`]).
//!
//! Which step comes next is recomputed from the flow and the user each time ([`next_step`]):
//! a Radar challenge of the first factor (the email-code step, whether or not the email is
//! verified), then an unverified email (when the environment's `email_verification_required` is on and emails can be
//! sent), then a TOTP factor not yet passed (or,
//! when the environment's `mfa_enrollment` setting is `required` and the user has none, TOTP
//! enrollment at `/authkit/mfa/enroll`, whose code is checked by `/authkit/mfa`), then
//! the organization (the requested one, which the user must belong to; else the chosen one when
//! the user has several; else the only one, or none). A device verification flow then goes to
//! the device confirmation page ([`super::device`]) instead of the client.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::browser::Browser;
use super::error::PageError;
use super::flow_cookie::{current_flow, expired_flow_cookie, posted_flow};
use super::flows::{self, step::Failure};
use super::form::{form_again, read_form, see_other};
use super::views::{self, Chrome, Code, Organization, OrganizationChoice};
use crate::http::extract::{FormBody, FormError};
use crate::ids::OrganizationId;
use crate::state::AppState;
use crate::store::authkit_flows::{self, Flow};
use crate::store::authorization_codes::{self, NewCode};
use crate::store::environment_settings::{self, MfaEnrollment};
use crate::store::organization_memberships;
use crate::store::users::{self, User};

/// The "Allow device?" page (the end of a device verification flow, served by
/// [`super::device`]).
pub(super) const CONFIRM_PATH: &str = "/device/confirm";
/// Lifetime of an authorization code.
const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Routes of the steps.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authkit/email-verification",
            get(email_verification_page).post(verify_email),
        )
        .route(
            "/authkit/email-verification/resend",
            post(resend_verification),
        )
        .route("/authkit/mfa", get(mfa_page).post(verify_mfa))
        .route("/authkit/mfa/enroll", get(mfa_enroll_page))
        .route(
            "/authkit/organization",
            get(organization_page).post(select_organization),
        )
}

/// Where a flow stands.
pub(super) enum Next {
    /// No first factor yet.
    SignIn,
    /// The user's email must be verified.
    EmailVerification(User),
    /// The user must enter a TOTP code.
    Mfa(User),
    /// The user must enroll a TOTP factor (the environment requires MFA).
    MfaEnrollment(User),
    /// The user must pick one of these organizations.
    Organization(Vec<OrganizationChoice>),
    /// The requested organization is not one of the user's.
    NotMember,
    /// Done: issue a code for this organization scope.
    Complete(User, Option<OrganizationId>),
}

pub(super) async fn next_step(state: &AppState, flow: &Flow) -> Result<Next, PageError> {
    let env = &flow.environment_id;
    let Some(user_id) = &flow.user_id else {
        return Ok(Next::SignIn);
    };
    let mut conn = state.db.acquire().await?;
    let Some(user) = users::find(&mut conn, env, user_id).await? else {
        return Ok(Next::SignIn);
    };
    let settings = environment_settings::get(&mut conn, env, &state.settings).await?;
    // A Radar challenge needs the emailed code, whether or not the email is verified.
    if flow.radar_challenge {
        return Ok(Next::EmailVerification(user));
    }
    // Verification needs a code sent by email: without email delivery the step is skipped.
    if !user.email_verified
        && settings.email_verification_required
        && state.settings.email.enabled()
    {
        return Ok(Next::EmailVerification(user));
    }
    if !flow.mfa_passed {
        if flows::has_totp(state, env, &user.id)
            .await
            .map_err(Failure::into_page)?
        {
            return Ok(Next::Mfa(user));
        }
        if settings.mfa_enrollment == MfaEnrollment::Required {
            return Ok(Next::MfaEnrollment(user));
        }
    }
    let orgs: Vec<OrganizationChoice> =
        organization_memberships::active_organizations(&mut conn, env, &user.id)
            .await?
            .into_iter()
            .map(|(id, name)| OrganizationChoice { id, name })
            .collect();
    let member = |id: &OrganizationId| orgs.iter().any(|o| o.id == *id);
    let org = match (&flow.organization_id, &flow.selected_organization_id) {
        (Some(requested), _) if member(requested) => Some(requested.clone()),
        (Some(_), _) => return Ok(Next::NotMember),
        (None, Some(chosen)) if member(chosen) => Some(chosen.clone()),
        (None, _) if orgs.len() > 1 => return Ok(Next::Organization(orgs)),
        (None, _) => orgs.first().map(|o| o.id.clone()),
    };
    Ok(Next::Complete(user, org))
}

/// Moves a flow on after a successful step: to the next page, or — when nothing is left — to
/// the client's `redirect_uri?code=…&state=…` (the flow ends and its cookie is removed), or,
/// for a device verification flow, to the "Allow device?" page (`/device/confirm`).
pub(super) async fn go(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
) -> Result<Response, PageError> {
    let env = &flow.environment_id;
    let flow = {
        let mut conn = state.db.acquire().await?;
        authkit_flows::find(&mut conn, env, &flow.id)
            .await?
            .ok_or(PageError::FlowExpired)?
    };
    match next_step(state, &flow).await? {
        Next::SignIn => Ok(see_other("/authkit/sign-in")),
        Next::EmailVerification(user) => {
            if !flows::verification_code_pending(state, env, &user)
                .await
                .map_err(Failure::into_page)?
            {
                match flows::send_verification_code(state, env, &user).await {
                    Ok(()) | Err(Failure::Form(_)) => {}
                    Err(Failure::Page(p)) => return Err(p),
                }
            }
            Ok(see_other("/authkit/email-verification"))
        }
        Next::Mfa(_) => Ok(see_other("/authkit/mfa")),
        Next::MfaEnrollment(_) => Ok(see_other("/authkit/mfa/enroll")),
        Next::Organization(_) => Ok(see_other("/authkit/organization")),
        Next::NotMember => Err(PageError::Forbidden(
            "This account is not a member of the organization you are signing in to. Sign in \
             with another account, or ask for an invitation."
                .into(),
        )),
        Next::Complete(..) if flow.device_user_code.is_some() => Ok(see_other(CONFIRM_PATH)),
        Next::Complete(user, organization_id) => {
            let mut tx = state.db.begin().await?;
            let code = authorization_codes::insert(
                &mut tx,
                env,
                NewCode {
                    user_id: &user.id,
                    organization_id: organization_id.as_ref(),
                    auth_method: flow.auth_method.as_deref().unwrap_or("password"),
                    redirect_uri: &flow.redirect_uri,
                    code_challenge: flow.code_challenge.as_deref(),
                    ip_address: browser.client.ip_address.as_deref(),
                    user_agent: browser.client.user_agent.as_deref(),
                    ttl: CODE_TTL,
                },
            )
            .await?;
            authkit_flows::delete(&mut tx, env, &flow.id).await?;
            tx.commit().await?;
            let mut url = url::Url::parse(&flow.redirect_uri).map_err(anyhow::Error::from)?;
            url.query_pairs_mut().append_pair("code", &code);
            if let Some(s) = &flow.state {
                url.query_pairs_mut().append_pair("state", s);
            }
            let jar = browser.jar.clone().remove(expired_flow_cookie());
            Ok((jar, Redirect::to(url.as_str())).into_response())
        }
    }
}

/// A code form (`code`) with the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CodeForm {
    pub(super) csrf_token: String,
    pub(super) code: String,
}

/// A form with nothing but the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf_token: String,
}

/// The organization form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrganizationForm {
    csrf_token: String,
    organization_id: String,
}

fn verification_view(csrf: String, user: &User, page: Chrome) -> Code {
    Code {
        page,
        csrf,
        explanation: format!(
            "We sent a 6-digit code to {}. Enter it to confirm your email address.",
            user.email
        ),
        label: "Verification code",
        action: "/authkit/email-verification",
        resend_action: Some("/authkit/email-verification/resend"),
    }
}

fn mfa_view(csrf: String, page: Chrome) -> Code {
    Code {
        page,
        csrf,
        explanation: "Enter the 6-digit code from your authenticator app.".into(),
        label: "Authentication code",
        action: "/authkit/mfa",
        resend_action: None,
    }
}

/// `GET /authkit/email-verification`.
async fn email_verification_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let Next::EmailVerification(user) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let chrome = Chrome::new(&flow.environment_name, "Verify your email");
    Ok(views::render(
        StatusCode::OK,
        &verification_view(csrf, &user, chrome),
    ))
}

/// `POST /authkit/email-verification`.
async fn verify_email(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<CodeForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let Next::EmailVerification(user) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    match flows::verify_email_code(&state, &flow, &browser, &user, &form.code).await {
        Ok(()) => go(&state, &flow, &browser).await,
        Err(f) => form_again(f, &flow.environment_name, "Verify your email", |page| {
            verification_view(csrf, &user, page)
        }),
    }
}

/// `POST /authkit/email-verification/resend`.
async fn resend_verification(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<CsrfForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let Next::EmailVerification(user) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let chrome = Chrome::new(&flow.environment_name, "Verify your email");
    let (status, chrome) =
        match flows::send_verification_code(&state, &flow.environment_id, &user).await {
            Ok(()) => (StatusCode::OK, chrome.notice("We sent you a new code.")),
            Err(Failure::Form(e)) => (e.status, chrome.error(e.message)),
            Err(Failure::Page(p)) => return Err(p),
        };
    Ok(views::render(
        status,
        &verification_view(csrf, &user, chrome),
    ))
}

/// `GET /authkit/mfa`.
async fn mfa_page(State(state): State<AppState>, browser: Browser) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let Next::Mfa(_) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let chrome = Chrome::new(&flow.environment_name, "Two-step verification");
    Ok(views::render(StatusCode::OK, &mfa_view(csrf, chrome)))
}

/// `GET /authkit/mfa/enroll`: enrolls a TOTP factor for the user and shows its key once; the
/// code it produces is posted to `/authkit/mfa` (the user now has a factor).
async fn mfa_enroll_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let Next::MfaEnrollment(user) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let factor = flows::enroll_totp(&state, &flow, &user)
        .await
        .map_err(Failure::into_page)?;
    let view = Code {
        page: Chrome::new(&flow.environment_name, "Set up two-step verification"),
        csrf,
        explanation: format!(
            "This application requires two-step verification. Add this key to your \
             authenticator app: {}. Then enter the 6-digit code it shows.",
            factor.totp.secret
        ),
        label: "Authentication code",
        action: "/authkit/mfa",
        resend_action: None,
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /authkit/mfa`.
async fn verify_mfa(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<CodeForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let Next::Mfa(user) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    match flows::verify_totp(&state, &flow, &browser, &user, &form.code).await {
        Ok(()) => go(&state, &flow, &browser).await,
        Err(f) => form_again(f, &flow.environment_name, "Two-step verification", |page| {
            mfa_view(csrf, page)
        }),
    }
}

/// `GET /authkit/organization`.
async fn organization_page(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let (flow, csrf) = current_flow(&state, &browser).await?;
    let Next::Organization(organizations) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let view = Organization {
        page: Chrome::new(&flow.environment_name, "Choose an organization"),
        csrf,
        organizations,
    };
    Ok(views::render(StatusCode::OK, &view))
}

/// `POST /authkit/organization`.
async fn select_organization(
    State(state): State<AppState>,
    browser: Browser,
    form: Result<FormBody<OrganizationForm>, FormError>,
) -> Result<Response, PageError> {
    let form = read_form(form)?;
    let (flow, csrf) = posted_flow(&state, &browser, &form.csrf_token).await?;
    let Next::Organization(organizations) = next_step(&state, &flow).await? else {
        return go(&state, &flow, &browser).await;
    };
    let chosen = organizations
        .iter()
        .find(|o| o.id == form.organization_id)
        .map(|o| o.id.clone());
    let Some(chosen) = chosen else {
        let view = Organization {
            page: Chrome::new(&flow.environment_name, "Choose an organization")
                .error("Choose one of the organizations below."),
            csrf,
            organizations,
        };
        return Ok(views::render(StatusCode::BAD_REQUEST, &view));
    };
    let mut tx = state.db.begin().await?;
    authkit_flows::select_organization(&mut tx, &flow.environment_id, &flow.id, &chosen).await?;
    tx.commit().await?;
    go(&state, &flow, &browser).await
}

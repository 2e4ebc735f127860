//! Spending a `pending_authentication_token` (WORKOS-API-NOTES §4.4): the continuation grants
//! `urn:workos:oauth:grant-type:email-verification:code` ([`verify_email`]),
//! `…:mfa-totp` ([`verify_totp`]) and `…:organization-selection` ([`select_organization`]).
//! Each opens the pending sign-in ([`open`]), checks what its step asks for, then hands over to
//! [`finish`], the one "consume pending → complete → record event" sequence.
//!
//! Errors: 400 `{code}` `invalid_pending_authentication_token` and the one-time-code errors
//! ([`super::codes::code_error`]); 400 `{error}` `organization_membership_not_found`. Each
//! failure of a code writes its `authentication.*_failed`.

use super::codes::{code_error, redeem_email_verification};
use super::hooks::{self, Attempt};
use super::sign_in::{self, SignIn, Step, attempt};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{AuthenticationChallengeId, EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::events::{self, EventName, names};
use crate::store::one_time_codes::CodeError;
use crate::store::pending_authentications::{self as pending, Pending, Stage};
use crate::store::users::{self, User};
use crate::store::{auth_factors, organization_memberships};

fn invalid_pending() -> ApiError {
    ApiError::bad_request(
        "invalid_pending_authentication_token",
        "The pending authentication token is invalid, used or expired.",
    )
}

/// A pending sign-in, opened (and locked) in the continuation's transaction.
#[derive(Debug)]
pub struct Opened {
    /// The pending authentication.
    pub pending: Pending,
    /// Its user.
    pub user: User,
    /// End user's IP address: the continuation's, else the first factor's.
    pub ip_address: Option<String>,
    /// End user's user agent: the continuation's, else the first factor's.
    pub user_agent: Option<String>,
}

impl Opened {
    /// `(ip_address, user_agent)`.
    pub fn client(&self) -> (Option<&str>, Option<&str>) {
        (self.ip_address.as_deref(), self.user_agent.as_deref())
    }
}

/// Opens the pending sign-in named by `token` at `stage` and its user (locked in `tx` by
/// [`pending::find`]); when the step checks a credential (`kind`: `email_verification`,
/// `mfa`), runs the pre-attempt hooks. Errors: 400 `invalid_pending_authentication_token`.
pub async fn open(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    token: &str,
    stage: Stage,
    (ip, ua): (Option<String>, Option<String>),
    kind: Option<&str>,
) -> ApiResult<Opened> {
    let p = pending::find(tx, env, token, stage)
        .await?
        .ok_or_else(invalid_pending)?;
    let user = users::find(tx, env, &p.user_id)
        .await?
        .ok_or_else(invalid_pending)?;
    let opened = Opened {
        ip_address: ip.or(p.ip_address.clone()),
        user_agent: ua.or(p.user_agent.clone()),
        pending: p,
        user,
    };
    if let Some(kind) = kind {
        let screened = Attempt {
            environment_id: env,
            kind,
            email: Some(&opened.user.email),
            user_id: Some(&opened.user.id),
            ip_address: opened.ip_address.as_deref(),
            user_agent: opened.user_agent.as_deref(),
            radar: Default::default(),
        };
        hooks::before_attempt(state, &screened).await?;
    }
    Ok(opened)
}

/// How a continuation's step went, for [`finish`].
#[derive(Debug)]
pub struct Passed {
    /// The user (as the step left it, e.g. with the email now verified).
    pub user: User,
    /// Whether an MFA challenge has now been passed.
    pub mfa_verified: bool,
    /// The organization the session must be scoped to.
    pub organization_id: Option<OrganizationId>,
    /// `(kind, event name)` of the `authentication.*_succeeded` event to record, if any.
    pub event: Option<(&'static str, EventName)>,
}

/// Finishes a continuation grant whose step passed: spends the pending authentication, runs the
/// remaining steps ([`sign_in::complete`]: the session or the next pending 403), records the
/// step's `authentication.*_succeeded` event, and commits.
pub async fn finish(
    state: &AppState,
    mut tx: Tx,
    env: &EnvironmentId,
    opened: Opened,
    passed: Passed,
) -> ApiResult<Step> {
    pending::consume(&mut tx, env, &opened.pending.id).await?;
    let data = passed.event.map(|(kind, name)| {
        let (ip, ua) = opened.client();
        let user = &passed.user;
        let data = attempt(kind, Some(&user.id), Some(&user.email), ip, ua, None);
        (name, data)
    });
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user: passed.user,
            auth_method: opened.pending.auth_method,
            ip_address: opened.ip_address,
            user_agent: opened.user_agent,
            mfa_verified: passed.mfa_verified,
            organization_id: passed.organization_id,
            radar_challenge: false,
        },
    )
    .await?;
    if let Some((name, data)) = data {
        events::record(&mut tx, env, name, &data, None).await?;
    }
    tx.commit().await?;
    Ok(step)
}

/// What a continuation grant sends besides its step's own fields.
#[derive(Debug, Clone, Default)]
pub struct Continuation {
    /// The `pending_authentication_token`.
    pub pending_authentication_token: String,
    /// End user's IP address.
    pub ip_address: Option<String>,
    /// End user's user agent.
    pub user_agent: Option<String>,
}

/// Completes `email_verification_required`: checks the code sent for the pending sign-in, marks
/// the email verified (`user.updated`) and continues. Records
/// `authentication.email_verification_succeeded` / `_failed`.
pub async fn verify_email(
    state: &AppState,
    env: &EnvironmentId,
    c: Continuation,
    code: &str,
) -> ApiResult<Step> {
    let mut tx = state.db.begin().await?;
    let token = &c.pending_authentication_token;
    let client = (c.ip_address, c.user_agent);
    let kind = "email_verification";
    let opened = open(
        state,
        &mut tx,
        env,
        token,
        Stage::EmailVerification,
        client,
        Some(kind),
    )
    .await?;
    let user = match redeem_email_verification(
        &mut tx,
        env,
        &opened.user,
        code,
        opened.client(),
        CodeError::grant_code,
    )
    .await?
    {
        Ok(user) => user,
        Err(e) => {
            tx.commit().await?;
            return Err(code_error(e));
        }
    };
    let passed = Passed {
        user,
        mfa_verified: opened.pending.mfa_verified,
        organization_id: opened.pending.organization_id.clone(),
        event: Some((kind, names::AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED)),
    };
    finish(state, tx, env, opened, passed).await
}

/// Completes `mfa_challenge`: the challenge must be of one of the pending user's factors and the
/// TOTP code right (each code once). Records `authentication.mfa_succeeded` / `_failed`.
pub async fn verify_totp(
    state: &AppState,
    env: &EnvironmentId,
    c: Continuation,
    authentication_challenge_id: &str,
    code: &str,
) -> ApiResult<Step> {
    let mut tx = state.db.begin().await?;
    let token = &c.pending_authentication_token;
    let client = (c.ip_address, c.user_agent);
    let stage = Stage::MfaChallenge;
    let opened = open(state, &mut tx, env, token, stage, client, Some("mfa")).await?;
    let challenge = AuthenticationChallengeId::parse_lenient(authentication_challenge_id)
        .ok_or_else(|| code_error(CodeError::Incorrect))?;
    let verification =
        match auth_factors::verify(&mut tx, &state.vault, env, &challenge, code).await {
            Ok(v) => v,
            Err(ApiError::NotFound { .. }) => return Err(code_error(CodeError::Incorrect)),
            Err(e) => return Err(e),
        };
    let user = &opened.user;
    if verification.factor.user_id.as_deref() != Some(user.id.as_str()) {
        // Another user's challenge: roll back whatever the check wrote.
        return Err(code_error(CodeError::Incorrect));
    }
    if let Err(e) = verification.result {
        let (ip, ua) = opened.client();
        let error = Some((e.grant_code(), e.message()));
        let data = attempt("mfa", Some(&user.id), Some(&user.email), ip, ua, error);
        events::record(&mut tx, env, names::AUTHENTICATION_MFA_FAILED, &data, None).await?;
        tx.commit().await?;
        return Err(code_error(e));
    }
    let passed = Passed {
        user: opened.user.clone(),
        mfa_verified: true,
        organization_id: opened.pending.organization_id.clone(),
        event: Some(("mfa", names::AUTHENTICATION_MFA_SUCCEEDED)),
    };
    finish(state, tx, env, opened, passed).await
}

/// Completes `organization_selection_required` with an organization the user is an active member
/// of; the session is scoped to it.
pub async fn select_organization(
    state: &AppState,
    env: &EnvironmentId,
    c: Continuation,
    organization_id: String,
) -> ApiResult<Step> {
    let mut tx = state.db.begin().await?;
    let token = &c.pending_authentication_token;
    let client = (c.ip_address, c.user_agent);
    let stage = Stage::OrganizationSelection;
    let opened = open(state, &mut tx, env, token, stage, client, None).await?;
    let member = match OrganizationId::parse_lenient(&organization_id) {
        Some(org) => organization_memberships::active_roles(&mut tx, env, &opened.user.id, &org)
            .await?
            .is_some()
            .then_some(org),
        None => None,
    };
    let Some(org) = member else {
        return Err(ApiError::oauth(
            "organization_membership_not_found",
            format!("The user is not a member of organization '{organization_id}'."),
        ));
    };
    let passed = Passed {
        user: opened.user.clone(),
        mfa_verified: true,
        organization_id: Some(org),
        event: None,
    };
    finish(state, tx, env, opened, passed).await
}

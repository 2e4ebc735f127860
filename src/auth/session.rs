//! Starting the session of a sign-in finished elsewhere: the `authorization_code` grant of
//! `POST /user_management/authenticate` exchanges the code the hosted login pages (or a User
//! Management SSO login) sent to `redirect_uri` ([`redeem_authorization_code`]), and the device
//! code grant (RFC 8628 §3.4–3.5) exchanges an approved device code ([`redeem_device_code`]);
//! both start the session the same way ([`start_session`]), running the post-success hooks.
//!
//! A code is spent by its first presentation, expires 10 minutes after it was issued, and
//! creates the session then. A replayed code is refused and revokes the session its first
//! exchange created (RFC 6749 §4.1.2). When the flow sent a PKCE challenge
//! (`code_challenge_method=S256`), `code_verifier` must match it; such a code may also be
//! exchanged without `client_secret` (a public client: the verifier proves possession), and the
//! session it starts remembers that client, which may then refresh without a secret.
//!
//! Errors: 400 `{error: invalid_grant}` for an unknown, expired, spent or PKCE-mismatched code;
//! 400 `{code: code_challenge_not_found}` for a `code_verifier` sent with a code issued without
//! a challenge; for device codes 400 `{error}` `authorization_pending`, `slow_down`,
//! `expired_token`, `access_denied`, `invalid_grant`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::hooks::{self, Outcome};
use crate::crypto::ct_eq;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::authorization_codes::{self, Redemption};
use crate::store::device_authorizations::{self, Poll};
use crate::store::environment_settings;
use crate::store::sessions::{self, NewSession, Session};
use crate::store::users;

/// Whether `verifier` is a well-formed RFC 7636 verifier whose S256 digest is `challenge`.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && ct_eq(digest.as_bytes(), challenge.as_bytes())
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth("invalid_grant", description)
}

/// Redeems an authorization `code` (with the PKCE `code_verifier` when the flow sent a
/// challenge) and starts its session, committed. `public_client_id` is the client id of a public
/// client exchanging without a secret (its session may then refresh without one).
pub async fn redeem_authorization_code(
    state: &AppState,
    env: &EnvironmentId,
    code: &str,
    code_verifier: Option<&str>,
    public_client_id: Option<&str>,
) -> ApiResult<Started> {
    let mut tx = state.db.begin().await?;
    let code = match authorization_codes::redeem(&mut tx, env, code).await? {
        Redemption::Valid(code) => code,
        Redemption::Invalid => {
            tx.commit().await?;
            return Err(invalid_grant("The code is invalid or has expired."));
        }
        Redemption::Reused { session_id } => {
            if let Some(session) = session_id {
                sessions::revoke(&mut tx, env, &session).await?;
            }
            tx.commit().await?;
            return Err(invalid_grant(
                "The code was already used; the session it created has been revoked.",
            ));
        }
    };
    let refused = match (code.code_challenge.as_deref(), code_verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => None,
        (Some(_), Some(_)) => Some(invalid_grant(
            "The code_verifier does not match the code_challenge.",
        )),
        (Some(_), None) => Some(invalid_grant(
            "The code was issued with a code_challenge: send its code_verifier.",
        )),
        (None, Some(_)) => Some(ApiError::bad_request(
            "code_challenge_not_found",
            "The code was issued without a code_challenge.",
        )),
        (None, None) => None,
    };
    if let Some(e) = refused {
        // The code stays spent: a guessed verifier gets one try.
        tx.commit().await?;
        return Err(e);
    }
    let session_ttl = environment_settings::get(&mut tx, env, &state.settings)
        .await?
        .session_ttl();
    let started = start_session(
        state,
        &mut tx,
        env,
        NewSession {
            user_id: &code.user_id,
            organization_id: code.organization_id.as_ref(),
            auth_method: &code.auth_method,
            ip_address: code.ip_address.as_deref(),
            user_agent: code.user_agent.as_deref(),
            ttl: session_ttl,
            public_client_id,
        },
    )
    .await?;
    authorization_codes::attach_session(&mut tx, env, &code.id, &started.session.id).await?;
    tx.commit().await?;
    Ok(started)
}

/// Polls a device code (RFC 8628 §3.4, no client secret) and, once approved, starts its
/// session, committed. While nobody decided: 400 `authorization_pending`, or `slow_down` when
/// polled faster than the interval; then `access_denied`, `expired_token`, or the session once
/// (a second exchange is `invalid_grant`). The person's `authentication.*` events were recorded
/// when they signed in on the hosted pages, and the spec names no event for approving or
/// denying a device. The session remembers `client_id` as its public client, so it refreshes
/// with that `client_id` and no secret, as a PKCE session does (a device holds no secret).
pub async fn redeem_device_code(
    state: &AppState,
    env: &EnvironmentId,
    (client_id, device_code): (&str, &str),
    (ip_address, user_agent): (Option<&str>, Option<&str>),
) -> ApiResult<Started> {
    let mut tx = state.db.begin().await?;
    let poll = device_authorizations::poll(&mut tx, env, device_code).await?;
    let (user_id, organization_id, auth_method) = match poll {
        Poll::Approved {
            user_id,
            organization_id,
            auth_method,
        } => (user_id, organization_id, auth_method),
        other => {
            tx.commit().await?;
            let (error, description) = match other {
                Poll::Pending => (
                    "authorization_pending",
                    "The user has not yet approved the device.",
                ),
                Poll::SlowDown => (
                    "slow_down",
                    "Polling too fast; wait the interval, now 5 seconds longer.",
                ),
                Poll::Expired => ("expired_token", "The device code has expired."),
                Poll::Denied => ("access_denied", "The user denied the device."),
                _ => (
                    "invalid_grant",
                    "The device code is invalid or was already used.",
                ),
            };
            return Err(ApiError::oauth(error, description));
        }
    };
    let session_ttl = environment_settings::get(&mut tx, env, &state.settings)
        .await?
        .session_ttl();
    let started = start_session(
        state,
        &mut tx,
        env,
        NewSession {
            user_id: &user_id,
            organization_id: organization_id.as_ref(),
            auth_method: &auth_method,
            ip_address,
            user_agent,
            ttl: session_ttl,
            public_client_id: Some(client_id),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(started)
}

/// What [`start_session`] made.
#[derive(Debug)]
pub struct Started {
    /// The user, with `last_sign_in_at` updated.
    pub user: users::User,
    /// The new session.
    pub session: Session,
    /// Its first refresh token.
    pub refresh_token: String,
}

/// Starts the session of a sign-in finished elsewhere (on the hosted pages or the SSO callback)
/// that a grant redeems, the same way for the `authorization_code` and device code grants: `session.created` and the user's `last_sign_in_at`, then the
/// post-success hooks, in `tx`. The `authentication.*` events were recorded by the pages (or the
/// SSO callback) when the person signed in there.
pub async fn start_session(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    new: NewSession<'_>,
) -> ApiResult<Started> {
    let user_id = new.user_id;
    let (session, refresh_token) = sessions::create(tx, env, new).await?;
    let user = users::touch_sign_in(tx, env, user_id).await?;
    let outcome = Outcome {
        environment_id: env,
        user: &user,
        session: &session,
    };
    hooks::after_success(state, tx, &outcome).await?;
    Ok(Started {
        user,
        session,
        refresh_token,
    })
}

#[cfg(test)]
mod tests {
    use super::pkce_matches;

    #[test]
    fn pkce_s256_follows_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        assert!(!pkce_matches(challenge, "short"));
    }
}

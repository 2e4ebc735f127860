//! `grant_type=authorization_code` of `POST /user_management/authenticate`: exchanges the code
//! the hosted login pages sent to `redirect_uri` for a session and its tokens.
//!
//! A code is spent by its first presentation, expires 10 minutes after it was issued, and
//! creates the session then. A replayed code is refused and revokes the session its first
//! exchange created (RFC 6749 §4.1.2). When the flow sent a PKCE challenge
//! (`code_challenge_method=S256`), `code_verifier` must match it; such a code may also be
//! exchanged without `client_secret` (a public client: the verifier proves possession).
//!
//! Errors: 400 `{error: invalid_grant}` for an unknown, expired, spent or PKCE-mismatched code;
//! 400 `{code: code_challenge_not_found}` for a `code_verifier` sent with a code issued without
//! a challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::authenticate::{AuthenticateResponse, respond};
use crate::crypto::ct_eq;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, InvalidId, UserId};
use crate::state::AppState;
use crate::store::authorization_codes::{self, Redemption};
use crate::store::sessions::{self, NewSession, Session};
use crate::store::users;

/// `grant_type=authorization_code`.
#[derive(Debug, Deserialize)]
pub(super) struct AuthorizationCodeGrant {
    code: String,
    #[serde(default)]
    code_verifier: Option<String>,
}

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

/// Redeems the code and creates the session.
pub(super) async fn authorization_code_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: AuthorizationCodeGrant,
) -> ApiResult<AuthenticateResponse> {
    let mut tx = state.db.begin().await?;
    let code = match authorization_codes::redeem(&mut tx, env, &grant.code).await? {
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
    let refused = match (
        code.code_challenge.as_deref(),
        grant.code_verifier.as_deref(),
    ) {
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
    let started = start_session(
        state,
        &mut tx,
        env,
        Redeemed {
            user_id: &code.user_id,
            organization_id: code.organization_id.as_deref(),
            auth_method: &code.auth_method,
            ip_address: code.ip_address.as_deref(),
            user_agent: code.user_agent.as_deref(),
        },
    )
    .await?;
    authorization_codes::attach_session(&mut tx, env, &code.id, &started.session.id).await?;
    tx.commit().await?;
    let Started {
        user,
        session,
        refresh_token,
    } = started;
    respond(state, env, issuer, user, &session, refresh_token).await
}

/// A sign-in finished elsewhere (on the hosted pages) that a grant redeems: an authorization
/// code, or an approved device authorization.
#[derive(Debug)]
pub(super) struct Redeemed<'a> {
    /// The user who signed in.
    pub user_id: &'a str,
    /// The organization the pages settled on.
    pub organization_id: Option<&'a str>,
    /// Session vocabulary of the first factor.
    pub auth_method: &'a str,
    /// End user's IP address.
    pub ip_address: Option<&'a str>,
    /// End user's user agent.
    pub user_agent: Option<&'a str>,
}

/// What [`start_session`] made.
#[derive(Debug)]
pub(super) struct Started {
    /// The user, with `last_sign_in_at` updated.
    pub user: users::User,
    /// The new session.
    pub session: Session,
    /// Its first refresh token.
    pub refresh_token: String,
}

/// Starts the session of a redeemed sign-in, the same way for the `authorization_code` and
/// device code grants: `session.created` and the user's `last_sign_in_at`, in `tx`. The
/// `authentication.*` events were recorded by the pages when the person signed in there.
pub(super) async fn start_session(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    r: Redeemed<'_>,
) -> ApiResult<Started> {
    let (session, refresh_token) = sessions::create(
        tx,
        env,
        NewSession {
            user_id: r.user_id,
            organization_id: r.organization_id,
            auth_method: r.auth_method,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            ttl: state.settings.session_ttl,
        },
    )
    .await?;
    let user_id: UserId = r
        .user_id
        .parse()
        .map_err(|e: InvalidId| ApiError::not_found("User", e.id))?;
    let user = users::touch_sign_in(tx, env, &user_id).await?;
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

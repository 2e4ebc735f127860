//! The sign-in seams of `keystead::auth`: a registered hook sees (and can block) every attempt
//! before its credential is checked and runs after each successful sign-in; a registered claims
//! contributor adds its claim to every access token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keystead::auth::claims::{ClaimsContext, ClaimsContributor};
use keystead::auth::hooks::{Attempt, BoxFuture, Outcome, SignInHook, Verdict};
use keystead::db::Tx;
use keystead::error::ApiResult;
use keystead::state::AppState;
use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";

/// Blocks password attempts for one address; counts what it sees.
#[derive(Default)]
struct Gate {
    blocked_email: &'static str,
    attempts: AtomicUsize,
    successes: AtomicUsize,
}

impl SignInHook for Gate {
    fn before_attempt<'a>(
        &'a self,
        _state: &'a AppState,
        attempt: &'a Attempt<'a>,
    ) -> BoxFuture<'a, ApiResult<Verdict>> {
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            Ok(if attempt.email == Some(self.blocked_email) {
                Verdict::Block {
                    code: "sign_in_blocked",
                    message: "Blocked by a test hook.".into(),
                }
            } else {
                Verdict::Allow
            })
        })
    }

    fn after_success<'a>(
        &'a self,
        _state: &'a AppState,
        _tx: &'a mut Tx,
        outcome: &'a Outcome<'a>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            assert_eq!(outcome.session.user_id, outcome.user.id);
            self.successes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// Adds `test_claim` = the user's email.
struct EmailClaim;

impl ClaimsContributor for EmailClaim {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        _conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            claims.insert("test_claim".into(), json!(ctx.user.email));
            Ok(())
        })
    }
}

async fn sign_in(app: &TestApp, email: &str) -> crate::support::TestResponse {
    let body = json!({
        "grant_type": "password",
        "client_id": app.tenant.client_id,
        "client_secret": app.tenant.api_key,
        "email": email,
        "password": PASSWORD,
    });
    app.send(
        Method::POST,
        "/user_management/authenticate",
        None,
        Some(&body),
    )
    .await
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON")
}

#[tokio::test]
async fn a_registered_hook_blocks_attempts_and_runs_after_success_and_a_contributor_adds_claims() {
    let app = TestApp::new().await;
    for email in ["ada@example.com", "eve@example.com"] {
        let res = app
            .post(
                "/user_management/users",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    // Without extensions: today's claims, nothing blocked.
    let before = sign_in(&app, "eve@example.com").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    let plain = claims_of(before.body["access_token"].as_str().unwrap());
    assert!(plain.get("test_claim").is_none());

    let gate = Arc::new(Gate {
        blocked_email: "eve@example.com",
        ..Gate::default()
    });
    app.state.auth.add_hook(gate.clone());
    app.state.auth.add_claims_contributor(Arc::new(EmailClaim));

    let blocked = sign_in(&app, "eve@example.com").await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST, "{}", blocked.text);
    assert_eq!(blocked.body["code"], "sign_in_blocked");
    assert_eq!(gate.successes.load(Ordering::SeqCst), 0);

    let allowed = sign_in(&app, "ada@example.com").await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    let claims = claims_of(allowed.body["access_token"].as_str().unwrap());
    assert_eq!(claims["test_claim"], "ada@example.com");
    for standard in ["iss", "sub", "sid", "exp", "iat", "jti"] {
        assert!(claims.get(standard).is_some(), "{standard} kept");
    }
    assert_eq!(gate.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(gate.successes.load(Ordering::SeqCst), 1);
}

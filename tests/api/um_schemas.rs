//! Every User Management response shape, and every event payload written along the way,
//! validated against the schemas of `openapi.yaml` (the official WorkOS schemas).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::openapi::{assert_matches_schema, component};
use crate::support::{TestApp, TestResponse};
use crate::um::{PASSWORD, fresh_step, grant, member, org, password, totp, user};

/// The schema of an operation's response: `(path, method, status)`.
fn response(path: &str, method: &str, status: u16) -> String {
    format!(
        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        path.replace('~', "~0")
            .replace('/', "~1")
            .replace('{', "%7B")
            .replace('}', "%7D")
    )
}

fn ok(res: &TestResponse, status: StatusCode) -> &Value {
    assert_eq!(res.status, status, "{}", res.text);
    &res.body
}

#[tokio::test]
async fn user_management_responses_and_events_match_the_spec() {
    let app = TestApp::with(|s| s.require_email_verification = true).await;
    let u = user(&app, "ada@example.com", true).await;
    let uid = u["id"].as_str().unwrap().to_string();
    let o = org(&app, "Acme").await;
    let o2 = org(&app, "Beta").await;

    // Memberships.
    let path = "/user_management/organization_memberships";
    let m = app
        .post(
            path,
            &json!({"user_id": uid, "organization_id": o["id"], "role_slug": "admin"}),
        )
        .await;
    assert_matches_schema(&response(path, "post", 201), ok(&m, StatusCode::CREATED));
    let mid = m.body["id"].as_str().unwrap().to_string();
    let got = app.get(&format!("{path}/{mid}")).await;
    assert_matches_schema(
        &component("UserlandUserOrganizationMembership"),
        ok(&got, StatusCode::OK),
    );
    let list = app.get(&format!("{path}?user_id={uid}")).await;
    assert_matches_schema(&response(path, "get", 200), ok(&list, StatusCode::OK));
    let deactivated = app
        .put(&format!("{path}/{mid}/deactivate"), &json!({}))
        .await;
    assert_matches_schema(
        &response(
            "/user_management/organization_memberships/{id}/deactivate",
            "put",
            200,
        ),
        ok(&deactivated, StatusCode::OK),
    );
    let reactivated = app
        .put(&format!("{path}/{mid}/reactivate"), &json!({}))
        .await;
    assert_matches_schema(
        &response(
            "/user_management/organization_memberships/{id}/reactivate",
            "put",
            200,
        ),
        ok(&reactivated, StatusCode::OK),
    );
    member(&app, &u, &o2, "member").await;
    let role = app
        .post(
            "/authorization/roles",
            &json!({"slug": "owner", "name": "Owner"}),
        )
        .await;
    assert_matches_schema(&component("Role"), ok(&role, StatusCode::CREATED));
    let roles = app.get("/authorization/roles").await;
    assert_matches_schema(&component("RoleList"), ok(&roles, StatusCode::OK));

    // Invitations.
    let inv = app
        .post(
            "/user_management/invitations",
            &json!({"email": "new@example.com", "organization_id": o["id"]}),
        )
        .await;
    assert_matches_schema(
        &component("UserlandUserInvite"),
        ok(&inv, StatusCode::CREATED),
    );
    let invitations = app.get("/user_management/invitations").await;
    assert_matches_schema(
        &response("/user_management/invitations", "get", 200),
        &invitations.body,
    );
    let accepted = app
        .post(
            &format!(
                "/user_management/invitations/{}/accept",
                inv.body["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_matches_schema(
        &response("/user_management/invitations/{id}/accept", "post", 200),
        ok(&accepted, StatusCode::OK),
    );
    let inv2 = app
        .post(
            "/user_management/invitations",
            &json!({"email": "gone@example.com"}),
        )
        .await;
    let revoked = app
        .post(
            &format!(
                "/user_management/invitations/{}/revoke",
                inv2.body["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_matches_schema(
        &response("/user_management/invitations/{id}/revoke", "post", 200),
        ok(&revoked, StatusCode::OK),
    );

    // Magic Auth, email verification, password reset, email change.
    let magic = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "magic@example.com"}),
        )
        .await;
    assert_matches_schema(&component("MagicAuth"), ok(&magic, StatusCode::CREATED));
    let signed_up = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
               "email": "magic@example.com", "code": magic.body["code"]}),
    )
    .await;
    assert_matches_schema(
        &component("UserlandAuthenticateResponse"),
        ok(&signed_up, StatusCode::OK),
    );

    let pending = password(&app, "ada@example.com").await;
    assert_eq!(pending.status, StatusCode::FORBIDDEN);
    assert_matches_schema(
        &response("/user_management/authenticate", "post", 403),
        &pending.body,
    );
    let verification = app
        .get(&format!(
            "/user_management/email_verification/{}",
            pending.body["email_verification_id"].as_str().unwrap()
        ))
        .await;
    assert_matches_schema(
        &component("EmailVerification"),
        ok(&verification, StatusCode::OK),
    );
    let verified = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:email-verification:code",
               "code": verification.body["code"],
               "pending_authentication_token": pending.body["pending_authentication_token"]}),
    )
    .await;
    assert_eq!(
        verified.body["code"], "organization_selection_required",
        "{}",
        verified.text
    );
    assert_matches_schema(
        &response("/user_management/authenticate", "post", 403),
        &verified.body,
    );
    let selected = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:organization-selection",
               "organization_id": o["id"],
               "pending_authentication_token": verified.body["pending_authentication_token"]}),
    )
    .await;
    assert_matches_schema(
        &component("UserlandAuthenticateResponse"),
        ok(&selected, StatusCode::OK),
    );

    let other = user(&app, "bob@example.com", true).await;
    let oid = other["id"].as_str().unwrap();
    let sent = app
        .post(
            &format!("/user_management/users/{oid}/email_verification/send"),
            &json!({}),
        )
        .await;
    assert_matches_schema(
        &component("SendVerificationEmailResponse"),
        ok(&sent, StatusCode::OK),
    );

    let reset = app
        .post(
            "/user_management/password_reset",
            &json!({"email": "bob@example.com"}),
        )
        .await;
    assert_matches_schema(&component("PasswordReset"), ok(&reset, StatusCode::CREATED));
    let confirmed = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": reset.body["password_reset_token"], "new_password": PASSWORD}),
        )
        .await;
    assert_matches_schema(
        &component("ResetPasswordResponse"),
        ok(&confirmed, StatusCode::OK),
    );
    let change = app
        .post(
            &format!("/user_management/users/{oid}/email_change/send"),
            &json!({"new_email": "bob@new.example"}),
        )
        .await;
    assert_matches_schema(&component("EmailChange"), ok(&change, StatusCode::OK));

    // MFA.
    let enrolled = app
        .post("/auth/factors/enroll", &json!({"type": "totp"}))
        .await;
    assert_matches_schema(
        &component("AuthenticationFactorEnrolled"),
        ok(&enrolled, StatusCode::CREATED),
    );
    let fid = enrolled.body["id"].as_str().unwrap();
    let factor = app.get(&format!("/auth/factors/{fid}")).await;
    assert_matches_schema(
        &component("AuthenticationFactor"),
        ok(&factor, StatusCode::OK),
    );
    let challenge = app
        .post(&format!("/auth/factors/{fid}/challenge"), &json!({}))
        .await;
    assert_matches_schema(
        &component("AuthenticationChallenge"),
        ok(&challenge, StatusCode::CREATED),
    );
    fresh_step().await;
    let verify = app
        .post(
            &format!(
                "/auth/challenges/{}/verify",
                challenge.body["id"].as_str().unwrap()
            ),
            &json!({"code": totp(enrolled.body["totp"]["secret"].as_str().unwrap())}),
        )
        .await;
    assert_matches_schema(
        &component("AuthenticationChallengeVerifyResponse"),
        ok(&verify, StatusCode::CREATED),
    );
    let user_factor = app
        .post(
            &format!("/user_management/users/{oid}/auth_factors"),
            &json!({"type": "totp"}),
        )
        .await;
    assert_matches_schema(
        &component("UserlandUserAuthenticationFactorEnrollResponse"),
        ok(&user_factor, StatusCode::CREATED),
    );
    let factors = app
        .get(&format!("/user_management/users/{oid}/auth_factors"))
        .await;
    assert_matches_schema(
        &component("UserlandUserAuthenticationFactorList"),
        ok(&factors, StatusCode::OK),
    );
    let mfa = password(&app, "bob@example.com").await;
    assert_eq!(mfa.body["code"], "mfa_challenge", "{}", mfa.text);
    assert_matches_schema(
        &response("/user_management/authenticate", "post", 403),
        &mfa.body,
    );

    // Settings, identities, device flow.
    let template = app
        .put(
            "/user_management/jwt_template",
            &json!({"content": "{\"e\": {{user.email}}}"}),
        )
        .await;
    assert_matches_schema(&component("JwtTemplate"), ok(&template, StatusCode::OK));
    let ruri = app
        .post(
            "/user_management/redirect_uris",
            &json!({"uri": "https://app.example.com/cb"}),
        )
        .await;
    assert_matches_schema(&component("RedirectUri"), ok(&ruri, StatusCode::CREATED));
    let cors = app
        .post(
            "/user_management/cors_origins",
            &json!({"origin": "https://app.example.com"}),
        )
        .await;
    assert_matches_schema(
        &component("CorsOriginResponse"),
        ok(&cors, StatusCode::CREATED),
    );
    let identities = app
        .get(&format!("/user_management/users/{uid}/identities"))
        .await;
    assert_matches_schema(
        &response("/user_management/users/{id}/identities", "get", 200),
        ok(&identities, StatusCode::OK),
    );
    let device = app
        .send(
            Method::POST,
            "/user_management/authorize/device",
            None,
            Some(&json!({"client_id": app.tenant.client_id})),
        )
        .await;
    assert_matches_schema(
        &component("DeviceAuthorizationResponse"),
        ok(&device, StatusCode::OK),
    );

    // Every event written above matches its `EventSchema` variant.
    let mut after: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let page = app
            .get(&format!(
                "/events?limit=100&order=asc{}",
                after
                    .as_ref()
                    .map(|a| format!("&after={a}"))
                    .unwrap_or_default()
            ))
            .await;
        assert_matches_schema(&component("EventList"), ok(&page, StatusCode::OK));
        for e in page.body["data"].as_array().unwrap() {
            seen.insert(e["event"].as_str().unwrap().to_string());
        }
        match page.body["list_metadata"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    for name in [
        "organization_membership.created",
        "organization_membership.updated",
        "invitation.created",
        "invitation.accepted",
        "invitation.revoked",
        "magic_auth.created",
        "email_verification.created",
        "password_reset.created",
        "password_reset.succeeded",
        "authentication.magic_auth_succeeded",
        "authentication.email_verification_succeeded",
        "authentication.password_succeeded",
        "role.created",
        "session.created",
        "user.updated",
    ] {
        assert!(seen.contains(name), "{name} not in {seen:?}");
    }
    assert_eq!(app.drain_emails().await, 7, "the emails this test queued");
}

#[test]
fn path_schemas_with_parameters_resolve_and_reject_wrong_shapes() {
    let pointer = response(
        "/user_management/organization_memberships/{id}/deactivate",
        "put",
        200,
    );
    let result = std::panic::catch_unwind(|| {
        assert_matches_schema(&pointer, &json!({"object": "organization_membership"}));
    });
    assert!(
        result.is_err(),
        "an incomplete membership must not validate"
    );
}

//! SAML SSO end to end against a real IdP (samlify, started by the test on loopback):
//! `/sso/authorize` → IdP → ACS → `/sso/token` → `/sso/profile`, signed and encrypted
//! (AES-256-CBC and -GCM), IdP-initiated, the attacks the SP must refuse, each with a reason
//! and an `authentication.sso_failed` event, and a sign-in hook blocking an SSO login.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use keystead::auth::hooks::{Attempt, BoxFuture, SignInHook, Verdict};
use keystead::error::ApiResult;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::connections::{OTHER_CERT, org_with_domain};
use crate::idp::{self, NodeIdp, fixture_path, form_fields};
use crate::support::{TestApp, TestResponse};

pub const APP_CALLBACK: &str = "https://app.test/callback";

pub struct Saml {
    pub app: TestApp,
    pub idp: NodeIdp,
    pub connection_id: String,
    pub organization_id: String,
}

/// Registers the application's redirect URI.
pub async fn register_redirect(app: &TestApp) {
    let res = app
        .post(
            "/user_management/redirect_uris",
            &json!({ "uri": APP_CALLBACK }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

/// Starts the IdP, creates a SAML connection from its metadata URL and hands the IdP our SP
/// metadata. `encrypt`: the data-encryption algorithm the IdP is to use.
pub async fn setup(encrypt: Option<&str>, allow_idp_initiated: bool) -> Saml {
    setup_in(TestApp::new().await, encrypt, allow_idp_initiated).await
}

/// [`setup`] in a prepared app. The organization has `example.com` (the IdP user's email
/// domain) verified, so its connection admits the IdP's profiles.
pub async fn setup_in(app: TestApp, encrypt: Option<&str>, allow_idp_initiated: bool) -> Saml {
    let idp = idp::start(
        "saml-idp.mjs",
        &[
            ("IDP_KEY", fixture_path("idp-key.pem")),
            ("IDP_CERT", fixture_path("idp-cert.pem")),
        ],
    );
    let organization_id = org_with_domain(&app, "Acme", "example.com").await;
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": organization_id, "connection_type": "GenericSAML", "name": "Acme IdP",
                "domains": ["acme.test"],
                "saml": { "idp_metadata_url": format!("{}/metadata", idp.base), "allow_idp_initiated": allow_idp_initiated }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let connection_id = res.body["id"].as_str().unwrap().to_string();
    let meta = app
        .send(
            Method::GET,
            &format!("/sso/saml/metadata/{connection_id}"),
            None,
            None,
        )
        .await;
    let cfg = json!({
        "sp_metadata": meta.text,
        "encrypt": encrypt.is_some(),
        "data_encryption_algorithm": encrypt,
    });
    let r = reqwest::Client::new()
        .post(format!("{}/configure", idp.base))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    register_redirect(&app).await;
    Saml {
        app,
        idp,
        connection_id,
        organization_id,
    }
}

pub fn location(res: &TestResponse) -> url::Url {
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    url::Url::parse(res.headers["location"].to_str().unwrap()).unwrap()
}

pub fn param(u: &url::Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `/sso/authorize` for the connection; returns the IdP URL.
pub async fn authorize(app: &TestApp, connection_id: &str, state: &str) -> url::Url {
    let res = app
        .send(
            Method::GET,
            &format!(
                "/sso/authorize?client_id={}&redirect_uri={}&response_type=code&connection={connection_id}&state={state}",
                app.tenant.client_id,
                urlencode(APP_CALLBACK)
            ),
            None,
            None,
        )
        .await;
    location(&res)
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Posts an HTTP-POST binding form to the ACS named in `action` (through the router).
pub async fn post_acs(app: &TestApp, action: &str, fields: &[(String, String)]) -> TestResponse {
    let path = action.trim_start_matches("http://keystead.test");
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    app.send_request(req).await
}

/// Browser-less SP-initiated login: authorize → IdP → ACS; returns the ACS answer and the
/// raw form the IdP produced.
pub async fn login(s: &Saml, state: &str) -> (TestResponse, String, Vec<(String, String)>) {
    let idp_url = authorize(&s.app, &s.connection_id, state).await;
    assert!(idp_url.as_str().starts_with(&s.idp.base), "{idp_url}");
    assert!(
        param(&idp_url, "Signature").is_some(),
        "AuthnRequests are signed"
    );
    let html = reqwest::get(idp_url.as_str())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<form"), "the IdP answered: {html}");
    let (action, fields) = form_fields(&html);
    (post_acs(&s.app, &action, &fields).await, action, fields)
}

pub async fn exchange(app: &TestApp, code: &str) -> TestResponse {
    let body = format!(
        "client_id={}&client_secret={}&grant_type=authorization_code&code={}",
        app.tenant.client_id, app.tenant.api_key, code
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/sso/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    app.send_request(req).await
}

async fn last_failure(app: &TestApp) -> Value {
    sqlx::query_scalar(
        "select data from events where environment_id = $1 and event = 'authentication.sso_failed' order by id desc limit 1",
    )
    .bind(&app.tenant.environment_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn saml_response(fields: &[(String, String)]) -> String {
    let v = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
    String::from_utf8(STANDARD.decode(v).unwrap()).unwrap()
}

fn with_response(fields: &[(String, String)], xml: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| {
            if k == "SAMLResponse" {
                (k.clone(), STANDARD.encode(xml))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

#[tokio::test]
async fn sp_initiated_login_with_a_real_saml_idp_ends_in_a_profile() {
    if idp::skipped("saml sp-initiated") {
        return;
    }
    let s = setup(None, false).await;
    let (res, _, _) = login(&s, "st-1").await;
    let back = location(&res);
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    let code = param(&back, "code").expect("a code");

    let token = exchange(&s.app, &code).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(token.body["token_type"], "Bearer");
    assert_eq!(token.body["expires_in"], 600);
    let p = &token.body["profile"];
    assert_eq!(p["object"], "profile");
    assert!(p["id"].as_str().unwrap().starts_with("prof_"));
    assert_eq!(p["email"], "alice@example.com");
    assert_eq!(p["idp_id"], "alice@example.com");
    assert_eq!(p["first_name"], "Alice");
    assert_eq!(p["last_name"], "Liddell");
    assert_eq!(p["groups"], json!(["Engineering"]));
    assert_eq!(p["connection_id"], s.connection_id);
    assert_eq!(p["connection_type"], "GenericSAML");
    assert_eq!(p["organization_id"], s.organization_id);
    assert_eq!(p["raw_attributes"]["firstName"], "Alice");

    let access = token.body["access_token"].as_str().unwrap();
    let req = Request::builder()
        .uri("/sso/profile")
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    let profile = s.app.send_request(req).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.text);
    assert_eq!(profile.body["id"], p["id"]);

    // Codes are single use.
    let again = exchange(&s.app, &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["error"], "invalid_grant");
    let events = s.app.event_names().await;
    assert!(events.contains(&"authentication.sso_succeeded".to_string()));
}

#[tokio::test]
async fn assertions_encrypted_by_the_real_idp_with_aes_256_are_decrypted() {
    if idp::skipped("saml encrypted") {
        return;
    }
    for alg in [
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    ] {
        let s = setup(Some(alg), false).await;
        let (res, _, fields) = login(&s, "enc").await;
        let xml = saml_response(&fields);
        assert!(
            xml.contains("EncryptedAssertion") && xml.contains(alg),
            "{alg}"
        );
        assert!(
            !xml.contains("alice@example.com"),
            "nothing readable in transit"
        );
        let code =
            param(&location(&res), "code").unwrap_or_else(|| panic!("{alg}: {:?}", res.headers));
        let token = exchange(&s.app, &code).await;
        assert_eq!(token.body["profile"]["email"], "alice@example.com", "{alg}");
    }
}

#[tokio::test]
async fn idp_initiated_logins_are_accepted_once_when_allowed() {
    if idp::skipped("saml idp-initiated") {
        return;
    }
    let s = setup(None, true).await;
    let html = reqwest::get(format!("{}/initiate", s.idp.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = form_fields(&html);
    let res = post_acs(&s.app, &action, &fields).await;
    let back = location(&res);
    assert!(
        back.as_str().starts_with(APP_CALLBACK),
        "the default redirect URI"
    );
    assert!(param(&back, "state").is_none());
    let code = param(&back, "code").unwrap();
    assert_eq!(exchange(&s.app, &code).await.status, StatusCode::OK);

    // The same assertion again: the replay cache refuses it.
    let replay = post_acs(&s.app, &action, &fields).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);
    assert_eq!(replay.body["error"], "replayed_assertion");
    assert_eq!(
        last_failure(&s.app).await["error"]["code"],
        "replayed_assertion"
    );

    // Not allowed on the connection: refused as unsolicited.
    let res = s
        .app
        .put(
            &format!("/connections/{}", s.connection_id),
            &json!({ "saml": { "allow_idp_initiated": false } }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = reqwest::get(format!("{}/initiate", s.idp.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = form_fields(&html);
    let res = post_acs(&s.app, &action, &fields).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "unsolicited_response");
    let f = last_failure(&s.app).await;
    assert_eq!(f["error"]["code"], "unsolicited_response");
    assert_eq!(f["sso"]["connection_id"], s.connection_id);
}

/// A response crafted by the test and signed with the IdP's key (bergshamra), for attacks a
/// well-behaved IdP would never produce.
struct Craft {
    request_id: String,
    acs: String,
    audience: String,
    recipient: String,
    name_id: String,
    not_before: chrono::DateTime<Utc>,
    not_on_or_after: chrono::DateTime<Utc>,
    issuer: String,
    signed: bool,
    key: &'static str,
}

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Craft {
    fn xml(&self) -> String {
        let sig = if self.signed {
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_crafted"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
        } else {
            ""
        };
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="{now}" Destination="{acs}" InResponseTo="{rid}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_crafted" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID>{name}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{rid}" NotOnOrAfter="{nooa}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{nooa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"/></saml:Assertion></samlp:Response>"#,
            now = iso(Utc::now()),
            acs = self.acs,
            rid = self.request_id,
            issuer = self.issuer,
            name = self.name_id,
            recipient = self.recipient,
            nb = iso(self.not_before),
            nooa = iso(self.not_on_or_after),
            aud = self.audience,
        );
        if !self.signed {
            return xml;
        }
        let key = bergshamra::keys::loader::load_pem_auto(
            std::fs::read(fixture_path(self.key)).unwrap().as_slice(),
            None,
        )
        .unwrap();
        let mut manager = bergshamra::KeysManager::new();
        manager.add_key(key);
        bergshamra::sign(&bergshamra::DsigContext::new(manager), &xml).unwrap()
    }
}

#[tokio::test]
async fn attacks_are_refused_with_a_reason_and_an_sso_failed_event() {
    if idp::skipped("saml attacks") {
        return;
    }
    let s = setup(None, false).await;
    let app = &s.app;
    let acs = format!("http://keystead.test/sso/saml/acs/{}", s.connection_id);
    let entity = format!("http://keystead.test/sso/saml/metadata/{}", s.connection_id);

    // Each case gets its own pending request; `make` turns (request id, a genuine IdP response
    // for it) into what the attacker posts.
    type Make = Box<dyn Fn(&str, &str) -> String>;
    let craft = {
        let (acs, entity, idp_entity) = (
            acs.clone(),
            entity.clone(),
            format!("{}/metadata", s.idp.base),
        );
        move |rid: &str| Craft {
            request_id: rid.to_string(),
            acs: acs.clone(),
            audience: entity.clone(),
            recipient: acs.clone(),
            name_id: "mallory@acme.test".into(),
            not_before: Utc::now() - Duration::minutes(1),
            not_on_or_after: Utc::now() + Duration::minutes(5),
            issuer: idp_entity.clone(),
            signed: true,
            key: "idp-key.pem",
        }
    };
    let c = craft.clone();
    let cases: Vec<(&str, &str, Make)> = vec![
        (
            "unsigned assertion",
            "unsigned_assertion",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        signed: false,
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "signed by another key",
            "signature_invalid",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        key: "other-key.pem",
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "wrong audience",
            "audience_mismatch",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        audience: "https://evil.test/sp".into(),
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "wrong recipient",
            "recipient_mismatch",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        recipient: "https://evil.test/acs".into(),
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "expired",
            "assertion_expired",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        not_before: Utc::now() - Duration::minutes(30),
                        not_on_or_after: Utc::now() - Duration::minutes(10),
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "not yet valid beyond the skew",
            "assertion_not_yet_valid",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        not_before: Utc::now() + Duration::minutes(10),
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "comment injection in NameID",
            "comment_in_identity",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    Craft {
                        name_id: "alice@acme.test<!---->.evil.test".into(),
                        ..c(rid)
                    }
                    .xml()
                }
            }),
        ),
        (
            "XXE / DTD",
            "dtd_forbidden",
            Box::new({
                let c = c.clone();
                move |rid, _| {
                    format!(
                        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
                        c(rid).xml()
                    )
                }
            }),
        ),
        (
            "tampered attribute",
            "signature_invalid",
            Box::new(|_, genuine: &str| genuine.replace(">Liddell<", ">Mallory<")),
        ),
        (
            "signature wrapping",
            "signature_wrapping",
            Box::new(|_, genuine: &str| {
                let start = genuine.find("<saml:Assertion").unwrap();
                let end = genuine.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
                let signed = &genuine[start..end];
                let evil = signed
                    .replace("alice@example.com", "mallory@example.com")
                    .replacen("ID=\"", "ID=\"evil", 1);
                genuine.replacen(signed, &format!("{evil}{signed}"), 1)
            }),
        ),
    ];
    for (name, reason, make) in cases {
        let idp_url = authorize(app, &s.connection_id, "atk").await;
        let rid = param(&idp_url, "RelayState").unwrap();
        let html = reqwest::get(idp_url.as_str())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (action, fields) = form_fields(&html);
        let genuine = saml_response(&fields);
        let posted = with_response(&fields, &make(&rid, &genuine));
        let res = post_acs(app, &action, &posted).await;
        let back = location(&res);
        assert!(back.as_str().starts_with(APP_CALLBACK), "{name}: {back}");
        assert_eq!(
            param(&back, "error").as_deref(),
            Some(reason),
            "{name}: {back}"
        );
        assert!(param(&back, "code").is_none(), "{name}");
        assert_eq!(param(&back, "state").as_deref(), Some("atk"));
        let f = last_failure(app).await;
        assert_eq!(f["error"]["code"], reason, "{name}");
        assert_eq!(f["status"], "failed");
        // The pending request is spent: the genuine response no longer works either.
        let late = post_acs(app, &action, &fields).await;
        assert_eq!(late.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(late.body["error"], "unsolicited_response", "{name}");
    }

    // Replaying a genuine response after its login completed.
    let (res, action, fields) = login(&s, "once").await;
    assert!(param(&location(&res), "code").is_some());
    let replay = post_acs(app, &action, &fields).await;
    assert_eq!(replay.body["error"], "unsolicited_response");

    // A certificate the IdP does not sign with: every genuine response is refused.
    let res = app
        .put(
            &format!("/connections/{}", s.connection_id),
            &json!({ "saml": { "idp_certificates": [OTHER_CERT] } }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let (res, _, _) = login(&s, "cert").await;
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("signature_invalid")
    );
}

/// Blocks every SSO attempt; keeps what it was shown.
#[derive(Default)]
struct BlockSso {
    seen: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

impl SignInHook for BlockSso {
    fn before_attempt<'a>(
        &'a self,
        _db: &'a PgPool,
        attempt: &'a Attempt<'a>,
    ) -> BoxFuture<'a, ApiResult<Verdict>> {
        Box::pin(async move {
            let seen = (attempt.kind.to_string(), attempt.email.map(str::to_string));
            self.seen.lock().unwrap().push(seen);
            Ok(Verdict::Block {
                code: "sign_in_blocked",
                message: "Blocked by a test hook.".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_sign_in_hook_screens_the_sso_callback_and_its_block_fails_the_login() {
    if idp::skipped("saml hook") {
        return;
    }
    let s = setup(None, false).await;
    let hook = Arc::new(BlockSso::default());
    s.app.state.auth.add_hook(hook.clone());
    let (res, _, _) = login(&s, "st-hook").await;
    let back = location(&res);
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("sign_in_blocked"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-hook"));
    assert!(param(&back, "code").is_none());
    assert_eq!(
        *hook.seen.lock().unwrap(),
        [("sso".to_string(), Some("alice@example.com".to_string()))]
    );
    assert_eq!(
        last_failure(&s.app).await["error"]["code"],
        "sign_in_blocked"
    );
    let profiles: i64 =
        sqlx::query_scalar("select count(*) from sso_profiles where environment_id = $1")
            .bind(&s.app.tenant.environment_id)
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(profiles, 0, "no profile is issued");
}

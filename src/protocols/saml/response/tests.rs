//! The SP pipeline ([`super::super::xmlsec`] then [`super::validate`]) on responses signed and
//! encrypted by the xmlsec1 command-line tool (an independent implementation), with a fixed
//! clock. Fixtures: `tests/fixtures/saml/` (2048-bit RSA test keys, RSA-SHA256, exc-c14n).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::protocols::saml::metadata::certificate_der;
use crate::protocols::saml::xmlsec::{Bergshamra, Keys, Opened, XmlSecurity};

const SP: &str = "https://sp.keystead.test/sso/saml/metadata/conn_TEST";
const ACS: &str = "https://sp.keystead.test/sso/saml/acs/conn_TEST";
const IDP: &str = "https://idp.example.test/metadata";

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../../tests/fixtures/saml/", $name))
    };
}

fn der_of_pem(pem: &str, label: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem
        .lines()
        .filter(|l| !l.contains(label) && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn keys() -> Keys {
    Keys {
        idp_certificates: vec![certificate_der(fixture!("idp-cert.pem")).unwrap()],
        sp_private_key: Some(der_of_pem(fixture!("sp-key.pem"), "PRIVATE KEY")),
        allow_sha1: false,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:01:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn expect(opened: &Opened) -> Expectations<'static> {
    Expectations {
        sp_entity_id: SP,
        acs_url: ACS,
        idp_entity_id: IDP,
        request_id: Some("sso_req_TEST"),
        response_signed: opened.response_signed,
        now: now(),
        skew: Duration::from_secs(180),
    }
}

fn open(xml: &str) -> Result<Opened, SamlError> {
    Bergshamra.open_response(xml, &keys())
}

fn accept(xml: &str) -> Result<Assertion, SamlError> {
    let opened = open(xml)?;
    let env = parse_envelope(&opened.response_xml)?;
    let a = parse_assertion(&opened.assertion_xml)?;
    validate(&env, &a, &expect(&opened))?;
    Ok(a)
}

fn code(r: Result<impl std::fmt::Debug, SamlError>) -> &'static str {
    r.expect_err("must be refused").code
}

#[test]
fn a_signed_assertion_is_accepted_with_its_attributes() {
    let a = accept(fixture!("response-signed-assertion.xml")).unwrap();
    assert_eq!(a.name_id, "alice@example.com");
    assert_eq!(a.id, "_assertion1");
    let groups = &a.attributes.iter().find(|(k, _)| k == "groups").unwrap().1;
    assert_eq!(groups, &["Engineering", "Admins"]);
    let opened = open(fixture!("response-signed-assertion.xml")).unwrap();
    assert!(opened.assertion_signed && !opened.response_signed && !opened.encrypted);
}

#[test]
fn a_signed_response_covers_its_unsigned_assertion() {
    let opened = open(fixture!("response-signed-response.xml")).unwrap();
    assert!(opened.response_signed && !opened.assertion_signed);
    accept(fixture!("response-signed-response.xml")).unwrap();
}

#[test]
fn encrypted_assertions_decrypt_with_aes_256_cbc_aes_256_gcm_and_aes_128_cbc() {
    for xml in [
        fixture!("response-encrypted-aes256cbc.xml"),
        fixture!("response-encrypted-aes256gcm.xml"),
        fixture!("response-encrypted-aes128cbc.xml"),
    ] {
        let opened = open(xml).unwrap();
        assert!(opened.encrypted && opened.assertion_signed);
        assert_eq!(accept(xml).unwrap().name_id, "alice@example.com");
    }
}

#[test]
fn an_encrypted_assertion_needs_the_right_sp_key() {
    let mut k = keys();
    k.sp_private_key = Some(der_of_pem(fixture!("other-key.pem"), "PRIVATE KEY"));
    let r = Bergshamra.open_response(fixture!("response-encrypted-aes256gcm.xml"), &k);
    assert_eq!(code(r), "decryption_failed");
}

#[test]
fn unsigned_tampered_and_foreign_signed_responses_are_refused() {
    assert_eq!(
        code(open(fixture!("response-unsigned.xml"))),
        "unsigned_assertion"
    );
    let tampered = fixture!("response-signed-assertion.xml").replace("Liddell", "Mallory");
    assert_eq!(code(open(&tampered)), "signature_invalid");
    let renamed = fixture!("response-signed-assertion.xml").replace(
        ">alice@example.com</saml:NameID>",
        ">mallory@example.com</saml:NameID>",
    );
    assert_eq!(code(open(&renamed)), "signature_invalid");
    let mut k = keys();
    k.idp_certificates = vec![certificate_der(fixture!("other-cert.pem")).unwrap()];
    let r = Bergshamra.open_response(fixture!("response-signed-assertion.xml"), &k);
    assert_eq!(code(r), "signature_invalid");
    // Rotation: the old and the new certificate are both accepted.
    k.idp_certificates
        .push(certificate_der(fixture!("idp-cert.pem")).unwrap());
    Bergshamra
        .open_response(fixture!("response-signed-assertion.xml"), &k)
        .unwrap();
}

fn signed_assertion() -> &'static str {
    let xml = fixture!("response-signed-assertion.xml");
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[start..end]
}

fn evil_assertion(id: &str) -> String {
    signed_assertion()
        .replace("alice@example.com", "mallory@evil.test")
        .replace("_assertion1", id)
}

#[test]
fn signature_wrapping_variants_are_refused() {
    let xml = fixture!("response-signed-assertion.xml");
    let signed = signed_assertion();
    // XSW1: an unsigned evil assertion next to the signed one.
    let sibling = xml.replace(signed, &format!("{}{signed}", evil_assertion("_evil")));
    assert_eq!(code(open(&sibling)), "signature_wrapping");
    // XSW2: the evil assertion takes the signed one's ID; the original hides in Extensions.
    let hidden = xml.replace(
        signed,
        &format!(
            "<samlp:Extensions>{signed}</samlp:Extensions>{}",
            evil_assertion("_assertion1")
        ),
    );
    assert!(open(&hidden).is_err());
    // XSW3: the signed assertion wrapped inside the evil one.
    let nested = xml.replace(
        signed,
        &evil_assertion("_evil")
            .replace("</saml:Assertion>", &format!("{signed}</saml:Assertion>")),
    );
    assert!(open(&nested).is_err());
    // The Response's signature moved into the (unsigned) assertion: not enveloped in what it
    // references.
    let resp = fixture!("response-signed-response.xml");
    let s = resp.find("<ds:Signature").unwrap();
    let e = resp.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let sig = &resp[s..e];
    let moved = resp.replacen(sig, "", 1).replacen(
        "</saml:Issuer><saml:Subject>",
        &format!("</saml:Issuer>{sig}<saml:Subject>"),
        1,
    );
    assert_eq!(code(open(&moved)), "signature_wrapping");
}

#[test]
fn dtds_and_weak_algorithms_are_refused_before_verification() {
    let xml = fixture!("response-signed-assertion.xml");
    let xxe = xml.replacen(
        "<samlp:Response",
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><samlp:Response",
        1,
    );
    assert_eq!(code(open(&xxe)), "dtd_forbidden");
    let sha1 = xml.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert_eq!(code(open(&sha1)), "unsupported_algorithm");
}

#[test]
fn a_comment_splitting_the_name_id_is_refused() {
    // The comment is outside the c14n digest, so the signature stays valid.
    let opened = open(fixture!("response-comment-in-nameid.xml")).unwrap();
    assert_eq!(
        parse_assertion(&opened.assertion_xml).unwrap_err().code,
        "comment_in_identity"
    );
}

#[test]
fn audience_recipient_time_and_request_binding_are_enforced() {
    let opened = open(fixture!("response-signed-assertion.xml")).unwrap();
    let env = parse_envelope(&opened.response_xml).unwrap();
    let a = parse_assertion(&opened.assertion_xml).unwrap();
    let base = expect(&opened);
    let until = validate(&env, &a, &base).unwrap();
    assert!(until > now());
    let check = |x: Expectations<'_>| validate(&env, &a, &x).unwrap_err().code;
    assert_eq!(
        check(Expectations {
            sp_entity_id: "https://other.test",
            ..base.clone()
        }),
        "audience_mismatch"
    );
    assert_eq!(
        check(Expectations {
            acs_url: "https://other.test/acs",
            ..base.clone()
        }),
        "destination_mismatch"
    );
    let mut no_dest = env.clone();
    no_dest.destination = None;
    assert_eq!(
        validate(
            &no_dest,
            &a,
            &Expectations {
                acs_url: "https://other.test/acs",
                ..base.clone()
            }
        )
        .unwrap_err()
        .code,
        "recipient_mismatch"
    );
    let later = now() + chrono::Duration::minutes(8);
    assert_eq!(
        check(Expectations {
            now: later,
            ..base.clone()
        }),
        "assertion_expired"
    );
    // Within the 3-minute skew an expired assertion still passes; beyond it, not.
    let just_after = DateTime::parse_from_rfc3339("2030-01-01T00:07:00Z")
        .unwrap()
        .with_timezone(&Utc);
    validate(
        &env,
        &a,
        &Expectations {
            now: just_after,
            ..base.clone()
        },
    )
    .unwrap();
    let early = DateTime::parse_from_rfc3339("2029-12-31T23:50:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        check(Expectations {
            now: early,
            ..base.clone()
        }),
        "assertion_not_yet_valid"
    );
    assert_eq!(
        check(Expectations {
            request_id: Some("sso_req_OTHER"),
            ..base.clone()
        }),
        "in_response_to_mismatch"
    );
    let mut unsolicited_env = env.clone();
    unsolicited_env.in_response_to = None;
    assert_eq!(
        validate(
            &unsolicited_env,
            &a,
            &Expectations {
                request_id: None,
                ..base.clone()
            }
        )
        .unwrap_err()
        .code,
        "unsolicited_response"
    );
    assert_eq!(
        check(Expectations {
            idp_entity_id: "https://other-idp.test",
            ..base.clone()
        }),
        "issuer_mismatch"
    );
    let mut failed = env.clone();
    failed.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
    assert_eq!(validate(&failed, &a, &base).unwrap_err().code, "idp_error");
}

/// The fuzz target's body on deterministic mutations of every fixture (the cargo-fuzz target
/// in `fuzz/` explores further): nothing panics, and nothing mutated is accepted as a different
/// identity.
#[test]
fn mutated_responses_never_panic_or_change_identity() {
    let seeds = [
        fixture!("response-signed-assertion.xml"),
        fixture!("response-signed-response.xml"),
        fixture!("response-encrypted-aes256gcm.xml"),
        fixture!("response-unsigned.xml"),
    ];
    let mut rng: u64 = 0x5eed;
    let mut next = move |n: usize| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((rng >> 33) as usize) % n.max(1)
    };
    let alphabet = b"<>/=\"' &;:#x_-aZ09!?[]";
    for seed in seeds {
        for round in 0..150 {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..=(round % 4) {
                let at = next(bytes.len());
                match next(4) {
                    0 => bytes[at] = alphabet[next(alphabet.len())],
                    1 => {
                        bytes.truncate(at);
                    }
                    2 => {
                        let end = (at + next(64)).min(bytes.len());
                        let chunk = bytes[at..end].to_vec();
                        bytes.splice(at..at, chunk);
                    }
                    _ => {
                        let end = (at + next(16)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            let Ok(xml) = String::from_utf8(bytes) else {
                continue;
            };
            if let Ok(a) = accept(&xml) {
                assert_eq!(a.name_id, "alice@example.com", "{xml}");
            }
        }
    }
}

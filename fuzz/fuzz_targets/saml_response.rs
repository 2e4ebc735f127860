//! Fuzzes the SAML SP's response path (`POST /sso/saml/acs/…` minus HTTP): XML-DSig/XML-Enc
//! opening, envelope and assertion parsing, and validation. Must never panic.
//!
//! Run from the repository root: `cargo fuzz run saml_response fuzz/corpus/saml_response
//! tests/fixtures/saml -- -max_total_time=60` (the fixtures are the seeds; new inputs go to
//! the first, git-ignored directory).
#![no_main]

use keystead::protocols::saml::metadata::certificate_der;
use keystead::protocols::saml::response::{self, Expectations};
use keystead::protocols::saml::xmlsec::{Bergshamra, Keys, XmlSecurity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let keys = Keys {
        idp_certificates: certificate_der(include_str!("../../tests/fixtures/saml/idp-cert.pem"))
            .into_iter()
            .collect(),
        sp_private_key: None,
        allow_sha1: false,
    };
    // Unsigned documents still go through the parsers and the validator.
    for candidate in [xml.to_string(), Bergshamra.open_response(xml, &keys).map(|o| o.assertion_xml).unwrap_or_default()] {
        let _ = response::parse_envelope(&candidate);
        if let Ok(a) = response::parse_assertion(&candidate) {
            let env = response::Envelope::default();
            let x = Expectations {
                sp_entity_id: "https://sp.keystead.test/sso/saml/metadata/conn_TEST",
                acs_url: "https://sp.keystead.test/sso/saml/acs/conn_TEST",
                idp_entity_id: "",
                request_id: None,
                response_signed: false,
                now: chrono::Utc::now(),
                skew: std::time::Duration::from_secs(180),
            };
            let _ = response::validate(&env, &a, &x);
        }
    }
});

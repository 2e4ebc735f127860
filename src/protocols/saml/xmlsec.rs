//! XML Signature (XML-DSig 1.1) verification and XML Encryption (XML-Enc 1.1) decryption of
//! SAML Responses, behind our own narrow trait [`XmlSecurity`] (implemented with bergshamra).
//!
//! The trait hands back only what a signature covers: the canonical form (with comments, so the
//! protocol layer can refuse comment-split identities) of the exact element a verified
//! `<Reference>` resolved to. Rules (SAML Core §5.4, the SAML V2.0 XSW guidance):
//! - DTDs and entity declarations are refused before any parsing.
//! - Every signature is enveloped: exactly one `<Reference URI="#id">` naming its parent.
//! - Algorithms are allow-listed (RSA/ECDSA with SHA-256/384/512; SHA-1 only when the
//!   connection allows it; exclusive or inclusive c14n; AES-CBC/GCM data encryption with
//!   RSA-OAEP key transport). `CipherReference` is disabled.
//! - The document holds exactly one `Assertion` or `EncryptedAssertion`, a child of the root
//!   `Response`; either the `Response` or that `Assertion` must carry a valid signature by a
//!   configured IdP key (document-embedded keys are never trusted).

use bergshamra::c14n::C14nMode;
use bergshamra::xml::nodeset::NodeSet;
use bergshamra::{DsigContext, EncContext, KeysManager, VerifyResult};
use uppsala::{Document, NodeId};

use super::{SamlError, ns};

/// Keys a response is checked with.
pub struct Keys {
    /// DER certificates of the IdP; any of them may sign.
    pub idp_certificates: Vec<Vec<u8>>,
    /// PKCS#8 DER of the SP's private key (decrypts `EncryptedAssertion`).
    pub sp_private_key: Option<Vec<u8>>,
    /// Accept SHA-1 based signatures and digests.
    pub allow_sha1: bool,
}

/// What survived verification.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Canonical XML of the root `Response` as received (its fields are trusted only when
    /// `response_signed`).
    pub response_xml: String,
    /// Canonical XML (with comments) of the one `Assertion`, decrypted when it was encrypted.
    pub assertion_xml: String,
    /// The `Response` carries a valid signature.
    pub response_signed: bool,
    /// The `Assertion` carries a valid signature.
    pub assertion_signed: bool,
    /// The assertion arrived as an `EncryptedAssertion`.
    pub encrypted: bool,
}

/// The signature and encryption engine the SAML SP uses.
pub trait XmlSecurity: Send + Sync {
    /// Verifies (and decrypts) a SAML `Response` document and returns its signed parts.
    fn open_response(&self, xml: &str, keys: &Keys) -> Result<Opened, SamlError>;
}

/// [`XmlSecurity`] over bergshamra (pure Rust, aws-lc backend).
#[derive(Debug, Default, Clone, Copy)]
pub struct Bergshamra;

const SIG_ALGS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const SIG_ALGS_SHA1: &[&str] = &["http://www.w3.org/2000/09/xmldsig#rsa-sha1"];
const DIGEST_ALGS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const DIGEST_ALGS_SHA1: &[&str] = &["http://www.w3.org/2000/09/xmldsig#sha1"];
const C14N_ALGS: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const DATA_ENC_ALGS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
];
const KEY_TRANSPORT_ALGS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
];

/// Refuses documents with a DTD or entity declarations (no XXE, no entity expansion) and
/// anything that is not UTF-8 text.
pub fn reject_dtd(xml: &str) -> Result<(), SamlError> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") || xml.contains("<!doctype") {
        return Err(SamlError::new(
            "dtd_forbidden",
            "The SAML message contains a DTD or entity declaration, which is not allowed.",
        ));
    }
    Ok(())
}

fn is(doc: &Document<'_>, id: NodeId, ns_uri: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| {
        e.name.local_name.as_ref() == local
            && e.name.namespace_uri.as_deref().unwrap_or("") == ns_uri
    })
}

fn all_named(doc: &Document<'_>, ns_uri: &str, local: &str) -> Vec<NodeId> {
    doc.descendants(doc.root())
        .into_iter()
        .filter(|id| is(doc, *id, ns_uri, local))
        .collect()
}

fn child(doc: &Document<'_>, parent: NodeId, ns_uri: &str, local: &str) -> Option<NodeId> {
    doc.children(parent)
        .into_iter()
        .find(|id| is(doc, *id, ns_uri, local))
}

fn children(doc: &Document<'_>, parent: NodeId, ns_uri: &str, local: &str) -> Vec<NodeId> {
    doc.children(parent)
        .into_iter()
        .filter(|id| is(doc, *id, ns_uri, local))
        .collect()
}

fn algorithm<'d>(doc: &'d Document<'_>, id: Option<NodeId>) -> &'d str {
    id.and_then(|i| doc.get_attribute(i, "Algorithm"))
        .unwrap_or("")
}

fn weak(what: &str, alg: &str) -> SamlError {
    SamlError::new(
        "unsupported_algorithm",
        format!("The {what} algorithm '{alg}' is not accepted."),
    )
}

fn bad_structure(message: &str) -> SamlError {
    SamlError::new("signature_wrapping", message.to_string())
}

/// Checks every `<Signature>` before verification: allow-listed algorithms and transforms,
/// and exactly one same-document reference to the signature's own parent (enveloped).
fn check_signatures(doc: &Document<'_>, allow_sha1: bool) -> Result<(), SamlError> {
    for sig in all_named(doc, ns::DSIG, "Signature") {
        let si = child(doc, sig, ns::DSIG, "SignedInfo")
            .ok_or_else(|| SamlError::new("signature_invalid", "Signature has no SignedInfo."))?;
        let c14n = algorithm(doc, child(doc, si, ns::DSIG, "CanonicalizationMethod"));
        if !C14N_ALGS.contains(&c14n) {
            return Err(weak("canonicalization", c14n));
        }
        let method = algorithm(doc, child(doc, si, ns::DSIG, "SignatureMethod"));
        if !(SIG_ALGS.contains(&method) || allow_sha1 && SIG_ALGS_SHA1.contains(&method)) {
            return Err(weak("signature", method));
        }
        let refs = children(doc, si, ns::DSIG, "Reference");
        let [reference] = refs.as_slice() else {
            return Err(bad_structure(
                "A signature must have exactly one Reference.",
            ));
        };
        let digest = algorithm(doc, child(doc, *reference, ns::DSIG, "DigestMethod"));
        if !(DIGEST_ALGS.contains(&digest) || allow_sha1 && DIGEST_ALGS_SHA1.contains(&digest)) {
            return Err(weak("digest", digest));
        }
        if let Some(transforms) = child(doc, *reference, ns::DSIG, "Transforms") {
            for t in children(doc, transforms, ns::DSIG, "Transform") {
                let alg = algorithm(doc, Some(t));
                if alg != ENVELOPED && !C14N_ALGS.contains(&alg) {
                    return Err(weak("transform", alg));
                }
            }
        }
        let uri = doc.get_attribute(*reference, "URI").unwrap_or("");
        let target = uri
            .strip_prefix('#')
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad_structure("A signature must reference an element by its ID."))?;
        let parent_id = doc
            .parent(sig)
            .and_then(|p| doc.get_attribute(p, "ID"))
            .unwrap_or("");
        if parent_id != target {
            return Err(bad_structure(
                "A signature must be enveloped in the element it signs.",
            ));
        }
    }
    Ok(())
}

fn check_encryption(doc: &Document<'_>, enc_assertion: NodeId) -> Result<(), SamlError> {
    for m in doc.descendants(enc_assertion) {
        if !is(doc, m, ns::XENC, "EncryptionMethod") {
            continue;
        }
        let alg = algorithm(doc, Some(m));
        let in_key = doc
            .parent(m)
            .is_some_and(|p| is(doc, p, ns::XENC, "EncryptedKey"));
        let allowed = if in_key {
            KEY_TRANSPORT_ALGS
        } else {
            DATA_ENC_ALGS
        };
        if !allowed.contains(&alg) {
            return Err(weak("encryption", alg));
        }
    }
    if doc
        .descendants(enc_assertion)
        .into_iter()
        .any(|n| is(doc, n, ns::XENC, "CipherReference"))
    {
        return Err(SamlError::new(
            "decryption_failed",
            "CipherReference is not supported.",
        ));
    }
    Ok(())
}

fn parse(xml: &str) -> Result<Document<'_>, SamlError> {
    uppsala::parse(xml).map_err(|e| {
        SamlError::new(
            "invalid_response",
            format!("The SAML response is not well-formed XML: {e}"),
        )
    })
}

fn keys_manager(keys: &Keys) -> Result<KeysManager, SamlError> {
    let mut manager = KeysManager::new();
    for der in &keys.idp_certificates {
        let key = bergshamra::keys::loader::load_x509_cert_der(der).map_err(|e| {
            SamlError::new(
                "invalid_certificate",
                format!("An IdP certificate could not be loaded: {e}"),
            )
        })?;
        manager.add_key(key);
    }
    Ok(manager)
}

/// Nodes covered by valid signatures; `strict` fails on any invalid signature.
fn covered(
    doc: &Document<'_>,
    xml: &str,
    keys: &Keys,
    strict: bool,
) -> Result<Vec<NodeId>, SamlError> {
    if all_named(doc, ns::DSIG, "Signature").is_empty() {
        return Ok(Vec::new());
    }
    let ctx = DsigContext::new(keys_manager(keys)?);
    let results =
        bergshamra::dsig::verify::verify_all_document_with_source(&ctx, doc, Some(xml))
            .map_err(|e| SamlError::new("signature_invalid", format!("Signature rejected: {e}")))?;
    let mut nodes = Vec::new();
    for r in results {
        match r {
            VerifyResult::Valid { references, .. } => {
                nodes.extend(references.iter().filter_map(|r| r.resolved_node));
            }
            VerifyResult::Invalid { reason } if strict => {
                return Err(SamlError::new(
                    "signature_invalid",
                    format!(
                        "The signature is not valid for the configured IdP certificates: {reason}"
                    ),
                ));
            }
            VerifyResult::Invalid { .. } => {}
        }
    }
    Ok(nodes)
}

fn canonical(doc: &Document<'_>, node: NodeId) -> Result<String, SamlError> {
    let set = NodeSet::tree_with_comments(node, doc);
    let bytes = bergshamra::c14n::canonicalize_doc(
        doc,
        C14nMode::InclusiveWithComments,
        Some(&set),
        &[] as &[&str],
    )
    .map_err(|e| SamlError::new("invalid_response", format!("Canonicalization failed: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|_| SamlError::new("invalid_response", "The response is not UTF-8."))
}

fn decrypt(xml: &str, keys: &Keys) -> Result<String, SamlError> {
    let der = keys.sp_private_key.as_deref().ok_or_else(|| {
        SamlError::new(
            "decryption_failed",
            "The assertion is encrypted but the connection has no SP key.",
        )
    })?;
    let pem = super::pem("PRIVATE KEY", der);
    let key = bergshamra::keys::loader::load_rsa_private_pem(pem.as_bytes())
        .map_err(|e| SamlError::new("decryption_failed", format!("SP key unusable: {e}")))?;
    let mut manager = KeysManager::new();
    manager.add_key(key);
    let ctx = EncContext::new(manager).with_disable_cipher_reference(true);
    bergshamra::decrypt(&ctx, xml).map_err(|e| {
        SamlError::new(
            "decryption_failed",
            format!("The encrypted assertion could not be decrypted: {e}"),
        )
    })
}

impl XmlSecurity for Bergshamra {
    fn open_response(&self, xml: &str, keys: &Keys) -> Result<Opened, SamlError> {
        reject_dtd(xml)?;
        let doc = parse(xml)?;
        let root = doc
            .document_element()
            .filter(|r| is(&doc, *r, ns::SAMLP, "Response"))
            .ok_or_else(|| {
                SamlError::new("invalid_response", "The message is not a SAML Response.")
            })?;
        check_signatures(&doc, keys.allow_sha1)?;
        let plain = all_named(&doc, ns::SAML, "Assertion");
        let encrypted = all_named(&doc, ns::SAML, "EncryptedAssertion");
        if plain.len() + encrypted.len() != 1 {
            return Err(bad_structure(
                "The response must contain exactly one assertion.",
            ));
        }
        let signed_nodes = covered(&doc, xml, keys, true)?;
        let response_signed = signed_nodes.contains(&root);
        let response_xml = canonical(&doc, root)?;
        if let [a] = plain.as_slice() {
            if doc.parent(*a) != Some(root) {
                return Err(bad_structure(
                    "The assertion is not a child of the Response.",
                ));
            }
            let assertion_signed = signed_nodes.contains(a);
            if !response_signed && !assertion_signed {
                return Err(unsigned());
            }
            return Ok(Opened {
                response_xml,
                assertion_xml: canonical(&doc, *a)?,
                response_signed,
                assertion_signed,
                encrypted: false,
            });
        }
        let enc = encrypted[0];
        if doc.parent(enc) != Some(root) {
            return Err(bad_structure(
                "The encrypted assertion is not a child of the Response.",
            ));
        }
        check_encryption(&doc, enc)?;
        let decrypted = decrypt(xml, keys)?;
        reject_dtd(&decrypted)?;
        let doc2 = parse(&decrypted)?;
        let root2 = doc2
            .document_element()
            .ok_or_else(|| SamlError::new("decryption_failed", "Decryption lost the document."))?;
        check_signatures(&doc2, keys.allow_sha1)?;
        let inner = all_named(&doc2, ns::SAML, "Assertion");
        let [a] = inner.as_slice() else {
            return Err(bad_structure(
                "The encrypted assertion must decrypt to exactly one assertion.",
            ));
        };
        let wrapper = doc2.parent(*a);
        if wrapper.is_none_or(|w| !is(&doc2, w, ns::SAML, "EncryptedAssertion"))
            || wrapper.and_then(|w| doc2.parent(w)) != Some(root2)
        {
            return Err(bad_structure("The decrypted assertion is misplaced."));
        }
        // The Response signature covered the ciphertext; after decryption only the
        // assertion's own signature can be checked, and when present it must be valid.
        let assertion_signed = covered(&doc2, &decrypted, keys, false)?.contains(a);
        if !assertion_signed && child(&doc2, *a, ns::DSIG, "Signature").is_some() {
            return Err(SamlError::new(
                "signature_invalid",
                "The assertion's signature is not valid for the configured IdP certificates.",
            ));
        }
        if !response_signed && !assertion_signed {
            return Err(unsigned());
        }
        Ok(Opened {
            response_xml,
            assertion_xml: canonical(&doc2, *a)?,
            response_signed,
            assertion_signed,
            encrypted: true,
        })
    }
}

fn unsigned() -> SamlError {
    SamlError::new(
        "unsigned_assertion",
        "Neither the Response nor the Assertion is signed by the IdP.",
    )
}

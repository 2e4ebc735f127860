//! Reading and validating a SAML `Response` and its `Assertion` once [`super::xmlsec`] has
//! established what is signed (SAML Core §2.3–§2.7, §3.2.2; Profiles §4.1.4.2–§4.1.4.3; Bindings
//! §3.5.5.2). Pure functions of the XML, the expectations and `now`.
//!
//! Checks: top-level `StatusCode` is Success; `Destination` (when present, and always when the
//! Response is signed) is our ACS URL; the assertion's `Issuer` is the IdP; a bearer
//! `SubjectConfirmationData` names our ACS as `Recipient`, is within its `NotBefore` /
//! `NotOnOrAfter`, and answers our request (`InResponseTo`) or, for IdP-initiated logins, none;
//! `Conditions` `NotBefore` / `NotOnOrAfter` hold within the clock skew; every
//! `AudienceRestriction` includes our entity id; an `AuthnStatement` is present.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::xml::{self, Element};
use super::{SamlError, ns};

/// The root `Response` fields used for checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `Destination`.
    pub destination: Option<String>,
    /// `InResponseTo`.
    pub in_response_to: Option<String>,
    /// Top-level `StatusCode` `Value`.
    pub status: String,
    /// Nested (second-level) status code and `StatusMessage`, for error reports.
    pub status_detail: String,
}

/// A bearer `SubjectConfirmationData`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// `Recipient`.
    pub recipient: Option<String>,
    /// `InResponseTo`.
    pub in_response_to: Option<String>,
    /// `NotBefore`.
    pub not_before: Option<DateTime<Utc>>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
}

/// The assertion fields Keystead uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assertion {
    /// `ID` (replay cache key).
    pub id: String,
    /// `Issuer`.
    pub issuer: String,
    /// `Subject/NameID` text.
    pub name_id: String,
    /// `NameID/@Format`.
    pub name_id_format: Option<String>,
    /// Bearer confirmations.
    pub confirmations: Vec<Confirmation>,
    /// `Conditions/@NotBefore`.
    pub not_before: Option<DateTime<Utc>>,
    /// `Conditions/@NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// One entry per `AudienceRestriction`, each with its audiences.
    pub audience_restrictions: Vec<Vec<String>>,
    /// Whether an `AuthnStatement` is present.
    pub has_authn_statement: bool,
    /// Attributes (`Name` → values), in document order.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// What the response must satisfy.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Our SP entity id (the audience).
    pub sp_entity_id: &'a str,
    /// Our ACS URL (recipient and destination).
    pub acs_url: &'a str,
    /// The IdP's entity id (empty: not checked).
    pub idp_entity_id: &'a str,
    /// The AuthnRequest this answers; `None` for an unsolicited (IdP-initiated) response.
    pub request_id: Option<&'a str>,
    /// Whether the response was signed (then `Destination` is mandatory).
    pub response_signed: bool,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Allowed clock skew.
    pub skew: Duration,
}

fn time(v: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| SamlError::new("invalid_response", format!("Invalid {what} '{s}'.")))
    })
    .transpose()
}

/// Reads the root `Response`.
pub fn parse_envelope(response_xml: &str) -> Result<Envelope, SamlError> {
    let root = xml::parse(response_xml)?;
    if !root.is(ns::SAMLP, "Response") {
        return Err(SamlError::new("invalid_response", "Not a SAML Response."));
    }
    let status = root.child(ns::SAMLP, "Status");
    let code = status.and_then(|s| s.child(ns::SAMLP, "StatusCode"));
    let nested = code
        .and_then(|c| c.child(ns::SAMLP, "StatusCode"))
        .and_then(|c| c.attr("Value"));
    let message = status
        .and_then(|s| s.child(ns::SAMLP, "StatusMessage"))
        .map(Element::text);
    Ok(Envelope {
        destination: root.attr("Destination").map(String::from),
        in_response_to: root.attr("InResponseTo").map(String::from),
        status: code
            .and_then(|c| c.attr("Value"))
            .unwrap_or_default()
            .to_string(),
        status_detail: [nested.map(String::from), message]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
    })
}

/// Reads an `Assertion` (canonical XML from [`super::xmlsec`]).
pub fn parse_assertion(assertion_xml: &str) -> Result<Assertion, SamlError> {
    let a = xml::parse(assertion_xml)?;
    if !a.is(ns::SAML, "Assertion") {
        return Err(SamlError::new("invalid_response", "Not a SAML Assertion."));
    }
    let subject = a.child(ns::SAML, "Subject");
    let name_id = subject.and_then(|s| s.child(ns::SAML, "NameID"));
    let mut confirmations = Vec::new();
    for sc in subject
        .into_iter()
        .flat_map(|s| s.children_named(ns::SAML, "SubjectConfirmation"))
    {
        if sc.attr("Method") != Some("urn:oasis:names:tc:SAML:2.0:cm:bearer") {
            continue;
        }
        let data = sc.child(ns::SAML, "SubjectConfirmationData");
        confirmations.push(Confirmation {
            recipient: data.and_then(|d| d.attr("Recipient")).map(String::from),
            in_response_to: data.and_then(|d| d.attr("InResponseTo")).map(String::from),
            not_before: time(data.and_then(|d| d.attr("NotBefore")), "NotBefore")?,
            not_on_or_after: time(data.and_then(|d| d.attr("NotOnOrAfter")), "NotOnOrAfter")?,
        });
    }
    let conditions = a.child(ns::SAML, "Conditions");
    let mut attributes = Vec::new();
    for st in a.children_named(ns::SAML, "AttributeStatement") {
        for attr in st.children_named(ns::SAML, "Attribute") {
            let name = attr.attr("Name").unwrap_or_default().to_string();
            let values = attr
                .children_named(ns::SAML, "AttributeValue")
                .map(Element::identity_text)
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push((name, values));
        }
    }
    Ok(Assertion {
        id: a.attr("ID").unwrap_or_default().to_string(),
        issuer: a
            .child(ns::SAML, "Issuer")
            .map(Element::text)
            .unwrap_or_default(),
        name_id: name_id
            .map(Element::identity_text)
            .transpose()?
            .unwrap_or_default(),
        name_id_format: name_id.and_then(|n| n.attr("Format")).map(String::from),
        confirmations,
        not_before: time(conditions.and_then(|c| c.attr("NotBefore")), "NotBefore")?,
        not_on_or_after: time(
            conditions.and_then(|c| c.attr("NotOnOrAfter")),
            "NotOnOrAfter",
        )?,
        audience_restrictions: conditions
            .into_iter()
            .flat_map(|c| c.children_named(ns::SAML, "AudienceRestriction"))
            .map(|r| {
                r.children_named(ns::SAML, "Audience")
                    .map(Element::text)
                    .collect()
            })
            .collect(),
        has_authn_statement: a.child(ns::SAML, "AuthnStatement").is_some(),
        attributes,
    })
}

fn err(code: &'static str, msg: impl Into<String>) -> SamlError {
    SamlError::new(code, msg)
}

/// Validates a response against the expectations; returns until when the assertion id must be
/// remembered (replay cache).
pub fn validate(
    env: &Envelope,
    a: &Assertion,
    x: &Expectations<'_>,
) -> Result<DateTime<Utc>, SamlError> {
    let skew = chrono::Duration::from_std(x.skew).unwrap_or_else(|_| chrono::Duration::zero());
    let (early, late) = (x.now + skew, x.now - skew);
    if env.status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
        return Err(err(
            "idp_error",
            format!(
                "The IdP answered with status {} {}",
                env.status, env.status_detail
            ),
        ));
    }
    match &env.destination {
        Some(d) if d != x.acs_url => {
            return Err(err(
                "destination_mismatch",
                format!("The response is addressed to '{d}', not to this connection's ACS URL."),
            ));
        }
        None if x.response_signed => {
            return Err(err(
                "destination_mismatch",
                "A signed response must name its Destination.",
            ));
        }
        _ => {}
    }
    if a.id.is_empty() || a.name_id.is_empty() {
        return Err(err(
            "invalid_response",
            "The assertion has no ID or no NameID.",
        ));
    }
    if !x.idp_entity_id.is_empty() && a.issuer != x.idp_entity_id {
        return Err(err(
            "issuer_mismatch",
            format!(
                "The assertion was issued by '{}', not by the configured IdP.",
                a.issuer
            ),
        ));
    }
    if let Some(nb) = a.not_before
        && nb > early
    {
        return Err(err(
            "assertion_not_yet_valid",
            format!("The assertion is not valid before {nb}."),
        ));
    }
    if let Some(na) = a.not_on_or_after
        && na <= late
    {
        return Err(err(
            "assertion_expired",
            format!("The assertion expired at {na}."),
        ));
    }
    if a.audience_restrictions.is_empty()
        || a.audience_restrictions
            .iter()
            .any(|r| !r.iter().any(|aud| aud == x.sp_entity_id))
    {
        return Err(err(
            "audience_mismatch",
            "The assertion's audience is not this connection's SP entity id.",
        ));
    }
    if let (Some(outer), Some(expected)) = (&env.in_response_to, x.request_id)
        && outer != expected
    {
        return Err(err(
            "in_response_to_mismatch",
            "The response does not answer the pending request.",
        ));
    }
    let mut last_error = err(
        "subject_confirmation_failed",
        "The assertion has no bearer subject confirmation.",
    );
    let mut valid_until = None;
    for c in &a.confirmations {
        if c.recipient.as_deref() != Some(x.acs_url) {
            last_error = err(
                "recipient_mismatch",
                "The assertion's Recipient is not this connection's ACS URL.",
            );
            continue;
        }
        let Some(na) = c.not_on_or_after else {
            last_error = err(
                "subject_confirmation_failed",
                "The subject confirmation has no NotOnOrAfter.",
            );
            continue;
        };
        if na <= late {
            last_error = err(
                "assertion_expired",
                format!("The subject confirmation expired at {na}."),
            );
            continue;
        }
        if c.not_before.is_some_and(|nb| nb > early) {
            last_error = err(
                "assertion_not_yet_valid",
                "The subject confirmation is not valid yet.",
            );
            continue;
        }
        match (x.request_id, c.in_response_to.as_deref()) {
            (Some(expected), Some(got)) if expected == got => {}
            (None, None) => {}
            (None, Some(_)) => {
                last_error = err(
                    "unsolicited_response",
                    "The response answers a request that is unknown, expired or already used.",
                );
                continue;
            }
            (Some(_), _) => {
                last_error = err(
                    "in_response_to_mismatch",
                    "The subject confirmation does not answer the pending request.",
                );
                continue;
            }
        }
        valid_until = Some(na);
        break;
    }
    let Some(confirmed_until) = valid_until else {
        return Err(last_error);
    };
    if !a.has_authn_statement {
        return Err(err(
            "invalid_response",
            "The assertion has no AuthnStatement.",
        ));
    }
    let until = a
        .not_on_or_after
        .map_or(confirmed_until, |c| c.max(confirmed_until));
    Ok(until + skew)
}

#[cfg(test)]
mod tests;

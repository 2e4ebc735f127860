//! Rendering of each [`Email`] into a subject, a plain-text body and an HTML body, from the
//! askama templates under `templates/email/` (`.txt` are not escaped, `.html` are).

use askama::Template;

use super::message::Email;

/// A rendered email, ready for the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

/// Like [`Email`]: never prints the body (it holds the code or link).
impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Template)]
#[template(path = "email/magic_auth.txt")]
struct MagicAuthText<'a> {
    product: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "email/magic_auth.html")]
struct MagicAuthHtml<'a> {
    product: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_verification.txt")]
struct VerificationText<'a> {
    product: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_verification.html")]
struct VerificationHtml<'a> {
    product: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct PasswordResetText<'a> {
    product: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    product: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    product: &'a str,
    url: &'a str,
    organization_name: Option<&'a str>,
    inviter_email: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    product: &'a str,
    url: &'a str,
    organization_name: Option<&'a str>,
    inviter_email: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/email_change.txt")]
struct EmailChangeText<'a> {
    product: &'a str,
    code: &'a str,
    new_email: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_change.html")]
struct EmailChangeHtml<'a> {
    product: &'a str,
    code: &'a str,
    new_email: &'a str,
}

/// Renders `email` for the environment called `product` (its display name).
///
/// # Errors
/// Only if a template fails to render (a bug).
pub fn render(email: &Email, product: &str) -> anyhow::Result<Rendered> {
    let (subject, text, html) = match email {
        Email::MagicAuth { code } => (
            format!("Your sign-in code for {product}"),
            MagicAuthText { product, code }.render()?,
            MagicAuthHtml { product, code }.render()?,
        ),
        Email::EmailVerification { code } => (
            format!("Verify your email address for {product}"),
            VerificationText { product, code }.render()?,
            VerificationHtml { product, code }.render()?,
        ),
        Email::PasswordReset { url } => (
            format!("Reset your {product} password"),
            PasswordResetText { product, url }.render()?,
            PasswordResetHtml { product, url }.render()?,
        ),
        Email::Invitation {
            url,
            organization_name,
            inviter_email,
        } => {
            let organization_name = organization_name.as_deref();
            let inviter_email = inviter_email.as_deref();
            (
                format!(
                    "You have been invited to join {}",
                    organization_name.unwrap_or(product)
                ),
                InvitationText {
                    product,
                    url,
                    organization_name,
                    inviter_email,
                }
                .render()?,
                InvitationHtml {
                    product,
                    url,
                    organization_name,
                    inviter_email,
                }
                .render()?,
            )
        }
        Email::EmailChange { code, new_email } => (
            format!("Confirm your new email address for {product}"),
            EmailChangeText {
                product,
                code,
                new_email,
            }
            .render()?,
            EmailChangeHtml {
                product,
                code,
                new_email,
            }
            .render()?,
        ),
    };
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_email_renders_both_parts_and_escapes_html() {
        let all = [
            Email::MagicAuth {
                code: "123456".into(),
            },
            Email::EmailVerification {
                code: "654321".into(),
            },
            Email::PasswordReset {
                url: "https://id.test/reset?token=a&b=1".into(),
            },
            Email::Invitation {
                url: "https://id.test/invite?t=x".into(),
                organization_name: Some("Acme <Corp>".into()),
                inviter_email: Some("boss@acme.test".into()),
            },
            Email::EmailChange {
                code: "111222".into(),
                new_email: "new@acme.test".into(),
            },
        ];
        for e in &all {
            let r = render(e, "Demo <App>").unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
            assert!(r.html.contains("<html") && r.html.contains("Demo &#60;App&#62;"));
            assert!(r.text.contains("Demo <App>"), "{}", r.text);
        }
        let invite = render(&all[3], "Demo").unwrap();
        assert!(invite.html.contains("Acme &#60;Corp&#62;"));
        assert!(invite.text.contains("Acme <Corp>") && invite.text.contains("boss@acme.test"));
        let reset = render(&all[2], "Demo").unwrap();
        assert!(reset.text.contains("https://id.test/reset?token=a&b=1"));
        assert!(reset.html.contains("https://id.test/reset?token=a&#38;b=1"));
        assert!(!format!("{reset:?}").contains("token"));
    }
}

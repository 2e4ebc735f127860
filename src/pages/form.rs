//! Form helpers of the hosted pages: reading a posted form ([`read_form`]) and answering it,
//! with the form again showing a step's error ([`form_again`]) or a `303` to the next page
//! ([`see_other`]).

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::flows::step::Failure;
use super::views::{Chrome, render};
use crate::http::extract::{FormBody, FormError};

/// The body of a form POST; anything unreadable (wrong content type, bad encoding) or holding a
/// NUL character is a 400 page.
pub(super) fn read_form<T>(form: Result<FormBody<T>, FormError>) -> Result<T, PageError> {
    form.map(|FormBody(f)| f).map_err(|e| {
        PageError::BadRequest(match e {
            FormError::Unreadable(_) => "The form could not be read.".into(),
            FormError::Nul(_) => "The form holds a character that is not allowed.".into(),
        })
    })
}

/// `303 See Other` to a page of the flow.
pub(super) fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// The answer to a form whose step failed: the form rendered again by `view` with the error
/// under `heading` (and the error's status), or the error page.
pub(super) fn form_again<V: Template>(
    failure: Failure,
    product: &str,
    heading: &str,
    view: impl FnOnce(Chrome) -> V,
) -> Result<Response, PageError> {
    match failure {
        Failure::Form(e) => {
            let page = Chrome::new(product, heading).error(e.message);
            Ok(render(e.status, &view(page)))
        }
        Failure::Page(p) => Err(p),
    }
}

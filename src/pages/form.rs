//! Form helpers of the hosted pages: reading a posted form ([`read_form`]) and answering it,
//! with the form again showing a step's error ([`form_again`]) or a `303` to the next page
//! ([`see_other`]).

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::flows::step::Failure;
use super::views::{Chrome, render};

/// The body of a form POST; anything unreadable (wrong content type, bad encoding) is a 400 page.
pub(super) fn read_form<T>(
    form: Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
) -> Result<T, PageError> {
    form.map(|axum::Form(f)| f)
        .map_err(|_| PageError::BadRequest("The form could not be read.".into()))
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

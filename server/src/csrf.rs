//! Cross-site request forgery defence for `/api`, beside the session
//! cookie's `SameSite=Strict`: a state-changing request must come from this
//! origin (by `Sec-Fetch-Site` and `Origin`, when the browser sends them)
//! and, when it has a body, be JSON — which no HTML form and no "simple"
//! cross-site fetch can send.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::PublicOrigin;
use crate::error::ApiError;
use crate::extract::ClientAddr;
use crate::security::{self, SecurityEvent};
use crate::state::AppState;

/// Refuses state-changing requests from other origins (403), and POSTs
/// that are not `application/json` (415).
pub async fn same_origin_json(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let method = request.method();
    if !(method == Method::GET || method == Method::HEAD || method == Method::OPTIONS) {
        let headers = request.headers();
        let ours = match &state.config.public_url {
            Some(origin) => Some(origin.clone()),
            None => request_origin(state.config.https(), request.uri(), headers),
        };
        if !same_origin(headers, ours.as_ref()) {
            let client = ClientAddr::of(&request, &state.config.trusted_proxies);
            security::record(SecurityEvent::CrossSiteRefused, None, client);
            return Err(ApiError::CrossSite);
        }
        if method == Method::POST && !has_content_type(headers, "application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    Ok(next.run(request).await)
}

/// Whether a request comes from the origin it was sent to (a listener of
/// this scheme): the operator console's rule, which has no public URL.
pub fn from_own_origin(https: bool, uri: &Uri, headers: &HeaderMap) -> bool {
    same_origin(headers, request_origin(https, uri, headers).as_ref())
}

/// The origin a request was sent to: the listener's scheme and the
/// authority the client named, in HTTP/2's `:authority` (which hyper puts
/// in the URI) or HTTP/1.1's `Host`.
fn request_origin(https: bool, uri: &Uri, headers: &HeaderMap) -> Option<PublicOrigin> {
    let authority = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => headers.get(header::HOST)?.to_str().ok()?,
    };
    PublicOrigin::from_authority(https, authority)
}

/// Whether a request with these headers comes from `ours`. A request
/// without `Origin` and `Sec-Fetch-Site` is not a browser's (curl, an
/// operator's script): `SameSite=Strict` and the JSON rule still hold.
fn same_origin(headers: &HeaderMap, ours: Option<&PublicOrigin>) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
    {
        return false;
    }
    match text(header::ORIGIN) {
        Some(origin) => ours.is_some() && PublicOrigin::from_origin_header(origin).as_ref() == ours,
        None => true,
    }
}

/// Whether the body is labelled `essence` (parameters such as `charset`
/// aside): the portal's POSTs must be JSON, the console's forms.
pub fn has_content_type(headers: &HeaderMap, essence: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|given| given.trim().eq_ignore_ascii_case(essence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn check(https: bool, uri: &str, pairs: &[(&'static str, &'static str)]) -> bool {
        let headers = headers(pairs);
        let ours = request_origin(https, &uri.parse().unwrap(), &headers);
        same_origin(&headers, ours.as_ref())
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        let host = ("host", "127.0.0.1:3000");
        assert!(check(
            false,
            "/api/session",
            &[host, ("origin", "http://127.0.0.1:3000")]
        ));
        assert!(check(false, "/", &[("sec-fetch-site", "same-origin")]));
        assert!(check(false, "/", &[]));
        assert!(!check(
            false,
            "/",
            &[host, ("origin", "http://evil.example")]
        ));
        assert!(!check(false, "/", &[("sec-fetch-site", "cross-site")]));
        assert!(!check(false, "/", &[("sec-fetch-site", "same-site")]));
        assert!(!check(false, "/", &[host, ("origin", "null")]));
        assert!(
            !check(false, "/", &[("origin", "http://127.0.0.1:3000")]),
            "no authority"
        );
    }

    #[test]
    fn http2s_authority_stands_for_the_missing_host_header() {
        let uri = "https://127.0.0.1:3932/api/session";
        assert!(check(true, uri, &[("origin", "https://127.0.0.1:3932")]));
        assert!(!check(true, uri, &[("origin", "https://127.0.0.1:3933")]));
    }

    #[test]
    fn the_scheme_and_the_default_port_count() {
        let host = ("host", "kaisen.test");
        assert!(!check(
            false,
            "/",
            &[host, ("origin", "https://kaisen.test")]
        ));
        assert!(check(
            false,
            "/",
            &[host, ("origin", "http://kaisen.test:80")]
        ));
        assert!(check(
            true,
            "/",
            &[
                ("host", "kaisen.test:443"),
                ("origin", "https://kaisen.test")
            ]
        ));
    }

    #[test]
    fn a_public_url_is_the_only_origin_accepted() {
        let ours = PublicOrigin::parse("https://kaisen.example.jp:8443").unwrap();
        let with = |origin| headers(&[("host", "127.0.0.1:3000"), ("origin", origin)]);
        assert!(same_origin(
            &with("https://kaisen.example.jp:8443"),
            Some(&ours)
        ));
        assert!(!same_origin(
            &with("https://kaisen.example.jp"),
            Some(&ours)
        ));
        assert!(!same_origin(&with("http://127.0.0.1:3000"), Some(&ours)));
    }

    #[test]
    fn only_json_counts_as_json() {
        assert!(has_content_type(
            &headers(&[("content-type", "application/json; charset=utf-8")]),
            "application/json"
        ));
        assert!(!has_content_type(
            &headers(&[("content-type", "text/plain")]),
            "application/json"
        ));
        assert!(!has_content_type(&headers(&[]), "application/json"));
    }
}

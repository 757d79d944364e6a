//! Cross-site request forgery defence for `/api`, beside the session
//! cookie's `SameSite=Strict`: a state-changing request must come from this
//! origin (by `Sec-Fetch-Site` and `Origin`, when the browser sends them)
//! and, when it has a body, be JSON — which no HTML form and no "simple"
//! cross-site fetch can send.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;

/// Refuses state-changing requests from other sites, and POSTs that are
/// not `application/json` (415).
pub async fn same_origin_json(request: Request, next: Next) -> Result<Response, ApiError> {
    let method = request.method();
    if !(method == Method::GET || method == Method::HEAD || method == Method::OPTIONS) {
        let headers = request.headers();
        if !same_origin(headers) {
            return Err(ApiError::CrossSite);
        }
        if method == Method::POST && !is_json(headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    Ok(next.run(request).await)
}

fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
    {
        return false;
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), Some(host)) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            authority == Some(host)
        }
        (Some(_), None) => false,
        // Not sent by a browser (curl, an operator's script): SameSite=Strict
        // and the JSON rule still hold.
        (None, _) => true,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
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

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&headers(&[])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[("origin", "null")])));
    }

    #[test]
    fn only_json_counts_as_json() {
        assert!(is_json(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(!is_json(&headers(&[("content-type", "text/plain")])));
        assert!(!is_json(&headers(&[])));
    }
}

//! Extractors: JSON bodies that fail with an `ErrorBody`, and the line of
//! the logged-in session.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use shared::domain::CustomerId;

use crate::error::ApiError;
use crate::state::{AppState, now};
use crate::store::rules;

/// `Json` whose rejection is an [`ApiError`], so malformed JSON gets the
/// usual error body.
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(rejection) => {
                tracing::debug!(%rejection, "rejected body");
                Err(ApiError::BadRequest(
                    "リクエストの形式が正しくありません".into(),
                ))
            }
        }
    }
}

/// The line of the session making the request: the only source of which
/// line's data a request may see or change.
#[derive(Debug, Clone)]
pub struct CurrentLine {
    /// The line.
    pub customer_id: CustomerId,
    /// The session's ID.
    pub session_id: String,
}

impl FromRequestParts<AppState> for CurrentLine {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let session_id = jar
            .get(state.config.session_cookie())
            .map(|c| c.value().to_owned())
            .ok_or(ApiError::Unauthenticated)?;
        let store = &state.store;
        let Some(record) = store.session(&session_id).await? else {
            return Err(ApiError::SessionExpired);
        };
        let now = now();
        if rules::session_expired(&record, now, state.config.session_limits()) {
            store.end_session(&session_id).await?;
            return Err(ApiError::SessionExpired);
        }
        // Times are in seconds: within the same second the record would be
        // written unchanged, so it is not written at all.
        if record.last_seen != now {
            store.touch_session(&session_id, now).await?;
        }
        Ok(Self {
            customer_id: record.customer_id,
            session_id,
        })
    }
}

/// The client's address: the connection's peer, or — when the peer is a
/// configured trusted proxy — the last address in `X-Forwarded-For` that is
/// not itself a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

impl ClientAddr {
    /// The client of `request`, which has not been taken apart yet.
    pub fn of(request: &Request, trusted: &[std::net::IpAddr]) -> std::net::IpAddr {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |info| info.0.ip());
        client_addr(peer, request.headers(), trusted)
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
            .ok_or_else(|| ApiError::Internal("no connection info".into()))?;
        Ok(Self(client_addr(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

fn client_addr(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use axum::http::HeaderMap;

    use super::client_addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let peer = ip("203.0.113.9");
        assert_eq!(client_addr(peer, &forwarded("198.51.100.1"), &[]), peer);
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_a_spoofed_prefix_is_skipped() {
        let proxy = ip("10.0.0.2");
        let headers = forwarded("6.6.6.6, 198.51.100.7, 10.0.0.3");
        assert_eq!(
            client_addr(proxy, &headers, &[proxy, ip("10.0.0.3")]),
            ip("198.51.100.7")
        );
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}

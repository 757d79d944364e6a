//! Which URLs a webhook may be sent to.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Checks a provider's `webhook_url`: `https://`, or `http://` only for a
/// loopback host (127.0.0.0/8, `::1`, `localhost`: tests and a provider's
/// own machine); no user name or password, no fragment. The message says
/// what is wrong without repeating the URL (it might hold a password).
pub fn check_webhook_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("the webhook URL is not a URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the webhook URL may not carry a user name or password".into());
    }
    if parsed.fragment().is_some() {
        return Err("the webhook URL may not have a fragment (#…)".into());
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "https" => Err("the webhook URL has no host".into()),
        "http" if parsed.host().is_some_and(|host| is_loopback(&host)) => Ok(parsed),
        "http" => Err(
            "the webhook URL must be https:// (http:// is accepted only for a loopback host: \
             127.0.0.0/8, ::1 or localhost)"
                .into(),
        ),
        other => Err(format!(
            "the webhook URL's scheme {other:?} is not accepted: it must be https://"
        )),
    }
}

/// 127.0.0.0/8, `::1` or `localhost`.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(address) => Ipv4Addr::is_loopback(address),
        Host::Ipv6(address) => Ipv6Addr::is_loopback(address),
    }
}

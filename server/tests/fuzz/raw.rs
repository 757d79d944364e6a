//! A deliberately naive HTTP/1.1 client over a bare TCP stream, so that the
//! fuzz test can send what no well-behaved client would: odd methods, paths
//! that a URL library would normalise (`/api/../x`), raw bytes in the
//! request line, lying `Content-Length`s, duplicate headers. One request per
//! connection (`Connection: close`); the response is read to the end.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request exactly as it goes on the wire (bar `Host` and `Connection`).
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    /// The method token, sent as it is.
    pub method: String,
    /// The request target, sent as it is (may hold any bytes).
    pub target: Vec<u8>,
    /// Header lines, sent in order as `name: value`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body; a `Content-Length` is added unless `headers` carry one or a
    /// `Transfer-Encoding`.
    pub body: Vec<u8>,
    /// Leave out the `Host` header.
    pub no_host: bool,
}

impl RawRequest {
    /// A request without headers or body.
    pub fn new(method: &str, target: impl Into<Vec<u8>>) -> Self {
        Self {
            method: method.to_owned(),
            target: target.into(),
            ..Self::default()
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of the first header `name`, if any.
    pub fn header_value(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !self.no_host {
            out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.has_header("content-length") && !self.has_header("transfer-encoding") {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// A short description for failure reports: the request line, the
    /// headers and the start of the body, lossily decoded.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} {}",
            self.method,
            truncate(&String::from_utf8_lossy(&self.target), 200)
        );
        for (name, value) in &self.headers {
            text.push_str(&format!(
                "\n  {name}: {}",
                truncate(&String::from_utf8_lossy(value), 200)
            ));
        }
        text.push_str(&format!(
            "\n  body ({} bytes): {}",
            self.body.len(),
            truncate(&String::from_utf8_lossy(&self.body), 300)
        ));
        text
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// A final (non-1xx) response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The most response bytes read before giving up on a response.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// Sends `request` on a new connection to `addr` and reads the response to
/// the end of the connection. The body is written while the response is
/// read, so that a server answering early (413) is still heard. An error
/// means no complete response arrived: the connection was dropped, reset,
/// or timed out.
pub async fn send(
    addr: SocketAddr,
    request: &RawRequest,
    timeout: Duration,
) -> Result<RawResponse, String> {
    let bytes = request.to_bytes(&addr.to_string());
    let exchange = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut reader, mut writer) = stream.into_split();
        let write = tokio::spawn(async move {
            // A server that answers before reading everything may reset the
            // connection: that is its right, and shows in the read below.
            let _ = writer.write_all(&bytes).await;
            let _ = writer.flush().await;
            // Keep the write half open (no FIN) until the server closes.
            writer
        });
        let mut received = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let read_error = loop {
            match reader.read(&mut buf).await {
                Ok(0) => break None,
                Ok(n) => {
                    received.extend_from_slice(&buf[..n]);
                    if received.len() > MAX_RESPONSE {
                        return Err(format!("response larger than {MAX_RESPONSE} bytes"));
                    }
                }
                Err(e) => break Some(e),
            }
        };
        write.abort();
        match parse(&received, request.method.eq_ignore_ascii_case("HEAD")) {
            Ok(response) => Ok(response),
            Err(e) => Err(match read_error {
                Some(io) => format!("{e} (after {io}, {} bytes read)", received.len()),
                None => format!("{e} ({} bytes read)", received.len()),
            }),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no response within {timeout:?}"))?
}

/// Parses the bytes of a whole connection: any 1xx interim responses, then
/// one final response.
fn parse(mut data: &[u8], head_request: bool) -> Result<RawResponse, String> {
    loop {
        let end = find(data, b"\r\n\r\n").ok_or("no complete response head")?;
        let head = std::str::from_utf8(&data[..end]).map_err(|_| "response head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let rest = &data[end + 4..];
        if (100..200).contains(&status) {
            data = rest;
            continue;
        }
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let body = if head_request || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            dechunk(rest)?
        } else if let Some(len) = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
        {
            if rest.len() < len {
                return Err(format!(
                    "status {status}: body cut short ({} of {len} bytes)",
                    rest.len()
                ));
            }
            rest[..len].to_vec()
        } else {
            rest.to_vec()
        };
        return Ok(RawResponse {
            status,
            headers,
            body,
        });
    }
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or("chunked body cut short")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_response_after_a_continue_is_read_whole() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n";
        let response = parse(wire, false).unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.body, b"{\"a\"}");
    }
}

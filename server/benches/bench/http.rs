//! A small, bounded HTTP/1.1 load generator on loopback: one keep-alive
//! connection per client, requests one after another on each, latency of
//! every answer recorded. Small enough to cost the server's machine little
//! next to what it measures; every run is bounded in count and in time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (content-length framed).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request (the bytes as they go on the wire) and reads its
    /// answer.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        self.stream.write_all(request).await?;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| std::io::Error::other("a head that is not UTF-8"))?;
                let mut lines = head.split("\r\n");
                let status = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| std::io::Error::other("no status line"))?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Ok(Answer {
                    status,
                    headers,
                    body,
                });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `GET` with a session cookie.
pub fn get(host: SocketAddr, path: &str, session: Option<&str>) -> Vec<u8> {
    let cookie = session.map_or(String::new(), |s| format!("Cookie: kaisen_session={s}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}\r\n").into_bytes()
}

/// A same-origin JSON `POST`, with a session cookie and extra header lines.
pub fn post_json(
    host: SocketAddr,
    path: &str,
    session: Option<&str>,
    extra: &str,
    body: &[u8],
) -> Vec<u8> {
    let cookie = session.map_or(String::new(), |s| format!("Cookie: kaisen_session={s}\r\n"));
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{cookie}{extra}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A login of `customer_id` with `key`; with `from`, claiming that client
/// address through the trusted proxy (`X-Forwarded-For`).
pub fn login(host: SocketAddr, customer_id: &str, key: &str, from: Option<&str>) -> Vec<u8> {
    let body = serde_json::json!({"customer_id": customer_id, "access_key": key});
    let forwarded = from.map_or(String::new(), |a| format!("X-Forwarded-For: {a}\r\n"));
    post_json(
        host,
        "/api/session",
        None,
        &forwarded,
        body.to_string().as_bytes(),
    )
}

/// How much load: so many clients, until so many requests or so much time.
#[derive(Clone, Copy)]
pub struct Plan {
    /// Concurrent connections.
    pub clients: usize,
    /// At most this many requests in all.
    pub requests: usize,
    /// At most this long.
    pub time: Duration,
}

/// What a run measured.
#[derive(Default)]
pub struct Outcome {
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Every answer's latency, sorted.
    pub latencies: Vec<Duration>,
    /// Answers by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer.
    pub errors: usize,
    /// CPU seconds used meanwhile by the servers, the database and the load
    /// generator, when read (see [`Outcome::charge`]).
    pub cpu: [f64; 3],
}

impl Outcome {
    /// Records the CPU time used between two readings.
    pub fn charge(&mut self, before: [f64; 3], after: [f64; 3]) {
        for ((used, b), a) in self.cpu.iter_mut().zip(before).zip(after) {
            *used = a - b;
        }
    }

    /// Answers per second.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Answers with `status` per second.
    pub fn per_second_with(&self, status: u16) -> f64 {
        self.statuses.get(&status).copied().unwrap_or(0) as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q`-quantile latency (nearest rank), in ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    /// Statuses as `201×900 409×3`.
    pub fn statuses(&self) -> String {
        self.listed(|_| true)
    }

    /// The answers other than `expected`, as [`Outcome::statuses`] writes
    /// them; empty when every answer was `expected`.
    pub fn other_than(&self, expected: u16) -> String {
        self.listed(|status| status != expected)
    }

    fn listed(&self, keep: impl Fn(u16) -> bool) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| keep(**s))
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        if self.errors > 0 {
            parts.push(format!("no answer×{}", self.errors));
        }
        parts.join(" ")
    }
}

/// The `q`-quantile (nearest rank) of sorted `samples`, in ms.
pub fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

/// Runs `plan` against the servers at `addrs`, the clients spread evenly
/// (client `c` talks to `addrs[c % addrs.len()]`): client `c`'s `n`-th
/// request (counted over all clients) is `request(addr, c, n)`; `None` ends
/// that client.
pub async fn run(
    addrs: &[SocketAddr],
    plan: Plan,
    request: impl Fn(SocketAddr, usize, usize) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> Outcome {
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..plan.clients)
        .map(|client| {
            let (request, next) = (request.clone(), next.clone());
            let addr = addrs[client % addrs.len()];
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut conn = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= plan.requests || started.elapsed() >= plan.time {
                        break;
                    }
                    let Some(bytes) = request(addr, client, n) else {
                        break;
                    };
                    let sent = Instant::now();
                    let answer = match conn.take() {
                        Some(c) => Ok(c),
                        None => Conn::connect(addr).await,
                    };
                    let answer = match answer {
                        Ok(mut c) => c.send(&bytes).await.map(|a| (a, c)),
                        Err(e) => Err(e),
                    };
                    match answer {
                        Ok((answer, c)) => {
                            outcome.latencies.push(sent.elapsed());
                            *outcome.statuses.entry(answer.status).or_default() += 1;
                            conn = Some(c);
                        }
                        Err(_) => outcome.errors += 1,
                    }
                }
                outcome
            })
        })
        .collect();
    let mut all = Outcome::default();
    for worker in workers {
        let outcome = worker.await.expect("a load worker does not panic");
        all.latencies.extend(outcome.latencies);
        for (status, n) in outcome.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        all.errors += outcome.errors;
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    all
}

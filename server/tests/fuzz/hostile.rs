//! The fuzz test's request generator: from one seeded RNG per request,
//! malformed, oversized, wrongly typed and unicode-hostile requests across
//! every route and method. Request `i` of seed `s` is always the same
//! request, so a failure reproduces from the two numbers.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use shared::api::LoginRequest;
use shared::domain::{AccessKey, CustomerId};

use crate::helpers::{LINE_A, LINE_B};
use crate::raw::RawRequest;

/// The body limit the server promises (`startup::BODY_LIMIT`).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route of `server/src/routes/mod.rs`, with its methods. Keep in
/// step with the router (the access-control test checks that list against
/// the source).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/session", &["POST", "GET", "DELETE"]),
    ("/api/line", &["GET"]),
    ("/api/notifications", &["GET"]),
    ("/api/providers", &["GET"]),
    ("/api/consent", &["GET"]),
    ("/api/applications", &["POST", "GET"]),
    ("/api/applications/{id}", &["GET"]),
];

/// What the generator knows of the running app.
pub struct Context {
    /// Session IDs of lines A and B, made before the storm, never logged
    /// out by it.
    pub sessions: Vec<String>,
    /// More sessions, for the storm's logouts to end.
    pub disposable: Vec<String>,
    /// The consent hash in force.
    pub consent_hash: String,
}

/// One generated request.
pub struct Case {
    /// What kind of hostility it carries, for the counts.
    pub category: &'static str,
    /// The request.
    pub request: RawRequest,
}

/// Request `index` of `seed`.
pub fn case(seed: u64, index: u64, ctx: &Context) -> Case {
    let mut rng = StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let roll = rng.random_range(0..100);
    let (category, mut request) = match roll {
        0..25 => ("json", json_case(&mut rng, ctx)),
        25..35 => ("malformed", malformed_case(&mut rng, ctx)),
        35..38 => ("oversized", oversized_case(&mut rng, ctx)),
        38..43 => ("content_type", content_type_case(&mut rng, ctx)),
        43..51 => ("method", method_case(&mut rng, ctx)),
        51..63 => ("path", path_case(&mut rng, ctx)),
        63..70 => ("query", query_case(&mut rng, ctx)),
        70..78 => ("cookie", cookie_case(&mut rng, ctx)),
        78..85 => ("headers", headers_case(&mut rng, ctx)),
        85..98 => ("valid", valid_case(&mut rng, ctx)),
        _ => ("credentials", credentials_case(&mut rng, ctx)),
    };
    route_logins_through_proxy_pool(&mut rng, &mut request);
    spare_the_sessions_from_logouts(&mut rng, ctx, &mut request);
    Case { category, request }
}

/// Whether the router sends `request` to the logout handler.
fn is_logout(request: &RawRequest) -> bool {
    request.method == "DELETE" && route_path(&request.target) == "/api/session"
}

/// A logout ends the session it names: the storm's logouts get one of the
/// disposable sessions instead, so that the rest of the storm keeps
/// running logged in.
fn spare_the_sessions_from_logouts(rng: &mut StdRng, ctx: &Context, request: &mut RawRequest) {
    if !is_logout(request) {
        return;
    }
    for (name, value) in &mut request.headers {
        if !name.eq_ignore_ascii_case("cookie") {
            continue;
        }
        let mut text = String::from_utf8_lossy(value).into_owned();
        for id in &ctx.sessions {
            if text.contains(id.as_str()) {
                let spare = ctx.disposable.choose(rng).cloned().unwrap_or_default();
                text = text.replace(id.as_str(), &spare);
            }
        }
        if String::from_utf8_lossy(value) != text {
            *value = text.into_bytes();
        }
    }
}

// ----- the pieces -----------------------------------------------------------

/// Strings that break naive code: NUL, bidi overrides, combining marks,
/// emoji, full-width forms, NFKC expanders, markup, very long ones.
pub fn hostile_string(rng: &mut impl Rng) -> String {
    const FIXED: &[&str] = &[
        "",
        " ",
        "\0",
        "a\0b",
        "\u{202E}olleh\u{202C}",
        "山田\u{202E}郎太",
        "\u{2066}\u{2067}\u{2068}\u{2069}",
        "\u{200B}",
        "\u{200D}\u{200C}\u{FEFF}",
        "\u{FEFF}山田 太郎",
        "\u{FFFD}\u{FFFF}\u{FFFE}",
        "\u{10FFFF}",
        "💩",
        "👨‍👩‍👧‍👦🏳️‍🌈",
        "ＣＡＦ０００００００００１",
        "caf0000000001",
        " CAF0000000001 ",
        "CAF00000000001",
        "CAF000000000",
        "①②③",
        "㍻㈱㎝",
        "～∥－―¢£¬",
        "ｶﾞｷﾞｸﾞ",
        "髙﨑",
        "<script>alert(1)</script>",
        "' OR '1'='1' --",
        "${jndi:ldap://127.0.0.1/x}",
        "../../etc/passwd",
        "%00%2e%2e",
        "\r\nSet-Cookie: kaisen_session=x",
        "\t\n\r\u{b}\u{c}",
        "\u{7}\u{1b}[31m",
        "\u{7f}\u{80}\u{85}\u{9f}",
        "\u{2028}\u{2029}",
        "\u{1F1EF}\u{1F1F5}",
        "0",
        "-1",
        "null",
        "true",
        "{}",
        "[]",
        "03-1234-5678",
        "０３－１２３４－５６７８",
        "taro@example.jp",
        "taro@docomo.ne.jp",
        "a@b",
        "@",
        "山田 太郎",
    ];
    match rng.random_range(0..10) {
        0..5 => (*FIXED.choose(rng).unwrap_or(&"")).to_owned(),
        5 => {
            // A long run of one hostile character.
            let ch = *[
                'A', '山', '\u{301}', '\u{FDFA}', '💩', '\u{202E}', '\u{200B}', '0', '①', 'ｶ',
            ]
            .choose(rng)
            .unwrap_or(&'A');
            let n = *[31, 256, 1_000, 10_000, 20_000].choose(rng).unwrap_or(&31);
            std::iter::repeat_n(ch, n).collect()
        }
        6 => {
            // A base letter under a pile of combining marks.
            let marks = rng.random_range(1..2_000);
            let mut s = String::from("e");
            s.extend(std::iter::repeat_n('\u{301}', marks));
            s
        }
        _ => random_chars(rng, 0..64),
    }
}

/// Names that look harmless to a length check and may pass the rules.
const ODD_NAMES: &[&str] = &[
    "山田\u{202E}郎太",
    "\u{2066}山田\u{2069} 太郎",
    "山田\u{200B}太郎",
    "\u{200B}",
    "\u{FEFF}",
    "\u{200D}\u{200D}",
    "e\u{301}\u{301}\u{301}\u{301}",
    "\u{301}",
    "💩",
    "👨‍👩‍👧‍👦 山田",
    "\u{1F1EF}\u{1F1F5}",
    "\u{FDFA}",
    "\u{FDFA}\u{FDFA}",
    "ｶﾞｷﾞ ﾀﾛｳ",
    "Ｔａｒｏ",
    "\u{3000}山田\u{3000}",
    "\u{10FFFF}",
    "\u{E000}",
];

/// `len` characters drawn from an alphabet of troublemakers.
fn random_chars(rng: &mut impl Rng, len: std::ops::Range<usize>) -> String {
    let len = rng.random_range(len);
    const POOL: &[char] = &[
        'a',
        'Z',
        '0',
        '9',
        '-',
        '_',
        '@',
        '.',
        ' ',
        '\u{3000}',
        '山',
        '田',
        '髙',
        'ｱ',
        'ﾞ',
        'Ａ',
        '１',
        '\0',
        '\u{1}',
        '\u{1f}',
        '\u{7f}',
        '\u{85}',
        '\u{202E}',
        '\u{200B}',
        '\u{FEFF}',
        '\u{301}',
        '\u{FDFA}',
        '💩',
        '\u{10FFFF}',
        '①',
        '㈱',
        '～',
        '<',
        '>',
        '"',
        '\'',
        '\\',
        '&',
        '|',
        '/',
        '%',
        '\n',
        '\r',
        '\t',
        '{',
        '}',
        '[',
        ']',
        ':',
        ',',
    ];
    (0..len)
        .map(|_| *POOL.choose(rng).unwrap_or(&'a'))
        .collect()
}

/// A JSON value of the wrong shape or type, or a hostile string.
fn hostile_value(rng: &mut impl Rng, depth: u32) -> Value {
    match rng.random_range(0..14) {
        0..5 => Value::String(hostile_string(rng)),
        5 => json!(null),
        6 => json!(rng.random_bool(0.5)),
        7 => json!(*[0i64, -1, 1, i64::MIN, i64::MAX].choose(rng).unwrap_or(&0)),
        8 => json!(*[u64::MAX, 4_294_967_296].choose(rng).unwrap_or(&u64::MAX)),
        9 => json!(
            *[1.5f64, -0.0, 1e308, -1e-308, 0.1]
                .choose(rng)
                .unwrap_or(&1.5)
        ),
        10 if depth < 3 => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| hostile_value(rng, depth + 1))
                .collect(),
        ),
        11 if depth < 3 => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..4) {
                map.insert(hostile_string(rng), hostile_value(rng, depth + 1));
            }
            Value::Object(map)
        }
        12 => json!([]),
        _ => json!({}),
    }
}

/// A valid idempotency key.
fn idempotency_key(rng: &mut impl Rng) -> String {
    format!("fuzz-{:032x}", rng.random::<u128>())
}

/// A provider the fuzz may really apply for: W0001 to W0030. Later ones
/// are kept for the checks after the storm.
fn fuzz_provider(rng: &mut impl Rng) -> String {
    format!("W{:04}", rng.random_range(1..=30))
}

fn valid_applicant(rng: &mut impl Rng) -> Value {
    let wants_mail = rng.random_bool(0.5);
    json!({
        "name": *["山田 太郎", "髙﨑 花子", "ﾔﾏﾀﾞ ﾀﾛｳ", "Taro Yamada"].choose(rng).unwrap_or(&"山田 太郎"),
        "phone": *["03-1234-5678", "09012345678", "０３１２３４５６７８"].choose(rng).unwrap_or(&"03-1234-5678"),
        "email": if wants_mail { "taro@example.jp" } else { "" },
        "wants_mail": wants_mail,
    })
}

/// A draft that passes every rule, unless the provider is busy or set.
fn valid_draft(rng: &mut impl Rng, ctx: &Context) -> Value {
    let providers: Vec<String> = (0..rng.random_range(1..4))
        .map(|_| fuzz_provider(rng))
        .collect();
    json!({
        "idempotency_key": idempotency_key(rng),
        "consent_hash": ctx.consent_hash,
        "setting": *["notify", "do_not_notify"].choose(rng).unwrap_or(&"notify"),
        "providers": providers,
        "applicant": valid_applicant(rng),
    })
}

/// A random CAF customer ID that is neither fixture line, written as a
/// subscriber might type it.
fn stranger_id(rng: &mut impl Rng) -> String {
    let digits = format!("9{:09}", rng.random_range(0..1_000_000_000u32));
    match rng.random_range(0..4) {
        0 => format!("caf{digits}"),
        1 => format!("  CAF{digits}\u{3000}"),
        2 => format!("CAF{digits}")
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
            .collect(),
        _ => format!("CAF{digits}"),
    }
}

fn login_body(rng: &mut impl Rng) -> Value {
    let customer_id = match rng.random_range(0..4) {
        0 => stranger_id(rng),
        1 => (*[LINE_A, LINE_B].choose(rng).unwrap_or(&LINE_A)).to_owned(),
        _ => hostile_string(rng),
    };
    let access_key = if rng.random_bool(0.5) {
        random_chars(rng, 1..20)
    } else {
        hostile_string(rng)
    };
    json!({"customer_id": customer_id, "access_key": access_key})
}

/// A session cookie: one of the lines' sessions, or none.
fn session_cookie(rng: &mut impl Rng, ctx: &Context) -> Option<Vec<u8>> {
    if rng.random_bool(0.7) {
        ctx.sessions
            .choose(rng)
            .map(|id| format!("kaisen_session={id}").into_bytes())
    } else {
        None
    }
}

fn with_session(rng: &mut impl Rng, ctx: &Context, request: RawRequest) -> RawRequest {
    match session_cookie(rng, ctx) {
        Some(cookie) => request.header("Cookie", cookie),
        None => request,
    }
}

/// A JSON POST as the client sends it.
fn json_post(path: &str, body: impl Into<Vec<u8>>) -> RawRequest {
    RawRequest::new("POST", path)
        .header("Content-Type", "application/json")
        .body(body)
}

/// A route's path with a concrete application ID.
fn concrete(rng: &mut impl Rng, path: &str) -> String {
    if path.contains("{id}") {
        path.replace("{id}", &application_id_text(rng))
    } else {
        path.to_owned()
    }
}

/// An application ID as text: valid-looking or not.
fn application_id_text(rng: &mut impl Rng) -> String {
    let digits: String = (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    match rng.random_range(0..8) {
        0..3 => digits,
        3 => format!(
            "{}-{}-{}-{}",
            &digits[..4],
            &digits[4..8],
            &digits[8..12],
            &digits[12..]
        ),
        4 => format!("{}%20{}", &digits[..8], &digits[8..]),
        5 => "9".repeat(rng.random_range(17..40)),
        6 => format!("-{digits}"),
        _ => "0".repeat(16),
    }
}

// ----- the categories -------------------------------------------------------

/// A POST route's body, parsed from a valid template and then bent: fields
/// replaced by wrong types or hostile strings, removed, doubled, nested.
fn json_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let (path, mut body) = if rng.random_bool(0.4) {
        ("/api/session", login_body(rng))
    } else {
        ("/api/applications", valid_draft(rng, ctx))
    };
    for _ in 0..rng.random_range(1..4) {
        mutate(rng, &mut body);
    }
    let text = serde_json::to_vec(&body).unwrap_or_default();
    with_session(rng, ctx, json_post(path, text))
}

fn mutate(rng: &mut StdRng, body: &mut Value) {
    const FIELDS: &[&str] = &[
        "customer_id",
        "access_key",
        "idempotency_key",
        "consent_hash",
        "setting",
        "providers",
        "applicant",
        "applicant.name",
        "applicant.phone",
        "applicant.email",
        "applicant.wants_mail",
        "providers.0",
    ];
    let field = *FIELDS.choose(rng).unwrap_or(&"setting");
    let target = match field.split_once('.') {
        Some((outer, inner)) => match body.get_mut(outer) {
            Some(Value::Object(map)) => map.get_mut(inner),
            Some(Value::Array(items)) => items.get_mut(0),
            _ => None,
        },
        None => body.get_mut(field),
    };
    match (rng.random_range(0..10), target) {
        (0..5, Some(value)) => *value = hostile_value(rng, 0),
        (5, Some(value)) => *value = Value::String(hostile_string(rng)),
        (6, _) => {
            let key = field.rsplit('.').next().unwrap_or(field);
            match field.split_once('.') {
                Some((outer, _)) => {
                    if let Some(Value::Object(map)) = body.get_mut(outer) {
                        map.remove(key);
                    }
                }
                None => {
                    if let Value::Object(map) = body {
                        map.remove(key);
                    }
                }
            }
        }
        (7, _) => {
            if let Value::Object(map) = body {
                map.insert(hostile_string(rng), hostile_value(rng, 0));
            }
        }
        (8, _) => {
            if let Some(Value::Array(items)) = body.get_mut("providers") {
                // W0000 (unknown) to W0030: W0031 and later stay free for
                // the checks after the storm.
                let extra = rng.random_range(1..300);
                items.extend((0..extra).map(|i| json!(format!("W{:04}", i % 31))));
            }
        }
        _ => *body = hostile_value(rng, 0),
    }
}

/// Bodies that are not JSON, or not quite: cut short, bad escapes, lone
/// surrogates, invalid UTF-8, deep nesting, duplicate keys, comments.
fn malformed_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let path = *["/api/session", "/api/applications"]
        .choose(rng)
        .unwrap_or(&"/api/session");
    let good = if path == "/api/session" {
        login_body(rng)
    } else {
        valid_draft(rng, ctx)
    };
    let text = serde_json::to_string(&good).unwrap_or_default();
    let body: Vec<u8> = match rng.random_range(0..16) {
        0 => {
            let cut = rng.random_range(0..text.len().max(1));
            text.as_bytes()[..cut].to_vec()
        }
        1 => text.replacen("\":\"", "\":\"\\ud800", 1).into_bytes(),
        2 => text
            .replacen("\":\"", "\":\"\\udfff\\ud800", 1)
            .into_bytes(),
        3 => text.replacen("\":\"", "\":\"\\u00", 1).into_bytes(),
        4 => text.replacen("\":\"", "\":\"\\x41", 1).into_bytes(),
        5 => {
            let mut bytes = text.into_bytes();
            let at = rng.random_range(0..bytes.len().max(1));
            bytes.insert(
                at,
                *[0xFF, 0xC0, 0x80, 0xED, 0x00].choose(rng).unwrap_or(&0xFF),
            );
            bytes
        }
        6 => {
            let depth = *[129, 1_000, 30_000].choose(rng).unwrap_or(&1_000);
            let mut s = "[".repeat(depth);
            s.push_str(&"]".repeat(depth));
            s.into_bytes()
        }
        7 => {
            let depth = *[129, 1_000, 10_000].choose(rng).unwrap_or(&1_000);
            let mut s = "{\"a\":".repeat(depth);
            s.push('1');
            s.push_str(&"}".repeat(depth));
            s.into_bytes()
        }
        8 => text
            .replacen('}', ",\"customer_id\":\"x\",\"setting\":1}", 1)
            .into_bytes(),
        9 => format!("{}// comment\n", text).into_bytes(),
        10 => format!("\u{FEFF}{text}").into_bytes(),
        11 => text.replace('"', "'").into_bytes(),
        12 => (*[
            "", " ", "null", "[]", "0", "\"\"", "NaN", "Infinity", "{", "}",
        ]
        .choose(rng)
        .unwrap_or(&""))
        .as_bytes()
        .to_vec(),
        13 => (0..rng.random_range(1..2_000))
            .map(|_| rng.random::<u8>())
            .collect(),
        14 => format!("{text}{text}").into_bytes(),
        _ => text.replacen(',', ",,", 1).into_bytes(),
    };
    with_session(rng, ctx, json_post(path, body))
}

/// Bodies over the 64 KiB limit, with a length or chunked; and some just
/// under it.
fn oversized_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let path = *["/api/session", "/api/applications", "/api/line"]
        .choose(rng)
        .unwrap_or(&"/api/session");
    let size = *[
        BODY_LIMIT - 100,
        BODY_LIMIT + 1,
        BODY_LIMIT * 2,
        256 * 1024,
        1024 * 1024,
    ]
    .choose(rng)
    .unwrap_or(&(BODY_LIMIT + 1));
    // JSON-safe fillers, spliced in as text (serialising megabytes through
    // serde_json in a debug build costs more than the whole request).
    let filler = *["A", "山", "\\u0000", "💩"].choose(rng).unwrap_or(&"A");
    let mut huge = String::with_capacity(size + 8);
    while huge.len() < size {
        huge.push_str(filler);
    }
    let template = if path == "/api/session" {
        json!({"customer_id": "HUGE", "access_key": "x"})
    } else {
        let mut draft = valid_draft(rng, ctx);
        draft["applicant"]["name"] = json!("HUGE");
        draft
    };
    let text = serde_json::to_string(&template)
        .unwrap_or_default()
        .replacen("\"HUGE\"", &format!("\"{huge}\""), 1)
        .into_bytes();
    let method = if path == "/api/line" { "GET" } else { "POST" };
    let request = RawRequest::new(method, path).header("Content-Type", "application/json");
    let request = if rng.random_bool(0.3) {
        request
            .header("Transfer-Encoding", "chunked")
            .body(chunked(rng, &text))
    } else {
        request.body(text)
    };
    with_session(rng, ctx, request)
}

/// `body` in chunks of random sizes.
fn chunked(rng: &mut impl Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut rest = body;
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len().min(20_000));
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Valid JSON under a content type that is not JSON, or is oddly spelt.
fn content_type_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let (path, body) = if rng.random_bool(0.5) {
        ("/api/session", login_body(rng))
    } else {
        ("/api/applications", valid_draft(rng, ctx))
    };
    let request = RawRequest::new("POST", path).body(serde_json::to_vec(&body).unwrap_or_default());
    let request = match rng.random_range(0..16) {
        0 => request,
        1 => request.header("Content-Type", "text/plain"),
        2 => request.header("Content-Type", "application/x-www-form-urlencoded"),
        3 => request.header("Content-Type", "multipart/form-data; boundary=xyz"),
        4 => request.header("Content-Type", "application/json; charset=utf-16"),
        5 => request.header("Content-Type", "application/json; charset=latin1"),
        6 => request.header("Content-Type", "APPLICATION/JSON"),
        7 => request.header("Content-Type", "application/jsonx"),
        8 => request.header("Content-Type", "application/problem+json"),
        9 => request.header("Content-Type", ""),
        10 => request.header("Content-Type", "application/json, text/plain"),
        11 => request
            .header("Content-Type", "text/plain")
            .header("Content-Type", "application/json"),
        12 => request.header("Content-Type", "application/json".repeat(500)),
        13 => request.header("Content-Type", b"application/json\xff".to_vec()),
        14 => request.header("Content-Type", ";;;/"),
        _ => request.header("Content-Type", "*/*"),
    };
    with_session(rng, ctx, request)
}

/// Every route and some that are not, under methods it does not take,
/// odd ones and lower-case ones.
fn method_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let (path, _) = *ROUTES.choose(rng).unwrap_or(&ROUTES[0]);
    let path = concrete(rng, path);
    let method = *[
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "FOO",
        "get", "post", "MKCOL", "LINK", "M-SEARCH", "QUERY",
    ]
    .choose(rng)
    .unwrap_or(&"PUT");
    let long_method;
    let method = if rng.random_range(0..20) == 0 {
        long_method = "X".repeat(rng.random_range(100..5_000));
        long_method.as_str()
    } else {
        method
    };
    let mut request = RawRequest::new(method, path);
    if rng.random_bool(0.5) {
        request = request
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&valid_draft(rng, ctx)).unwrap_or_default());
    }
    with_session(rng, ctx, request)
}

/// Traversal, encoded bytes, NUL, emoji, absolute-form and very long paths.
fn path_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    const FIXED: &[&str] = &[
        "/api/applications/../../etc/passwd",
        "/api/applications/..%2f..%2fetc%2fpasswd",
        "/api/applications/%2e%2e/%2e%2e/etc/passwd",
        "/api/../../etc/passwd",
        "/api/..%2f..%2fetc/passwd",
        "/../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%5c..%5c..%5cwindows%5cwin.ini",
        "/assets/app.js/..",
        "/assets/app.js%00.html",
        "/assets/../index.html",
        "/assets/%2e%2e/Cargo.toml",
        "/index.html%00",
        "/.%2e/.%2e/Cargo.toml",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/api/line%00",
        "/api/line%00/",
        "/api/applications/%00",
        "/api/applications/%F0%9F%92%A9",
        "/api/applications/%FF%FE%FD",
        "/api/applications/%C0%AE%C0%AE",
        "/api/applications/%ED%A0%80",
        "/api/applications/%",
        "/api/applications/%zz",
        "/api/applications/%2F",
        "/api/applications/1%2F2",
        "/api/applications/%20",
        "/api/applications/",
        "/api/applications//",
        "/api/applications/1/2",
        "/api/applications/%EF%BC%91%EF%BC%92",
        "/api//line",
        "//api/line",
        "/api/line/",
        "/API/LINE",
        "/api/line;jsessionid=0",
        "/api/%6cine",
        "/api/%2e%2e/line",
        "/api/./line",
        "/api",
        "/api/",
        "/api?",
        "/api/session/..",
        "/api/providers/../line",
        "/%",
        "/",
        "/index.html",
        "/assets/app.js",
        "/assets/",
        "/assets",
        "/app.js",
        "/mail",
        "/a/b/c/d/e/f/g",
        "http://evil.example/api/line",
        "http://127.0.0.1/api/session",
        "https://[::1]/api/applications",
    ];
    let target: Vec<u8> = match rng.random_range(0..10) {
        0..5 => FIXED.choose(rng).unwrap_or(&"/").as_bytes().to_vec(),
        5 => {
            let n = *[1_000, 8_000, 30_000, 60_000].choose(rng).unwrap_or(&1_000);
            let filler = *["a", "9", "%41", "../", "%F0%9F%92%A9"]
                .choose(rng)
                .unwrap_or(&"a");
            let mut s = String::from("/api/applications/");
            while s.len() < n {
                s.push_str(filler);
            }
            s.into_bytes()
        }
        6 => {
            // Raw bytes a URL library would never send.
            let mut bytes = b"/api/applications/".to_vec();
            bytes.extend_from_slice(
                [
                    "ＣＡＦ".as_bytes(),
                    b"\xff\xfe",
                    b"\x00",
                    b"a b",
                    b"\x7f",
                    b"\"<>",
                    b"{}|\\^`",
                ]
                .choose(rng)
                .copied()
                .unwrap_or(b"\xff"),
            );
            bytes
        }
        7 => format!("/api/applications/{}", application_id_text(rng)).into_bytes(),
        _ => {
            const SEGMENTS: &[&str] = &[
                "api",
                "applications",
                "session",
                "line",
                "providers",
                "..",
                ".",
                "%2e%2e",
                "%2f",
                "%00",
                "",
                "~",
                "etc",
                "passwd",
                "%F0%9F%92%A9",
                "%5c",
                "%25",
                "0",
                "index.html",
                "assets",
                "app.js",
            ];
            let mut s = String::new();
            for _ in 0..rng.random_range(1..8) {
                s.push('/');
                s.push_str(SEGMENTS.choose(rng).unwrap_or(&"api"));
            }
            s.into_bytes()
        }
    };
    let method = *["GET", "GET", "GET", "POST", "DELETE", "HEAD"]
        .choose(rng)
        .unwrap_or(&"GET");
    let mut request = RawRequest::new(method, target);
    if method == "POST" {
        request = request
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&valid_draft(rng, ctx)).unwrap_or_default());
    }
    with_session(rng, ctx, request)
}

/// Page numbers that are not, and query strings on every route.
fn query_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    const QUERIES: &[&str] = &[
        "page=-1",
        "page=0",
        "page=1",
        "page=3",
        "page=4",
        "page=99999999999",
        "page=4294967295",
        "page=4294967296",
        "page=18446744073709551616",
        "page=abc",
        "page=1.5",
        "page=1e3",
        "page=0x10",
        "page=+1",
        "page=%201",
        "page=",
        "page",
        "page=1&page=2",
        "page[]=1",
        "page[x]=1",
        "page=%00",
        "page=%FF",
        "page=%EF%BC%91",
        "page=1%00",
        "=",
        "&&&",
        "%%%",
        "page=1#fragment",
        "customer_id=CAF0000000002",
        "page=2&customer_id=CAF0000000001",
    ];
    let query = match rng.random_range(0..8) {
        0 => "a=b&".repeat(rng.random_range(100..5_000)),
        1 => format!("page={}", "9".repeat(rng.random_range(20..10_000))),
        _ => (*QUERIES.choose(rng).unwrap_or(&"page=-1")).to_owned(),
    };
    let path = if rng.random_bool(0.7) {
        "/api/providers".to_owned()
    } else {
        let (path, _) = *ROUTES.choose(rng).unwrap_or(&ROUTES[0]);
        concrete(rng, path)
    };
    with_session(rng, ctx, RawRequest::new("GET", format!("{path}?{query}")))
}

/// Garbage, long, duplicated and malformed session cookies.
fn cookie_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let valid = ctx.sessions.choose(rng).cloned().unwrap_or_default();
    let cookie: Vec<u8> = match rng.random_range(0..16) {
        0 => b"kaisen_session=".to_vec(),
        1 => b"kaisen_session".to_vec(),
        2 => format!("kaisen_session={:032x}", rng.random::<u128>()).into_bytes(),
        3 => format!("kaisen_session={}", valid.to_uppercase()).into_bytes(),
        4 => format!("kaisen_session={valid}x").into_bytes(),
        5 => format!("kaisen_session={}", &valid[..valid.len().min(31)]).into_bytes(),
        6 => format!(
            "kaisen_session={}",
            "a".repeat(*[1_000, 8_000, 16_000].choose(rng).unwrap_or(&1_000))
        )
        .into_bytes(),
        7 => format!("kaisen_session=garbage; kaisen_session={valid}").into_bytes(),
        8 => format!("kaisen_session={valid}; kaisen_session=garbage").into_bytes(),
        9 => b"kaisen_session=\xff\xfe\x80".to_vec(),
        10 => b"kaisen_session=\"quoted\"".to_vec(),
        11 => b";;;;=;=;".to_vec(),
        12 => (0..200)
            .map(|i| format!("c{i}=v{i}"))
            .collect::<Vec<_>>()
            .join("; ")
            .into_bytes(),
        13 => format!("kaisen_session={}", hostile_string(rng)).into_bytes(),
        14 => format!("kaisen_session=../../{valid}").into_bytes(),
        _ => format!("KAISEN_SESSION={valid}").into_bytes(),
    };
    let (path, methods) = *ROUTES.choose(rng).unwrap_or(&ROUTES[0]);
    let method = *methods.choose(rng).unwrap_or(&"GET");
    let mut request = RawRequest::new(method, concrete(rng, path));
    if method == "POST" {
        request = request
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&valid_draft(rng, ctx)).unwrap_or_default());
    }
    // Sometimes the cookie is split over two headers, one of them valid.
    if rng.random_bool(0.2) {
        request = request.header("Cookie", format!("kaisen_session={valid}"));
    }
    request.header("Cookie", cookie)
}

/// Cross-site origins, odd hosts, forwarded-for garbage, framing tricks.
fn headers_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let (path, methods) = *ROUTES.choose(rng).unwrap_or(&ROUTES[0]);
    let method = *methods.choose(rng).unwrap_or(&"GET");
    let mut request = RawRequest::new(method, concrete(rng, path));
    let is_login = method == "POST" && path == "/api/session";
    if method == "POST" {
        // A login body that cannot parse: header tricks must not count as
        // failed logins of this test's own address.
        let body = if is_login {
            b"{\"customer_id\":1}".to_vec()
        } else {
            serde_json::to_vec(&valid_draft(rng, ctx)).unwrap_or_default()
        };
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    request = match rng.random_range(0..18) {
        0 => request.header("Origin", "http://evil.example"),
        1 => request.header("Origin", "null"),
        2 => request.header("Sec-Fetch-Site", "cross-site"),
        3 => request.header("Sec-Fetch-Site", "same-site"),
        4 => request.header("Sec-Fetch-Site", "none"),
        5 => {
            request.no_host = true;
            request.header("Origin", "http://127.0.0.1")
        }
        6 => request.header("Host", "evil.example"),
        7 => request.header("X-Forwarded-For", hostile_string(rng)),
        8 => request.header("X-Forwarded-For", "1.2.3.4, ::1, 999.1.1.1, , ,"),
        9 => request.header("X-Forwarded-For", "127.0.0.1, ".repeat(1_000)),
        10 => request.header("Expect", "100-continue"),
        11 => request.header("Content-Length", "abc"),
        12 => request
            .header("Content-Length", "5")
            .header("Content-Length", "6"),
        13 => request
            .header("Transfer-Encoding", "chunked")
            .header("Content-Length", "3"),
        14 => request.header("Transfer-Encoding", "gzip, chunked"),
        15 => {
            for i in 0..90 {
                request = request.header(&format!("X-Junk-{i}"), "y".repeat(100));
            }
            request
        }
        16 => request.header("Content-Encoding", "gzip"),
        _ => request.header("Accept", "text/html"),
    };
    with_session(rng, ctx, request)
}

/// Ordinary requests, so that the storm also runs through the happy paths
/// (and really stores applications with hostile-but-valid names).
fn valid_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let cookie = ctx.sessions.choose(rng).cloned().unwrap_or_default();
    let request = match rng.random_range(0..9) {
        0 => RawRequest::new("GET", "/api/session"),
        1 => RawRequest::new("GET", "/api/line"),
        2 => RawRequest::new("GET", "/api/notifications"),
        3 => RawRequest::new(
            "GET",
            format!("/api/providers?page={}", rng.random_range(1..4)),
        ),
        4 => RawRequest::new("GET", "/api/consent"),
        5 => RawRequest::new("GET", "/api/applications"),
        6 => RawRequest::new(
            "GET",
            format!("/api/applications/{}", application_id_text(rng)),
        ),
        _ => {
            let mut draft = valid_draft(rng, ctx);
            if rng.random_bool(0.5) {
                // A name within 30 characters that the rules may accept:
                // emoji, combining marks, bidi and zero-width characters.
                let name = if rng.random_bool(0.5) {
                    (*ODD_NAMES.choose(rng).unwrap_or(&"💩")).to_owned()
                } else {
                    random_chars(rng, 1..31)
                };
                draft["applicant"]["name"] = Value::String(name);
            }
            json_post(
                "/api/applications",
                serde_json::to_vec(&draft).unwrap_or_default(),
            )
        }
    };
    request.header("Cookie", format!("kaisen_session={cookie}"))
}

/// Well-formed logins whose strings are hostile: they reach the handler,
/// the lockout counters and (when they parse) Argon2.
fn credentials_case(rng: &mut StdRng, ctx: &Context) -> RawRequest {
    let mut body = login_body(rng);
    if rng.random_bool(0.2) {
        body["extra"] = hostile_value(rng, 0);
    }
    let request = json_post(
        "/api/session",
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    with_session(rng, ctx, request)
}

// ----- keeping the storm's logins from locking the fixture out -------------

/// Whether `request` is a POST that the router sends to the login handler.
pub fn is_login(request: &RawRequest) -> bool {
    request.method == "POST" && route_path(&request.target) == "/api/session"
}

/// Whether `request` is a login whose customer ID and key both parse, so
/// that the server runs Argon2 for it.
pub fn checks_a_key(request: &RawRequest) -> bool {
    is_login(request)
        && serde_json::from_slice::<LoginRequest>(&request.body).is_ok_and(|login| {
            CustomerId::parse(&login.customer_id).is_ok()
                && AccessKey::parse(&login.access_key).is_ok()
        })
}

/// The path the router matches: the target without scheme, authority,
/// query or fragment.
pub fn route_path(target: &[u8]) -> String {
    let text = String::from_utf8_lossy(target);
    let path = match text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => &text,
    };
    path.split(['?', '#']).next().unwrap_or("").to_owned()
}

/// Every login is sent as if through the trusted proxy (127.0.0.1) for one
/// of many client addresses, so that the per-address failure limit (30 in
/// 10 minutes) is spread; and a login that would really check a key of
/// line A or B gets an unparseable key instead, so that neither fixture
/// line is locked by the storm.
fn route_logins_through_proxy_pool(rng: &mut StdRng, request: &mut RawRequest) {
    if !is_login(request) {
        return;
    }
    let garbage_forwarded = request
        .header_value("x-forwarded-for")
        .is_some_and(|v| !v.starts_with(b"198.18."));
    if !garbage_forwarded {
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("x-forwarded-for"));
        let client = format!(
            "198.18.{}.{}",
            rng.random_range(0..4),
            rng.random_range(1..255)
        );
        request
            .headers
            .push(("X-Forwarded-For".into(), client.into_bytes()));
    }
    let Ok(mut login) = serde_json::from_slice::<Value>(&request.body) else {
        return;
    };
    let Ok(parsed) = serde_json::from_value::<LoginRequest>(login.clone()) else {
        return;
    };
    let fixture_line = CustomerId::parse(&parsed.customer_id)
        .is_ok_and(|id| id.as_str() == LINE_A || id.as_str() == LINE_B);
    if fixture_line && AccessKey::parse(&parsed.access_key).is_ok() {
        login["access_key"] = json!("\u{0}not a key");
        request.body = serde_json::to_vec(&login).unwrap_or_default();
    }
    if garbage_forwarded {
        // Its failure would count against this test's own address.
        login["customer_id"] = json!(1);
        request.body = serde_json::to_vec(&login).unwrap_or_default();
    }
}

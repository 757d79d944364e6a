//! The demo data set loaded by `serve --demo` into an empty database: a few
//! lines (credentials in the README) and enough providers that S3 pages.

use serde_json::{Value, json};

use crate::import::ImportFile;

/// Service kinds, and the stems of the providers' names: every provider's
/// name is unique, so a subscriber (and a test) can tell them apart.
const SERVICES: &[&str] = &[
    "IP電話",
    "インターネット接続",
    "映像配信",
    "セキュリティ対策",
    "リモートサポート",
    "クラウドストレージ",
];
const STEMS: &[&str] = &[
    "西日本",
    "さくら",
    "みなと",
    "あおば",
    "ひかり",
    "つばめ",
    "こだま",
    "やまびこ",
];
/// Why each kind of service receives the customer ID (利用目的).
const PURPOSES: &[&str] = &[
    "IP電話サービスのご契約者さまの確認のため",
    "接続サービスのご契約回線の確認のため",
    "映像配信サービスのご視聴契約の確認のため",
    "セキュリティ対策サービスのご契約回線の確認のため",
    "リモートサポートのご本人確認のため",
    "クラウドストレージのご契約者さまの確認のため",
];
const KINDS: &[&str] = &[
    "テレコム",
    "ネットワークス",
    "メディア",
    "データサービス",
    "コミュニケーションズ",
    "ブロードバンド",
];

/// The demo import file.
pub fn demo_file() -> ImportFile {
    let providers: Vec<Value> = (0..48)
        .map(|i| {
            let mut provider = json!({
                "code": format!("W{:04}", i + 1),
                "service_name": SERVICES[i % SERVICES.len()],
                "name": format!("{}{}株式会社", STEMS[i / KINDS.len() % STEMS.len()], KINDS[i % KINDS.len()]),
                "purpose": PURPOSES[i % PURPOSES.len()],
            });
            if let Some(api) = demo_api(i + 1) {
                provider["api"] = api;
            }
            provider
        })
        .collect();
    let notify = |codes: &[u32]| -> Vec<Value> {
        codes
            .iter()
            .map(|c| json!({"provider": format!("W{c:04}"), "setting": "notify", "set_on": "2025-04-01", "method": "初期設定"}))
            .collect()
    };
    let services = json!([
        {"name": "フレッツ光ネクスト", "status": "利用中"},
        {"name": "リモートサポートサービス", "status": "利用中"},
        {"name": "フレッツ・v6オプション", "status": "未契約"},
    ]);
    let file = json!({
        "providers": providers,
        "lines": [
            {"customer_id": "CAF0000000001", "access_key": "Demo0001", "services": services, "notifications": notify(&[1, 2, 7, 13])},
            {"customer_id": "CAF0000000002", "access_key": "Demo0002", "services": services, "notifications": []},
            {"customer_id": "CAF0000000003", "access_key": "Demo0003", "services": services, "notifications": notify(&[3, 4, 5, 6, 8, 9, 10, 11])},
        ],
        "notices": [
            "回線情報通知機能の設定変更は、お申し込みから約60分で反映されます。",
            "年末年始（12月29日～1月3日）も本ページからのお申し込みを受け付けます。",
        ],
        "consent": {"version": "2026-04", "text": CONSENT_TEXT},
        // One /56 per line (documentation addresses, RFC 3849).
        "prefixes": (1..=3).map(|n| json!({
            "customer_id": format!("CAF{n:010}"),
            "prefix": format!("2001:db8:1234:{:x}00::/56", 0x55 + n),
            "from": "2026-11-01T00:00:00+09:00",
            "until": null,
        })).collect::<Vec<_>>(),
    });
    serde_json::from_value(file)
        .unwrap_or_else(|e| unreachable!("the demo data is well-formed: {e}"))
}

/// The provider API registrations of W0001 (ES256) and W0002 (EdDSA). Their
/// private keys are in `server/examples/demo-keys/` (published on purpose:
/// demo only), and their webhooks go to the example provider's listener.
fn demo_api(provider: usize) -> Option<Value> {
    let (client_id, key, secret, port) = match provider {
        1 => (
            "demo-w0001",
            json!({"kty": "EC", "crv": "P-256", "x": "E0bh34-i0zpnP_5ssyLupq7QAxSv3JfD5Bg1rCnj57k",
                   "y": "khRpa5yBk5rmMjWIoJwjK1BNd5DhSLOFJrILW7pjOkk", "kid": "w0001-2026-12",
                   "alg": "ES256", "use": "sig"}),
            "whsec_qP83nAe0PBzaLpcv6s2J/ZhuNWVc/1CWaux74L1cbYQ=",
            8101,
        ),
        2 => (
            "demo-w0002",
            json!({"kty": "OKP", "crv": "Ed25519", "x": "bYfc71LisAe4eKgH-DZgKBzKA0ZGUccaiiRNHUIqX18",
                   "kid": "w0002-2026-12", "alg": "EdDSA", "use": "sig"}),
            "whsec_KADMCjjiyBKa+tNnI6bkp/T/ofuzi6JNPcR2PuPQ0xE=",
            8102,
        ),
        _ => return None,
    };
    Some(json!({
        "client_id": client_id,
        "jwks": {"keys": [key]},
        "webhook_url": format!("http://127.0.0.1:{port}/webhook"),
        "webhook_secret": secret,
    }))
}

/// The demo consent document.
pub const CONSENT_TEXT: &str = "\
回線情報通知機能（以下「本機能」といいます）のご利用にあたり、以下の内容にご同意ください。

1. 本機能は、お客さまが「通知する」に設定したサービス提供者に対し、お客さまの回線のお客さまID（フレッツナンバー）を通知するものです。

2. 「通知する」に設定したサービス提供者には、設定変更の工事完了後、お客さまがそのサービス提供者のサービスに接続するたびに、お客さまIDが通知されます。

3. 通知されたお客さまIDの取り扱いは、各サービス提供者の定めるところによります。各サービス提供者のプライバシーポリシーをご確認ください。

4. 「通知しない」に設定した場合、以後そのサービス提供者へお客さまIDは通知されません。ただし、すでに通知されたお客さまIDは削除されません。

5. 設定変更は、お申し込み後の工事完了をもって反映されます。工事中は同じサービス提供者について重ねてお申し込みいただけません。";

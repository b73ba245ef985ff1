//! Helpers shared by the integration tests.
#![allow(dead_code)]

use alpaca_mock::{MockConfig, MockServer};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

/// A started mock and a client that sends keys.
pub struct Harness {
    pub mock: MockServer,
    pub http: reqwest::Client,
}

/// A reply: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub fn client() -> reqwest::Client {
    let mut h = HeaderMap::new();
    h.insert("APCA-API-KEY-ID", HeaderValue::from_static("test-key"));
    h.insert(
        "APCA-API-SECRET-KEY",
        HeaderValue::from_static("test-secret"),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .expect("client")
}

impl Harness {
    pub async fn start(config: MockConfig) -> Harness {
        let mock = MockServer::start(config).await.expect("mock starts");
        Harness {
            mock,
            http: client(),
        }
    }

    pub async fn default() -> Harness {
        Harness::start(MockConfig::default()).await
    }

    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> url::Url {
        let mut u = url::Url::parse(&format!("{}{}", self.mock.url(), path)).expect("url");
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        u
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, self.url(path, query));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send("GET", path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, &[], Some(body)).await
    }
}

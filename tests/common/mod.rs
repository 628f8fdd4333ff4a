//! Shared set-up for the simulator integration tests: a simulator on port 0 with a manual
//! clock, and a reqwest client that talks to it over real HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use devin_mcp::sim::{SimConfig, Simulator};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub struct Harness {
    pub sim: Simulator,
    pub http: reqwest::Client,
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub async fn start() -> Harness {
    let sim = Simulator::start(SimConfig::manual(), loopback())
        .await
        .unwrap();
    Harness {
        sim,
        http: client(),
    }
}

impl Harness {
    /// `…/v3/organizations/{org}/{rest}` of the simulator.
    pub fn org_url(&self, rest: &str) -> String {
        format!(
            "{}/v3/organizations/{}/{rest}",
            self.sim.base_url(),
            self.sim.org_id()
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// A request with the main key.
    pub fn req(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.sim.api_key())
    }

    pub async fn get_json(&self, url: &str) -> (StatusCode, Value) {
        read(self.req(Method::GET, url).send().await.unwrap()).await
    }

    pub async fn send_json(&self, method: Method, url: &str, body: Value) -> (StatusCode, Value) {
        read(self.req(method, url).json(&body).send().await.unwrap()).await
    }

    /// Creates a session and returns its body, asserting success.
    pub async fn create(&self, body: Value) -> Value {
        let (status, session) = self
            .send_json(Method::POST, &self.org_url("sessions"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session
    }

    pub async fn create_prompt(&self, prompt: &str) -> String {
        let session = self.create(json!({"prompt": prompt})).await;
        session["session_id"].as_str().unwrap().to_owned()
    }

    pub async fn session(&self, id: &str) -> Value {
        let (status, body) = self
            .get_json(&self.org_url(&format!("sessions/{id}")))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn messages(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .get_json(&self.org_url(&format!("sessions/{id}/messages")))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    pub async fn message(&self, id: &str, text: &str) -> (StatusCode, Value) {
        let url = self.org_url(&format!("sessions/{id}/messages"));
        self.send_json(Method::POST, &url, json!({"message": text}))
            .await
    }

    pub fn advance_secs(&self, seconds: u64) {
        self.sim.advance(Duration::from_secs(seconds));
    }

    /// `(status, status_detail)` of a session as GET shows it.
    pub async fn state(&self, id: &str) -> (String, Option<String>) {
        let session = self.session(id).await;
        (
            session["status"].as_str().unwrap().to_owned(),
            session["status_detail"].as_str().map(str::to_owned),
        )
    }
}

/// Status and JSON body (or `Value::Null` when the body is not JSON).
pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a ProblemDetail error with the status, the problem+json type, and `instance`.
pub async fn assert_problem(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let path = response.url().path().to_owned();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(status, expected, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["status"], expected.as_u16());
    assert!(body["title"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert_eq!(body["instance"], path);
    body
}

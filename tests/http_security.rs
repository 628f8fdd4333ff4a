//! What `devin-mcp http` refuses, and that refusing leaks nothing: missing and wrong tokens,
//! foreign `Host` and `Origin`, other callers' MCP sessions, oversize bodies, unsafe startup
//! configurations; and what browsers of an allowed origin are told (CORS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_support;
mod mcp_support;

use std::process::Stdio;
use std::time::Duration;

use http_support::{
    HttpServer, TOKEN, command, command_on, http, initialize_body, open_session, post, team_tokens,
    temp_file,
};
use mcp_support::simulator;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_request_without_a_token_gets_401_with_a_bearer_challenge() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    let response = post(&server, &initialize_body()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");

    // rmcp's client cannot even initialize.
    let transport = StreamableHttpClientTransport::from_config(server.transport_config(None));
    assert!(().serve(transport).await.is_err());
}

#[tokio::test]
async fn a_wrong_token_gets_401_and_is_never_echoed_or_logged() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    let wrong = "wrong-token-do-not-echo-0123456789";
    let response = post(&server, &initialize_body())
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap();
    assert!(!body.contains(wrong) && !headers.contains(wrong), "{body}");
    assert!(!body.contains(TOKEN));
    assert!(server.log_contains("bearer token invalid").await);
    let log = server.log_text();
    assert!(!log.contains(wrong) && !log.contains(TOKEN), "{log}");

    let transport =
        StreamableHttpClientTransport::from_config(server.transport_config(Some(wrong)));
    assert!(().serve(transport).await.is_err());
}

#[tokio::test]
async fn a_foreign_host_gets_403_even_with_a_valid_token() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    let response = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("Host") && !body.contains(TOKEN), "{body}");
    // Without a token a foreign host is still refused as a foreign host.
    let response = post(&server, &initialize_body())
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn an_allowed_public_host_is_served() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &["--allowed-host", "mcp.example.com"]).await;
    let response = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .header("host", "mcp.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let localhost = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .header("host", "localhost:8787")
        .send()
        .await
        .unwrap();
    assert_eq!(localhost.status(), 200, "loopback names stay allowed");
}

#[tokio::test]
async fn a_foreign_origin_gets_403_and_loopback_or_allowed_origins_pass() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &["--allowed-origin", "https://app.example.com"]).await;
    let with_origin = |origin: &'static str| {
        post(&server, &initialize_body())
            .bearer_auth(TOKEN)
            .header("origin", origin)
            .send()
    };
    let response = with_origin("https://evil.example.com").await.unwrap();
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("Origin") && !body.contains(TOKEN), "{body}");
    assert_eq!(with_origin("null").await.unwrap().status(), 403);
    assert_eq!(with_origin("not a url").await.unwrap().status(), 403);
    assert_eq!(
        with_origin("https://app.example.com")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        with_origin("http://localhost:5173").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn a_body_over_the_cap_gets_413_and_the_server_keeps_serving() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    let prompt = "x".repeat(5 * 1024 * 1024);
    let call = serde_json::json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "create_session", "arguments": {"prompt": prompt}}
    });
    let response = post(&server, &call)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        !sim.requests().iter().any(|r| r.method == "POST"),
        "nothing reached the API"
    );
    let response = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    // A request that announces an oversize body, of which only the first bytes ever come, is
    // answered at once from its headers alone: 401 for the token, not 413 for the size.
    let url = url::Url::parse(&server.mcp_url()).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{{\"jsonrpc\": ",
        5 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered before the body arrived")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(sim.requests().is_empty(), "nothing reached the API");
}

#[tokio::test]
async fn a_smaller_cap_can_be_set() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &["--max-body-bytes", "1024"]).await;
    let call = serde_json::json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "create_session", "arguments": {"prompt": "x".repeat(2000)}}
    });
    let response = post(&server, &call)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn healthz_answers_without_a_token_and_without_secrets() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &[]).await;
    let response = http()
        .get(format!("{}/healthz", server.base))
        .header("host", "10.0.0.7:8787")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let text = body.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains(sim.api_key()),
        "{text}"
    );
}

/// Runs the binary with `args` until it exits; returns its exit code and stderr.
async fn refused_start(command: &mut tokio::process::Command) -> (Option<i32>, String) {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the server refuses to start at once")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_server_refuses_to_start_without_a_token() {
    let sim = simulator().await;
    let (code, stderr) = refused_start(&mut command(&sim, &[])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("DEVIN_MCP_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn no_auth_is_refused_on_a_non_loopback_address() {
    let sim = simulator().await;
    let mut refused = command_on(&sim, "0.0.0.0:0", &["--no-auth"]);
    let (code, stderr) = refused_start(&mut refused).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[tokio::test]
async fn no_auth_on_loopback_serves_without_a_token() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &["--no-auth"]).await;
    let response = post(&server, &initialize_body()).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_malformed_tokens_file_is_refused_in_one_line_without_its_tokens() {
    let sim = simulator().await;
    let file = temp_file(
        "bad.toml",
        "[[token]]\nname = \"ci\"\ntoken = \"never-print-me-0123456789\"\nread_only = \
         \"never-print-me-0123456789\"\n",
    );
    let mut refused = command(&sim, &["--tokens", file.to_str().unwrap()]);
    let (code, stderr) = refused_start(&mut refused).await;
    assert_eq!(code, Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("line 4"), "{stderr}");
    assert!(!stderr.contains("never-print-me"), "{stderr}");
}

#[tokio::test]
async fn a_short_or_doubly_configured_token_is_refused() {
    let sim = simulator().await;
    let mut short = command(&sim, &[]);
    short.env("DEVIN_MCP_TOKEN", "tok-9f2c-x");
    let (code, stderr) = refused_start(&mut short).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("shorter than 16"), "{stderr}");
    assert!(
        !stderr.contains("tok-9f2c-x"),
        "the token was echoed: {stderr}"
    );

    let file = temp_file(
        "ok.toml",
        "[[token]]\nname = \"ci\"\ntoken = \"ci-token-0123456789ab\"\n",
    );
    let mut both = command(&sim, &["--tokens", file.to_str().unwrap()]);
    both.env("DEVIN_MCP_TOKEN", TOKEN);
    let (code, stderr) = refused_start(&mut both).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("use one of them"), "{stderr}");
}

#[tokio::test]
async fn no_auth_is_refused_with_a_public_host_or_any_web_origin() {
    let sim = simulator().await;
    let mut proxied = command(&sim, &["--no-auth", "--allowed-host", "mcp.example.com"]);
    let (code, stderr) = refused_start(&mut proxied).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("--no-auth") && stderr.contains("--allowed-host mcp.example.com"),
        "{stderr}"
    );

    let mut web = command(
        &sim,
        &["--no-auth", "--allowed-origin", "https://app.example.com"],
    );
    let (code, stderr) = refused_start(&mut web).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("--allowed-origin"), "{stderr}");

    // Another loopback name is still only this machine.
    let server = HttpServer::start(&sim, &["--no-auth", "--allowed-host", "127.0.0.2"]).await;
    let response = post(&server, &initialize_body())
        .header("host", "127.0.0.2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Status, content type and body: everything a client can tell answers apart by.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn another_callers_session_id_is_answered_exactly_like_a_made_up_one() {
    let sim = simulator().await;
    let tokens = team_tokens();
    let server =
        HttpServer::start(&sim, &["--sessions", "--tokens", tokens.to_str().unwrap()]).await;
    let alice = "alice-token-0123456789";
    let dashboard = "dashboard-token-0123456789";
    let session = open_session(&server, Some(alice)).await;
    let made_up = "0f5e2b9c-made-up-session-id";
    let list = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let with = |request: reqwest::RequestBuilder, id: &str| {
        request
            .bearer_auth(dashboard)
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-11-25")
    };
    let stream = || {
        http()
            .get(server.mcp_url())
            .header("accept", "text/event-stream")
    };
    let delete = || http().delete(server.mcp_url());

    let post_foreign = answer(with(post(&server, &list), &session)).await;
    let post_unknown = answer(with(post(&server, &list), made_up)).await;
    assert_eq!(post_foreign.0, 404);
    assert_eq!(post_foreign, post_unknown);
    let get_foreign = answer(with(stream(), &session)).await;
    let get_unknown = answer(with(stream(), made_up)).await;
    assert_eq!(get_foreign.0, 404);
    assert_eq!(get_foreign, get_unknown);
    let delete_foreign = answer(with(delete(), &session)).await;
    let delete_unknown = answer(with(delete(), made_up)).await;
    assert_eq!(delete_foreign.0, 404);
    assert_eq!(delete_foreign, delete_unknown);
    assert_eq!(post_foreign, get_foreign);
    assert_eq!(post_foreign, delete_foreign);

    // The same answer rmcp gives for a session it does not know.
    let open = HttpServer::start(&sim, &["--sessions", "--no-auth"]).await;
    let rmcp_unknown = answer(
        post(&open, &list)
            .header("mcp-session-id", made_up)
            .header("mcp-protocol-version", "2025-11-25"),
    )
    .await;
    assert_eq!(post_unknown, rmcp_unknown);

    // Alice's session survived the attempts on it.
    let own = post(&server, &list)
        .bearer_auth(alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("create_session"));
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_without_a_token() {
    let sim = simulator().await;
    let server = HttpServer::start(&sim, &["--allowed-origin", "https://app.example.com"]).await;
    let preflight = |origin: &str| {
        http()
            .request(reqwest::Method::OPTIONS, server.mcp_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .send()
    };
    let response = preflight("https://app.example.com").await.unwrap();
    assert_eq!(response.status(), 204);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(
        header("access-control-allow-origin"),
        "https://app.example.com"
    );
    for method in ["GET", "POST", "DELETE", "OPTIONS"] {
        assert!(
            header("access-control-allow-methods").contains(&method.to_ascii_lowercase()),
            "{method}"
        );
    }
    for name in [
        "authorization",
        "content-type",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
    ] {
        assert!(
            header("access-control-allow-headers").contains(name),
            "{name}"
        );
    }
    assert!(header("access-control-max-age").parse::<u32>().unwrap() > 0);
    assert!(header("vary").contains("origin"));

    let refused = preflight("https://evil.example.com").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // A loopback page may call the server, as before, but is told nothing about CORS: it is
    // not an origin the operator named.
    let local = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(local.status(), 401);
    assert!(local.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn responses_to_an_allowed_origin_carry_cors_headers_and_others_none() {
    let sim = simulator().await;
    let server = HttpServer::start(
        &sim,
        &["--sessions", "--allowed-origin", "https://app.example.com"],
    )
    .await;
    let origin = "https://app.example.com";
    let cors = |response: &reqwest::Response| {
        let header = |name: &str| {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|value| value.to_str().unwrap().to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        (
            header("access-control-allow-origin"),
            header("vary"),
            header("access-control-expose-headers"),
        )
    };
    let opened = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let (allow, vary, expose) = cors(&opened);
    assert_eq!(allow, origin);
    assert!(vary.contains("origin"), "{vary}");
    assert!(expose.contains("mcp-session-id"), "{expose}");
    assert!(opened.headers().get("mcp-session-id").is_some());

    // A page can read why it was refused.
    let refused = post(&server, &initialize_body())
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(cors(&refused).0, origin);

    let no_origin = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 200);
    assert_eq!(cors(&no_origin).0, "");
    let local = post(&server, &initialize_body())
        .bearer_auth(TOKEN)
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    assert_eq!(cors(&local).0, "");
}

//! Handlers of the example Lambda functions: pure functions from a JSON event to a JSON
//! response, so they are unit-testable without the Lambda runtime. Each `src/bin/*.rs` is a
//! thin `main` that hands one of them to `lambda_runtime`.

use serde_json::{json, Value};

/// API Gateway style response with a JSON body.
fn response(status: u16, body: Value) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
    })
}

fn str_at<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event.pointer(pointer).and_then(Value::as_str)
}

/// REST backend: `GET /health`, `POST /echo` (returns the body's byte and word counts),
/// anything else is 404.
pub fn backend(event: &Value) -> Value {
    let method = str_at(event, "/requestContext/http/method")
        .or_else(|| str_at(event, "/httpMethod"))
        .unwrap_or("GET");
    let path = str_at(event, "/rawPath")
        .or_else(|| str_at(event, "/path"))
        .unwrap_or("/");
    match (method, path) {
        ("GET", "/health") => response(200, json!({ "status": "ok", "service": "backend" })),
        ("POST", "/echo") => {
            let body = str_at(event, "/body").unwrap_or("");
            response(
                200,
                json!({
                    "bytes": body.len(),
                    "words": body.split_whitespace().count(),
                }),
            )
        }
        _ => response(404, json!({ "error": format!("no route for {method} {path}") })),
    }
}

fn connection_id(event: &Value) -> Option<&str> {
    str_at(event, "/requestContext/connectionId")
}

/// WebSocket `$connect`: accepts a connection that has an id, rejects one without.
pub fn ws_connect(event: &Value) -> Value {
    match connection_id(event) {
        Some(id) => response(200, json!({ "connected": id })),
        None => response(400, json!({ "error": "missing requestContext.connectionId" })),
    }
}

/// WebSocket `$disconnect`.
pub fn ws_disconnect(event: &Value) -> Value {
    match connection_id(event) {
        Some(id) => response(200, json!({ "disconnected": id })),
        None => response(400, json!({ "error": "missing requestContext.connectionId" })),
    }
}

/// WebSocket `$default`: `{"action":"ping"}` answers pong; other JSON is echoed with its action.
pub fn ws_default(event: &Value) -> Value {
    let body = str_at(event, "/body").unwrap_or("");
    match serde_json::from_str::<Value>(body) {
        Ok(message) => match message.get("action").and_then(Value::as_str) {
            Some("ping") => response(200, json!({ "action": "pong" })),
            Some(action) => response(200, json!({ "action": action, "received": message })),
            None => response(400, json!({ "error": "message has no \"action\"" })),
        },
        Err(error) => response(400, json!({ "error": format!("message is not JSON: {error}") })),
    }
}

/// Broadcast: fans a message out to the given connection ids (deduplicated, sender excluded)
/// and returns the delivery plan.
pub fn ws_broadcast(event: &Value) -> Value {
    let message = event.get("message").cloned().unwrap_or(Value::Null);
    let sender = str_at(event, "/sender");
    let mut targets: Vec<&str> = event
        .get("connections")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    targets.sort_unstable();
    targets.dedup();
    targets.retain(|id| Some(*id) != sender);
    json!({ "deliveries": targets.len(), "targets": targets, "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_routes() {
        let health = backend(&json!({ "rawPath": "/health", "requestContext": { "http": { "method": "GET" } } }));
        assert_eq!(health["statusCode"], 200);
        let echo = backend(&json!({ "httpMethod": "POST", "path": "/echo", "body": "a b c" }));
        assert_eq!(echo["body"], r#"{"bytes":5,"words":3}"#);
        assert_eq!(backend(&json!({ "path": "/nope" }))["statusCode"], 404);
    }

    #[test]
    fn websocket_handlers() {
        let event = json!({ "requestContext": { "connectionId": "abc" }, "body": "{\"action\":\"ping\"}" });
        assert_eq!(ws_connect(&event)["statusCode"], 200);
        assert_eq!(ws_disconnect(&json!({}))["statusCode"], 400);
        assert_eq!(ws_default(&event)["body"], r#"{"action":"pong"}"#);
        let plan = ws_broadcast(&json!({ "sender": "a", "connections": ["b", "a", "c", "b"], "message": "hi" }));
        assert_eq!(plan["deliveries"], 2);
    }
}

//! Lambda entry point: hands each invocation's JSON event to `watchy_lambdas::ws_default`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(watchy_lambdas::ws_default(&event.payload))
    }))
    .await
}

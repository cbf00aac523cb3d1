//! The middleware in front of every route: records each call and fires the armed faults it matches.

use super::Fault;
use crate::errors::Failure;
use crate::state::{Call, Shared};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::HttpResponse;
use std::time::Duration;

/// Longer than any client timeout a test uses; the server drops the request on shutdown.
const HANG: Duration = Duration::from_secs(3_600);

/// Records the call and picks its faults: the summed latency and the first other fault that fires.
fn record_and_match(shared: &Shared, call: Call) -> (Duration, Option<Fault>) {
    let mut store = shared.store();
    let mut delay = Duration::ZERO;
    let mut chosen = None;
    for armed in &mut store.faults {
        if armed.hit(&call.method, &call.path) {
            match &armed.rule.fault {
                Fault::Latency(d) => delay += *d,
                other if chosen.is_none() => chosen = Some(other.clone()),
                _ => {}
            }
        }
    }
    store.calls.push(call);
    (delay, chosen)
}

/// A response whose body fails at once: actix closes the connection before anything is flushed, so the
/// client sees the connection end without an answer.
fn dropped() -> HttpResponse {
    let failing = futures::stream::once(async {
        Err::<Bytes, actix_web::Error>(actix_web::error::ErrorInternalServerError(
            "fault injection: drop the connection",
        ))
    });
    HttpResponse::Ok().streaming(failing)
}

fn status_answer(status: u16) -> HttpResponse {
    use actix_web::ResponseError;
    if status == 500 {
        return Failure::Unhandled.error_response();
    }
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    Failure::PlainText {
        status: code.as_u16(),
        text: code.canonical_reason().unwrap_or("Error").to_owned(),
    }
    .error_response()
}

/// The middleware in front of every route.
pub(crate) async fn inject(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(shared) = req.app_data::<Data<Shared>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let call = Call {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
    };
    let (delay, fault) = record_and_match(&shared, call);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(fault) = fault else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    tracing::debug!(?fault, path = req.path(), "injecting fault");
    let answer = match fault {
        Fault::Latency(_) => unreachable_latency(),
        Fault::Status(status) => status_answer(status),
        Fault::Respond {
            status,
            content_type,
            body,
        } => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type(content_type)
        .body(body),
        Fault::Timeout => {
            tokio::time::sleep(HANG).await;
            status_answer(504)
        }
        Fault::DropConnection => dropped(),
        Fault::CommitThenDrop => {
            let committed = next.call(req).await?;
            return Ok(committed.into_response(dropped()));
        }
        Fault::CommitThenTimeout => {
            let committed = next.call(req).await?;
            tokio::time::sleep(HANG).await;
            return Ok(committed.into_response(status_answer(504)));
        }
    };
    Ok(req.into_response(answer))
}

/// Latency never ends up as the chosen fault (it is summed apart); answer as a 500 if it ever did.
fn unreachable_latency() -> HttpResponse {
    status_answer(500)
}

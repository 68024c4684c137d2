//! HTTP routes: the web client, the programme, health, and the WebSocket upgrade.
//!
//! The HTTP layer never touches SQL and never holds room state: it reads the hub's programme
//! and hands upgraded sockets to `ws`. Errors leave as `{"error":{"code","message"}}`.

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use plenary_protocol::{ErrorCode, HttpError, HttpErrorBody, Schedule};

use crate::AppState;

/// The browser client, embedded at build time: (path, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "/connection.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/connection.js"),
    ),
    (
        "/media.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/media.js"),
    ),
    (
        "/i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/i18n.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];

/// What the page may load: only this origin, no inline script, no eval.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/schedule", get(schedule))
        .route("/ws", get(upgrade))
        .fallback(get(asset))
        .with_state(state)
}

/// An HTTP error with a stable code.
struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = HttpError {
            error: HttpErrorBody {
                code: self.code,
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

async fn schedule(State(state): State<AppState>) -> Json<Schedule> {
    Json(state.hub.programme().to_schedule())
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(origin) = check_origin(&headers, &state.config.allowed_origins) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: ErrorCode::Forbidden,
            message: format!("WebSocket connections from origin {origin} are not allowed"),
        }
        .into_response();
    }
    let max = state.config.max_frame_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tasks = state.tasks.clone();
            tasks.track_future(crate::ws::serve(socket, state))
        })
}

/// A browser's WebSocket must come from a page of this server (its Origin's host is the Host
/// it asked for) or from a configured origin. Clients that send no Origin (not browsers) pass:
/// the check stops other web sites from using a visitor's browser, nothing more.
fn check_origin<'a>(headers: &'a HeaderMap, allowed: &[String]) -> Result<(), &'a str> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "(not text)")?;
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if (origin_host.is_some() && origin_host == host)
        || allowed.iter().any(|allowed| allowed == origin)
    {
        Ok(())
    } else {
        Err(origin)
    }
}

async fn asset(uri: Uri) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(path, ..)| *path == uri.path()) else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
            message: format!("nothing at {}", uri.path()),
        }
        .into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

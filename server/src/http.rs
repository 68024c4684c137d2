//! HTTP routes: the web client, the programme (as JSON, iCalendar and schedule.json, its
//! import, and organisers' edits in [`organiser`]), a person's agenda as iCalendar, health,
//! readiness and metrics (`/metrics`, optionally behind a bearer token), and the WebSocket
//! upgrade. Every request is counted by route and status.
//!
//! The HTTP layer never touches SQL and never holds room state: it reads the hub's programme,
//! hands imports to `interchange` and edits to `programme::edit`, then the result to the hub,
//! and hands upgraded sockets to `ws`. Errors leave as `{"error":{"code","message"}}`, with
//! `fields` when a change broke the programme's rules.

mod assets;
mod organiser;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use plenary_protocol::organiser::FieldProblem;
use plenary_protocol::{ErrorCode, HttpError, HttpErrorBody, ImportSummary, Role, Schedule};

use crate::auth::Claims;
use crate::interchange;
use crate::state::AppState;
use crate::store::StoreError;

/// The largest programme file `POST /api/schedule/import` takes. FOSDEM's, among the
/// largest, is 2 MB.
const IMPORT_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// What the page may load: only this origin, no inline script, no eval.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The router. On a node of a cluster that does not run the conference (`Config::edge`),
/// `/api/…` is answered by the node that does, through the edge's own router.
pub fn app(state: AppState) -> Router {
    let api = match &state.config.edge {
        Some(edge) => edge.api.clone(),
        None => Router::new()
            .route("/api/schedule", get(schedule))
            .route("/api/schedule.ics", get(schedule_ics))
            .route("/api/schedule.json", get(schedule_json))
            .route("/api/me/agenda.ics", get(agenda_ics))
            .route(
                "/api/schedule/import",
                post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT_BYTES)),
            )
            .merge(organiser::routes())
            .with_state(state.clone()),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ws", get(upgrade))
        .fallback(get(asset))
        .with_state(state.clone())
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(state, count_request))
}

/// Count a request by its route (`*` for the web client's files and unknown paths, so that
/// the labels stay few) and status.
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .http_request(route.as_deref().unwrap_or("*"), response.status().as_u16());
    response
}

/// `GET /metrics`: the server's metrics in the Prometheus text format. With
/// `Config::metrics_token`, only for `Authorization: Bearer <that token>`.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(expected) = &state.config.metrics_token {
        let given = bearer_token(&headers).ok_or_else(|| {
            unauthorized("send the metrics token as `Authorization: Bearer <token>`".into())
        })?;
        if !same_secret(given.as_bytes(), expected.as_bytes()) {
            return Err(unauthorized("the metrics token was refused".into()));
        }
    }
    let depths = state.hub.person_outboxes().depths();
    let media = state.sfu.counts().await;
    let body = state.metrics.render(crate::metrics::Sampled {
        outbox_frames: depths.queued,
        outbox_frames_max: depths.deepest,
        sfu_publishers: media.publishers,
        sfu_tracks: media.tracks,
        sfu_viewers: media.viewers,
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Whether two secrets are equal, in a time that does not depend on where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// 200 while this node takes traffic; 503 while a node of a cluster runs the conference but
/// cannot renew its lease, or does not run it and hears no node that does. The body says
/// which: `ready` where the rooms run, `ready: relaying` on a node that relays to them.
async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.config.readiness.is_ready() {
        Ok(if state.uplink.is_some() {
            "ready: relaying"
        } else {
            "ready"
        })
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "this node cannot serve the conference now: try another",
        ))
    }
}

/// An HTTP error with a stable code.
pub(crate) struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// What broke the programme's rules, for [`ErrorCode::Invalid`].
    fields: Vec<FieldProblem>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// No node of a cluster runs the conference now (a node that relays to it cannot serve).
    pub(crate) fn no_running_node() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "no node runs the conference now: try again in a few seconds",
        )
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = HttpError {
            error: HttpErrorBody {
                code: self.code,
                message: self.message,
                fields: self.fields,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        internal(&error)
    }
}

async fn schedule(State(state): State<AppState>) -> Json<Schedule> {
    Json(state.hub.programme().to_schedule())
}

/// `GET /api/schedule.ics`: the programme for calendar apps.
async fn schedule_ics(State(state): State<AppState>) -> Response {
    let calendar = interchange::to_ics(&state.hub.programme(), jiff::Timestamp::now());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        )],
        calendar,
    )
        .into_response()
}

/// `GET /api/schedule.json`: the programme as a c3voc schedule.json.
async fn schedule_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(interchange::to_schedule_json(&state.hub.programme()))
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
}

/// The token in `Authorization: Bearer …`, if the request carries one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Whom a personal token names; invites and bad tokens are refused.
fn personal_claims(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let claims = state
        .keys
        .verify(token)
        .map_err(|error| unauthorized(format!("the token was refused ({error})")))?;
    if claims.invite {
        return Err(unauthorized(
            "an invite link's token only lets a new person in; use a personal token (`plenary token`)".into(),
        ));
    }
    Ok(claims)
}

/// A request made with an organiser's personal token in `Authorization: Bearer …`.
struct Organiser {
    /// Who made it (the token's user id), for the log.
    user: String,
}

impl FromRequestParts<AppState> for Organiser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            unauthorized("send an organiser's token as `Authorization: Bearer <token>`".into())
        })?;
        let claims = personal_claims(state, token)?;
        if claims.role != Role::Organiser {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!(
                    "only organisers may do this; this token is a {}'s",
                    claims.role.as_str()
                ),
            ));
        }
        Ok(Organiser { user: claims.sub })
    }
}

/// A request made with a person's own token, in `Authorization: Bearer …` or, for calendar
/// apps that cannot send headers, as `?token=…`.
struct Me(Claims);

/// The `?token=…` of a calendar subscription link.
#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_query = Query::<TokenQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(query)| query.token);
        let token = bearer_token(&parts.headers)
            .or(from_query.as_deref())
            .ok_or_else(|| {
                unauthorized(
                    "send your token as `Authorization: Bearer <token>` or `?token=<token>`".into(),
                )
            })?;
        personal_claims(state, token).map(Me)
    }
}

/// `GET /api/me/agenda.ics`: the sessions this person bookmarked, for calendar apps, each
/// with an alarm `Config::reminder` before it starts.
async fn agenda_ics(State(state): State<AppState>, Me(me): Me) -> Result<Response, ApiError> {
    let agenda = state
        .hub
        .agenda(&me.sub)
        .await
        .map_err(|error| internal(&error))?;
    let calendar = interchange::agenda_to_ics(
        &state.hub.programme(),
        &agenda.bookmarks,
        crate::config::signed(state.config.reminder),
        jiff::Timestamp::now(),
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            // It names one person's sessions: no shared cache may keep it.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
        ],
        calendar,
    )
        .into_response())
}

/// `POST /api/schedule/import`: replace the programme with the one in the body (a
/// schedule.xml or schedule.json). A file that is not a schedule changes nothing.
async fn import(
    State(state): State<AppState>,
    organiser: Organiser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportSummary>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("a programme file may have at most {IMPORT_LIMIT_BYTES} bytes"),
        ),
        _ => ApiError::bad_request(rejection.body_text()),
    })?;
    // Parsing a large programme takes milliseconds of CPU: keep it off the async workers.
    let imported = tokio::task::spawn_blocking(move || interchange::import(&body))
        .await
        .map_err(|error| internal(&error))?
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let summary = imported.summary();
    state
        .hub
        .import(imported.programme)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(
        rooms = summary.rooms,
        sessions = summary.sessions,
        user = %organiser.user,
        "imported a programme"
    );
    Ok(Json(summary))
}

/// A server failure: logged in full, answered without detail.
fn internal(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%error, "request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        "the server failed; try again",
    )
}

async fn upgrade(State(state): State<AppState>, mut request: Request) -> Response {
    if let Err(origin) = check_origin(request.headers(), &state.config.allowed_origins) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("WebSocket connections from origin {origin} are not allowed"),
        )
        .into_response();
    }
    // A node of a cluster that cannot reach the node that runs the conference cannot serve
    // a connection: the client tries again, here or elsewhere.
    if state.uplink.is_some() && !state.config.readiness.is_ready() {
        return ApiError::no_running_node().into_response();
    }
    let (response, on_upgrade) = match crate::ws::accept(&mut request) {
        Ok(accepted) => accepted,
        Err((status, problem)) => {
            let mut refusal = ApiError::new(status, ErrorCode::BadRequest, problem).into_response();
            if status == StatusCode::UPGRADE_REQUIRED {
                refusal.headers_mut().insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            return refusal;
        }
    };
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => crate::ws::serve(upgraded, state).await,
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    response
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
    let Some((content_type, body)) = assets::find(uri.path()) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("nothing at {}", uri.path()),
        )
        .into_response();
    };
    let mut response = body.into_response();
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

//! The organiser API: `/api/rooms`, `/api/tracks`, `/api/speakers` and `/api/sessions`.
//! Each collection answers `GET` (the list) and `POST` (create); each item `/…/{id}` answers
//! `GET`, `PUT` (replace whole), `PATCH` (a JSON merge patch, RFC 7386, on what `GET` shows)
//! and `DELETE`. Organisers only; JSON in and out.
//!
//! A change is checked by `programme::edit` and, if accepted, stored and installed by the hub
//! before the answer. A refused change answers 422 with every problem in `error.fields`.
//! With `?dry_run=true` nothing changes: the answer is 200 with `{"valid", "problems"}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use plenary_protocol::ErrorCode;
use plenary_protocol::organiser::DryRun;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Organiser, internal};
use crate::programme::Programme;
use crate::programme::edit::{Resource, Rooms, Sessions, Speakers, Target, Tracks};
use crate::programme::validate::Problems;
use crate::state::AppState;

/// The organiser API's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(resource::<Rooms>())
        .merge(resource::<Tracks>())
        .merge(resource::<Speakers>())
        .merge(resource::<Sessions>())
}

/// The routes of one resource.
fn resource<R: Resource + 'static>() -> Router<AppState> {
    let collection = format!("/api/{}", R::PLURAL);
    Router::new()
        .route(&collection, get(list::<R>).post(create::<R>))
        .route(
            &format!("{collection}/{{id}}"),
            get(show::<R>)
                .put(replace::<R>)
                .patch(patch::<R>)
                .delete(delete::<R>),
        )
}

/// The query of a change.
#[derive(Deserialize)]
struct ChangeOptions {
    /// Check the change and say what it would meet, changing nothing.
    #[serde(default)]
    dry_run: bool,
}

type Options = Result<Query<ChangeOptions>, QueryRejection>;

fn dry_run(options: Options) -> Result<bool, ApiError> {
    options
        .map(|Query(options)| options.dry_run)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

/// A JSON body, whatever the request's content type says.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("the body is not what was expected: {error}"))
    })
}

fn not_found<R: Resource>(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("there is no {} {id:?}", R::NAME),
    )
}

/// A change the programme's rules refuse.
fn invalid<R: Resource>(problems: Problems) -> ApiError {
    let reasons: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    let message = format!("the {} was not changed: {}", R::NAME, reasons.join("; "));
    ApiError {
        fields: problems,
        ..ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            message,
        )
    }
}

/// What a change came to.
enum Changed<T> {
    /// Made, stored and installed; the item as it now is (nothing for a deletion).
    Done(T),
    /// A dry run: what the change would meet.
    DryRun(DryRun),
}

impl<T: Serialize> Changed<T> {
    /// The answer: `status` with the item, or 200 with the dry run's findings.
    fn answer(self, status: StatusCode) -> Response {
        match self {
            Changed::Done(item) => (status, Json(item)).into_response(),
            Changed::DryRun(findings) => Json(findings).into_response(),
        }
    }
}

/// Carry out `apply` on the programme: for real, under the hub's edit lock, stored and
/// installed before this returns; or, for a dry run, on a copy that is then dropped.
async fn change<R: Resource, T>(
    state: &AppState,
    organiser: &Organiser,
    dry_run: bool,
    apply: impl FnOnce(&mut Programme) -> Result<T, ApiError>,
) -> Result<Changed<T>, ApiError> {
    if dry_run {
        let mut copy = Programme::clone(&state.hub.programme());
        let problems = match apply(&mut copy) {
            Ok(_) => Problems::new(),
            Err(error) if error.code == ErrorCode::Invalid => error.fields,
            Err(error) => return Err(error),
        };
        return Ok(Changed::DryRun(DryRun {
            valid: problems.is_empty(),
            problems,
        }));
    }
    let done = state
        .hub
        .edit_programme(|current| {
            let mut next = current.clone();
            let done = apply(&mut next)?;
            Ok::<_, ApiError>((next, done))
        })
        .await?;
    tracing::info!(resource = R::NAME, user = %organiser.user, "the programme changed");
    Ok(Changed::Done(done))
}

/// `GET /api/{resources}`.
async fn list<R: Resource>(
    State(state): State<AppState>,
    _organiser: Organiser,
) -> Json<Vec<R::Output>> {
    Json(R::list(&state.hub.programme()))
}

/// `GET /api/{resources}/{id}`.
async fn show<R: Resource>(
    State(state): State<AppState>,
    _organiser: Organiser,
    Path(id): Path<String>,
) -> Result<Json<R::Output>, ApiError> {
    R::get(&state.hub.programme(), &id)
        .map(Json)
        .ok_or_else(|| not_found::<R>(&id))
}

/// `POST /api/{resources}`: 201 with the new item.
async fn create<R: Resource>(
    State(state): State<AppState>,
    organiser: Organiser,
    options: Options,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = dry_run(options)?;
    let input: R::Input = parse(&body)?;
    let changed = change::<R, _>(&state, &organiser, dry_run, |programme| {
        R::put(programme, Target::New, input).map_err(invalid::<R>)
    })
    .await?;
    Ok(changed.answer(StatusCode::CREATED))
}

/// `PUT /api/{resources}/{id}`: replace the item whole; 200 with it.
async fn replace<R: Resource>(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<String>,
    options: Options,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = dry_run(options)?;
    let input: R::Input = parse(&body)?;
    let changed = change::<R, _>(&state, &organiser, dry_run, |programme| {
        R::get(programme, &id).ok_or_else(|| not_found::<R>(&id))?;
        R::put(programme, Target::Existing(&id), input).map_err(invalid::<R>)
    })
    .await?;
    Ok(changed.answer(StatusCode::OK))
}

/// `PATCH /api/{resources}/{id}`: change the fields the body names (`null` removes one), keep
/// the others; 200 with the item.
async fn patch<R: Resource>(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<String>,
    options: Options,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = dry_run(options)?;
    let patch: Value = parse(&body)?;
    let changed = change::<R, _>(&state, &organiser, dry_run, |programme| {
        let current = R::get(programme, &id).ok_or_else(|| not_found::<R>(&id))?;
        let mut merged = serde_json::to_value(current).map_err(|error| internal(&error))?;
        merge_patch(&mut merged, patch);
        let input: R::Input = serde_json::from_value(merged).map_err(|error| {
            ApiError::bad_request(format!(
                "the patched {} is not what was expected: {error}",
                R::NAME
            ))
        })?;
        R::put(programme, Target::Existing(&id), input).map_err(invalid::<R>)
    })
    .await?;
    Ok(changed.answer(StatusCode::OK))
}

/// `DELETE /api/{resources}/{id}`: 204.
async fn delete<R: Resource>(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<String>,
    options: Options,
) -> Result<Response, ApiError> {
    let dry_run = dry_run(options)?;
    let changed = change::<R, _>(&state, &organiser, dry_run, |programme| {
        R::get(programme, &id).ok_or_else(|| not_found::<R>(&id))?;
        R::delete(programme, &id).map_err(invalid::<R>)
    })
    .await?;
    Ok(match changed {
        Changed::Done(()) => StatusCode::NO_CONTENT.into_response(),
        dry_run => dry_run.answer(StatusCode::OK),
    })
}

/// Apply a JSON merge patch (RFC 7386): objects merge key by key, `null` removes a key, any
/// other value replaces what was there.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(&key);
            } else {
                merge_patch(target.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn a_merge_patch_changes_what_it_names_and_removes_what_it_nulls() {
        let mut session =
            json!({"title": "Old", "track": "t", "speakers": ["a"], "nested": {"x": 1, "y": 2}});
        merge_patch(
            &mut session,
            json!({"title": "New", "track": null, "speakers": ["b", "c"], "nested": {"y": null, "z": 3}}),
        );
        assert_eq!(
            session,
            json!({"title": "New", "speakers": ["b", "c"], "nested": {"x": 1, "z": 3}})
        );
    }
}

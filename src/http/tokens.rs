//! Token administration (unscoped admin): list tokens without their
//! secrets, revoke one. Tokens are created with the CLI, which prints the
//! secret once.

use actix_web::{delete, get, web, HttpResponse};
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::{Role, Scope};
use crate::store::{tokens, StoreError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(session).service(list).service(revoke);
}

/// Who the caller's token is: role, scope and label, so a page can say
/// "this token cannot use this page" before trying anything (any role).
#[utoipa::path(tag = "tokens", responses((status = 200, description = "{id, role, scope, label}"), (status = 401)), security(("bearer" = [])))]
#[get("/session")]
async fn session(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": caller.token_id, "role": caller.role, "scope": caller.scope, "label": caller.label,
    }))
}

/// Only an admin for the whole network manages tokens: a scoped admin
/// would see tokens of places it cannot see.
fn require_root(caller: &Caller) -> Result<(), ApiError> {
    caller.require(&[Role::Admin])?;
    if caller.scope == Scope::All {
        Ok(())
    } else {
        Err(ApiError::NotPermitted(
            "tokens are managed with an unscoped admin token".into(),
        ))
    }
}

/// Every token: id, role, scope, label, created, expires, revoked — never
/// its secret (admin).
#[utoipa::path(tag = "tokens", responses((status = 200, description = "{items: [{id, role, scope, label, created_at, expires_at, revoked}]}"), (status = 401), (status = 403)), security(("bearer" = [])))]
#[get("/tokens")]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_root(&caller)?;
    let items: Vec<_> = tokens::list(&state.db)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "role": t.role, "scope": t.scope.to_string(), "label": t.label,
                "created_at": t.created_at, "expires_at": t.expires_at, "revoked": t.revoked,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// Revokes a token; it answers 401 from then on (admin).
#[utoipa::path(tag = "tokens", params(("id" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/tokens/{id}")]
async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_root(&caller)?;
    match tokens::revoke(&state.db, &id).await {
        Ok(()) => {
            tracing::info!(revoked = %id, token = %caller.token_id, "token revoked");
            Ok(HttpResponse::NoContent().finish())
        }
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!("no token {id}"))),
        Err(e) => Err(e.into()),
    }
}

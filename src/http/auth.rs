//! The `Caller` extractor: who is calling, from the bearer token. Public
//! endpoints do not extract it; protected ones call [`Caller::require`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use super::error::ApiError;
use super::AppState;
use crate::auth::{hash_token, Role};
use crate::store::tokens;

#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller's role is one of `allowed` (admin always is).
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if self.role.is_allowed(allowed) {
            Ok(())
        } else {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(names.join(" or ")))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(ApiError::Unauthorized);
            };
            let (token_id, role) = tokens::find(&state.db, &hash_token(&token))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let role = role
                .parse::<Role>()
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored role: {e}")))?;
            tracing::Span::current().record("token_id", token_id.as_str());
            Ok(Caller { token_id, role })
        })
    }
}

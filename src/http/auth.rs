//! The `Caller` extractor: who is calling, from the bearer token. Public
//! endpoints do not extract it; protected ones call [`Caller::require`] and
//! hand [`Caller::principal`] to the use case, which applies the scope.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use super::error::ApiError;
use super::AppState;
use crate::auth::{hash_token, Principal, Role, Scope};
use crate::store::tokens;

#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub scope: Scope,
    /// The token's name in lists.
    pub label: String,
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

    /// [`Caller::require`], then who the use case acts for.
    pub fn principal(&self, allowed: &[Role]) -> Result<Principal, ApiError> {
        self.require(allowed)?;
        Ok(Principal {
            token_id: self.token_id.clone(),
            role: self.role,
            scope: self.scope.clone(),
        })
    }
}

/// The token of an `Authorization` header; the scheme name is
/// case-insensitive (RFC 9110).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ip = req.peer_addr().map(|a| super::limits::client_key(a.ip()));
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned);
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(ApiError::Unauthorized);
            };
            state.limits.before_login(ip)?;
            let Some(record) = tokens::find(&state.db, &hash_token(&token))
                .await?
                .filter(|t| t.is_live(state.dispatch.now()))
            else {
                return Err(state.limits.failed_login(ip));
            };
            tracing::Span::current().record("token_id", record.id.as_str());
            Ok(Caller {
                token_id: record.id,
                role: record.role,
                scope: record.scope,
                label: record.label,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer rn_x"), Some("rn_x"));
        assert_eq!(bearer("bearer  rn_x "), Some("rn_x"));
        assert_eq!(bearer("BEARER rn_x"), Some("rn_x"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("rn_x"), None);
    }
}

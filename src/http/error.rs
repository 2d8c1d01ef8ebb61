//! The HTTP layer's one error type and its single mapping to the API's JSON
//! error shape `{"error": {"code", "message", "details"}}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::basic::FieldError;
use crate::dispatch::DispatchError;
use crate::store::StoreError;

/// Every error answer, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: answers are written as JSON values"
)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_input`, `not_found`,
    /// `rate_limited`, `timeout`, `unavailable`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Null, or an object: `fields` (a list of `{field, message}`) for
    /// `invalid_input`, `problems` for `technician_unsuitable`, the import
    /// report for `invalid_rows`, `retry_after_s` for `rate_limited`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or out-of-range input.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// Well-formed input that fails validation (e.g. an import with bad rows).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("this action needs the {0} role")]
    Forbidden(String),
    /// The role may not do this to an object it can see.
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable,
    /// The answer was not ready within the configured time (milliseconds).
    #[error("the request took longer than {0} ms; try again later")]
    Timeout(u64),
    #[error("the address is longer than {0} bytes")]
    UriTooLong(usize),
    #[error("the request headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    /// A client over its request limit ([`super::limits`]).
    #[error("too many requests; try again in {retry_after_s} s")]
    TooManyRequests { retry_after_s: u64 },
    /// A fault of ours; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn invalid_fields(errors: &[FieldError]) -> Self {
        let message = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::BadRequest {
            code: "invalid_input",
            message,
            details: Some(json!({ "fields": errors })),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) | ApiError::NotPermitted(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable => "unavailable",
            ApiError::Timeout(_) => "timeout",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid_fields(&[e])
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(e: Vec<FieldError>) -> Self {
        ApiError::invalid_fields(&e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Duplicate(message) => ApiError::Conflict {
                code: "duplicate",
                message,
            },
            StoreError::Referenced(message) => ApiError::Conflict {
                code: "referenced",
                message,
            },
            e @ StoreError::StaleVersion => ApiError::Conflict {
                code: "stale_version",
                message: e.to_string(),
            },
            StoreError::Unavailable => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::reports::ReportError> for ApiError {
    fn from(e: crate::reports::ReportError) -> Self {
        use crate::reports::ReportError as R;
        match e {
            R::NotFound(m) => ApiError::NotFound(m),
            R::Invalid(m) => ApiError::bad_request("invalid_parameter", m),
            R::Store(s) => s.into(),
        }
    }
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::Invalid(errs) => ApiError::invalid_fields(&errs),
            DispatchError::BadRequest { code, message } => ApiError::BadRequest {
                code,
                message,
                details: None,
            },
            DispatchError::NotFound(m) => ApiError::NotFound(m),
            DispatchError::Forbidden(m) => ApiError::NotPermitted(m),
            DispatchError::Conflict { code, message } => ApiError::Conflict { code, message },
            DispatchError::Unprocessable {
                code,
                message,
                details,
            } => ApiError::Unprocessable {
                code,
                message,
                details,
            },
            DispatchError::Store(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotPermitted(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let details = match self {
            ApiError::BadRequest { details, .. } | ApiError::Unprocessable { details, .. } => {
                details.clone().unwrap_or(Value::Null)
            }
            ApiError::TooManyRequests { retry_after_s } => {
                json!({ "retry_after_s": retry_after_s })
            }
            _ => Value::Null,
        };
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after_s } => {
                res.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            // A restarting database is usually back within seconds.
            ApiError::Unavailable | ApiError::Timeout(_) => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        res.json(json!({"error": {
            "code": self.code(),
            "message": self.to_string(),
            "details": details,
        }}))
    }
}

//! The calls that need NinjaOne's `management` scope, with a token of their own: registering
//! and removing the webhook.

use reqwest::Method;

use super::decode::{api_error_detail, oauth_error, request_token};
use super::{MANAGEMENT_SCOPE, NinjaOneClient, WEBHOOK_PATH};
use crate::http::call::{Auth, Body, Call, Reply};
use crate::http::retry::{Counted, Replay};
use crate::http::secret::{Scrubber, Secret};
use crate::http::webhook::WebhookRegistration;
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

impl NinjaOneClient {
    /// Registers the webhook of this API application: `PUT /v2/webhook` with the URL, the
    /// activity filter (`activities.statusCode`), the expansions and the secret header, as
    /// NinjaOne documents it; it replaces any registration the application had. NinjaOne
    /// answers 204.
    ///
    /// This call (and [`delete_webhook`](Self::delete_webhook)) needs the `management` scope,
    /// which the API application must be allowed (NinjaOne wants a system administrator's
    /// application for webhooks). It is asked for here only, with a token of its own: every
    /// other call keeps the client's [`scope`](super::NinjaOneConfig::scope) (`monitoring`).
    ///
    /// # Guarantees
    /// The secret goes only into the request body: it is never logged, is not in the `Debug`
    /// of the registration, and is scrubbed from any server text quoted in an error. The
    /// request may be sent again after a 5xx or a timeout (the same registration twice is the
    /// registration once).
    ///
    /// # Errors
    /// [`ApiError`]: `Forbidden` when the application may not have the management scope (the
    /// token request is refused with `invalid_scope`) or the token lacks it
    /// (`insufficient_privileges`); `Unauthorized` for refused credentials; the usual kinds for
    /// transport failures.
    pub async fn register_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&registration.body()).map_err(|e| {
            ApiError::new(
                ApiErrorKind::Other,
                format!("the webhook registration could not be encoded: {e}"),
            )
        })?;
        let call = Call {
            method: Method::PUT,
            path: WEBHOOK_PATH.to_owned(),
            query: Vec::new(),
            body: Body::Json(body),
            counted: Counted::Write,
            replay: Replay::Safe,
            not_found_ok: false,
        };
        self.management_api(&call, Some(registration.secret()))
            .await?;
        Ok(())
    }

    /// Removes the webhook of this API application: `DELETE /v2/webhook` (204). Needs the
    /// `management` scope, asked for as by [`register_webhook`](Self::register_webhook).
    ///
    /// # Errors
    /// As [`register_webhook`](Self::register_webhook).
    pub async fn delete_webhook(&self) -> Result<(), ApiError> {
        let call = Call {
            method: Method::DELETE,
            path: WEBHOOK_PATH.to_owned(),
            query: Vec::new(),
            body: Body::Empty,
            counted: Counted::Write,
            replay: Replay::Safe,
            not_found_ok: false,
        };
        self.management_api(&call, None).await?;
        Ok(())
    }

    /// A token with the management scope, from its own cache.
    async fn management_token(&self) -> Result<Secret, ApiError> {
        let inner = &self.inner;
        inner
            .management_tokens
            .get(|_refresh| request_token(inner, MANAGEMENT_SCOPE, decode_management_oauth_error))
            .await
    }

    /// As [`api`](Self::api), with a management token; `extra` is scrubbed from the answer.
    async fn management_api(&self, call: &Call, extra: Option<&Secret>) -> Result<Reply, ApiError> {
        let token = self.management_token().await?;
        let transport = &self.inner.transport;
        match transport
            .send_scrubbing(call, Auth::Bearer(&token), decode_management_error, extra)
            .await
        {
            Err(e) if e.kind() == ApiErrorKind::Unauthorized => {
                tracing::debug!(path = %call.path, "management token refused; fetching a new one");
                self.inner.management_tokens.invalidate(&token).await;
                let fresh = self.management_token().await?;
                transport
                    .send_scrubbing(call, Auth::Bearer(&fresh), decode_management_error, extra)
                    .await
            }
            other => other,
        }
    }
}

/// [`decode_api_error`] for the webhook calls: a refusal names the management scope.
pub(super) fn decode_management_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    let (kind, detail) = api_error_detail(reply, scrub);
    let error = ApiError::new(
        kind,
        format!("NinjaOne answered {status} to {what}: {detail}"),
    );
    // As advice, not in the message: whoever reports the error adds no second fix.
    match kind {
        ApiErrorKind::Forbidden => error.with_advice(
            "webhooks need the management scope: allow it on the API application (a system \
             administrator's)",
        ),
        _ => match Remote::NinjaOne.action(kind) {
            Some(advice) if kind.is_auth() => error.with_advice(advice),
            _ => error,
        },
    }
}

/// [`decode_oauth_error`] for the management token: a refused scope says which one to allow.
pub(super) fn decode_management_oauth_error(
    reply: &Reply,
    scrub: &Scrubber,
    what: &str,
) -> ApiError {
    oauth_error(reply, scrub, what, MANAGEMENT_SCOPE)
}

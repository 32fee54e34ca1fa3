//! [`ServiceNowApi`](crate::ports::ServiceNowApi) for [`ServiceNowClient`]: companies,
//! accounts, incidents and cases, users, and the CMDB, each one call of the table or IRE helpers.

use async_trait::async_trait;
use serde_json::Value;

use crate::http::call::Call;
use crate::http::query::{EncodedQuery, Plugin};
use crate::model::{
    Case, CaseUpdate, CiItem, CiItemResult, CiOwner, Company, CustomerAccount, Incident,
    IncidentUpdate, NewCase, NewCompany, NewIncident, SysId, User, UserGroup, decode_rows,
};
use crate::ports::{ApiError, ApiErrorKind, IncidentQuery, Page, PageRequest, ServiceNowApi};

use super::cmdb::{IRE_PATH, IRE_QUERY_PATH, OWNERS_PER_QUERY};
use super::errors::result;
use super::tables::{Table, journal_replay, refused_query};
use super::{SERVICE, ServiceNowClient};

impl ServiceNowClient {
    fn ticket_query(query: &IncidentQuery) -> Result<EncodedQuery, ApiError> {
        let q = EncodedQuery::new().correlation_id_starts_with(&query.prefix);
        match query.created_since {
            Some(since) => q.created_on_or_after(since).map_err(refused_query),
            None => Ok(q),
        }
    }
}
#[async_trait]
impl ServiceNowApi for ServiceNowClient {
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
        self.list(Table::Company, EncodedQuery::new(), &page).await
    }

    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
        self.row(Table::Company, id).await
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError> {
        self.create(Table::Company, company).await
    }

    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        let table = Table::Plugin;
        let call = Call::get(
            table.path(),
            vec![
                (
                    "sysparm_query",
                    EncodedQuery::new()
                        .plugin(Plugin::CustomerService)
                        .to_string(),
                ),
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_limit", "1".to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
        );
        let what = call.describe();
        match self.send(&call).await {
            Ok(reply) => {
                let rows = result(reply.json(SERVICE, &what)?, &what)?;
                let Value::Array(rows) = rows else {
                    return Err(ApiError::new(
                        ApiErrorKind::InvalidResponse,
                        format!("ServiceNow answered {what} with a result that is not a list"),
                    ));
                };
                Ok(rows.iter().any(|row| {
                    row.get("id").and_then(Value::as_str) == Some(Plugin::CustomerService.id())
                        && matches!(
                            row.get("active").and_then(Value::as_str),
                            Some("active" | "true")
                        )
                }))
            }
            // The user may not read v_plugin: probe the table instead.
            Err(e) if matches!(e.kind(), ApiErrorKind::Forbidden | ApiErrorKind::NotFound) => {
                match self
                    .list::<Value>(
                        Table::CustomerAccount,
                        EncodedQuery::new(),
                        &PageRequest::first(1),
                    )
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == ApiErrorKind::NotFound => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn customer_accounts(
        &self,
        page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        self.list(Table::CustomerAccount, EncodedQuery::new(), &page)
            .await
    }

    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        self.row(Table::CustomerAccount, id).await
    }

    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        self.list(Table::Incident, Self::ticket_query(query)?, &page)
            .await
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError> {
        self.create(Table::Incident, incident).await
    }

    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        self.update(
            Table::Incident,
            id,
            update,
            journal_replay(update.work_notes.as_ref()),
        )
        .await
    }

    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.ire(IRE_PATH, data_source, items, true).await
    }

    async fn cases(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Case>, ApiError> {
        self.list(Table::Case, Self::ticket_query(query)?, &page)
            .await
    }

    async fn create_case(&self, case: &NewCase) -> Result<Case, ApiError> {
        self.create(Table::Case, case).await
    }

    async fn update_case(&self, id: &SysId, update: &CaseUpdate) -> Result<Case, ApiError> {
        self.update(
            Table::Case,
            id,
            update,
            journal_replay(update.work_notes.as_ref()),
        )
        .await
    }

    async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError> {
        self.row(Table::UserGroup, id).await
    }

    async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError> {
        self.row(Table::User, id).await
    }

    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.ire(IRE_QUERY_PATH, data_source, items, false).await
    }

    async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError> {
        let mut owners = Vec::new();
        for chunk in ids.chunks(OWNERS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            // Only validated sys_ids (32 hex digits) go into the query: no free text.
            let list: Vec<&str> = chunk.iter().map(SysId::as_str).collect();
            let call = Call::get(
                "/api/now/table/cmdb_ci".to_owned(),
                vec![
                    ("sysparm_query", format!("sys_idIN{}", list.join(","))),
                    ("sysparm_limit", chunk.len().to_string()),
                    (
                        "sysparm_fields",
                        "sys_id,name,sys_class_name,company".to_owned(),
                    ),
                    ("sysparm_exclude_reference_link", "true".to_owned()),
                ],
            );
            let what = call.describe();
            let reply = self.send(&call).await?;
            let rows = result(reply.json(SERVICE, &what)?, &what)?;
            if !rows.is_array() {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!("ServiceNow answered {what} with a result that is not a list"),
                ));
            }
            let (found, rejected) = decode_rows::<CiOwner>(rows);
            if let Some(first) = rejected.first() {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!("ServiceNow answered {what} with a CI that cannot be read: {first}"),
                ));
            }
            owners.extend(found);
        }
        Ok(owners)
    }
}

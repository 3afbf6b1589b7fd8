//! The request memory in a DynamoDB table (`IDEMPOTENCY_TABLE`): one item per request, its
//! partition key `id` (a string), TTL on `expires_at`. Every read is strongly consistent;
//! every write is conditional, so two attempts never both hold a request:
//!
//! - create: `attribute_not_exists(id) OR expires_at < :now` (absent, or expired but not yet
//!   deleted by TTL);
//! - take over, record: `version = :claimed`.
//!
//! A lost race reads the item again (at most `CLAIM_ROUNDS` times).
//!
//! Cost (on-demand): a new request is 1 strongly consistent read (0.5 RRU... rounded to 1 per
//! 4 KB) and 2 writes of about 1 KB each when its answer is a summary, more WRUs when the
//! per-record answer is stored (1 WRU per KB): docs/reference/idempotency.md.

use super::{
    decide, epoch_ms, expires_at, new_item, Claim, Decision, Item, MemoryError, PutSet, Recorded,
    RequestMemory, State,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::SystemTime;

/// Reads and conditional writes before a contended claim gives up (503 to the sender).
pub const CLAIM_ROUNDS: usize = 4;

pub struct DynamoRequests {
    client: Client,
    table: String,
}

impl DynamoRequests {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Item>, MemoryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| MemoryError(format!("GetItem: {}", describe(&e))))?;
        Ok(out.item.as_ref().and_then(parse_item))
    }
}

fn describe<E: std::error::Error + 'static>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The attributes, each by a placeholder: several are DynamoDB reserved words (`state`,
/// ...).
const NAMES: [(&str, &str); 8] = [
    ("#v", "version"),
    ("#s", "state"),
    ("#l", "lease_until"),
    ("#e", "expires_at"),
    ("#p", "put"),
    ("#o", "outcomes"),
    ("#as", "answer_status"),
    ("#a", "answer"),
];

const TAKE_OVER: &str = "SET #v = :next, #s = :s, #l = :lease, #e = :exp";

/// The placeholders `expression` uses, and only those (DynamoDB refuses unused ones).
fn names(expression: &str) -> HashMap<String, String> {
    NAMES
        .iter()
        .filter(|(k, _)| {
            expression.match_indices(k).any(|(i, _)| {
                !expression[i + k.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
            })
        })
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn parse_item(item: &HashMap<String, AttributeValue>) -> Option<Item> {
    let json = |name| get_s(item, name).and_then(|t| serde_json::from_str(t).ok());
    Some(Item {
        digest: get_s(item, "digest")?.to_owned(),
        state: State::parse(get_s(item, "state")?)?,
        version: get_n(item, "version")?,
        lease_until_ms: get_n(item, "lease_until").unwrap_or(0),
        expires_at_s: get_n(item, "expires_at")?,
        put: PutSet::from_bytes(
            item.get("put")
                .and_then(|v| v.as_b().ok())
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
        ),
        outcomes: json("outcomes"),
        answer: get_n(item, "answer_status")
            .and_then(|s| u16::try_from(s).ok())
            .zip(json("answer")),
    })
}

fn is_condition_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

#[async_trait]
impl RequestMemory for DynamoRequests {
    async fn claim(
        &self,
        id: &str,
        digest: &str,
        entries: usize,
        now: SystemTime,
    ) -> Result<Claim, MemoryError> {
        for _ in 0..CLAIM_ROUNDS {
            let found = self.get(id).await?;
            match decide(found.as_ref(), digest, now) {
                Decision::Answer(claim) => return Ok(claim),
                Decision::Create => {
                    let item = new_item(digest, entries, now);
                    let put = self
                        .client
                        .put_item()
                        .table_name(&self.table)
                        .item("id", AttributeValue::S(id.to_owned()))
                        .item("digest", AttributeValue::S(item.digest.clone()))
                        .item("state", AttributeValue::S(item.state.as_str().into()))
                        .item("version", n(item.version))
                        .item("lease_until", n(item.lease_until_ms))
                        .item("expires_at", n(item.expires_at_s))
                        .item("put", AttributeValue::B(Blob::new(item.put.as_bytes())))
                        .condition_expression("attribute_not_exists(#id) OR #e < :now")
                        .expression_attribute_names("#id", "id")
                        .expression_attribute_names("#e", "expires_at")
                        .expression_attribute_values(":now", n(epoch_ms(now) / 1000))
                        .send()
                        .await;
                    match put {
                        Ok(_) => {
                            return Ok(Claim::New {
                                version: item.version,
                            })
                        }
                        Err(e) if is_condition_failure(&e) => continue,
                        Err(e) => return Err(MemoryError(format!("PutItem: {}", describe(&e)))),
                    }
                }
                Decision::TakeOver { version } => {
                    let fresh = new_item(digest, entries, now);
                    let update = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key("id", AttributeValue::S(id.to_owned()))
                        .update_expression(TAKE_OVER)
                        .condition_expression("#v = :v")
                        .set_expression_attribute_names(Some(names(TAKE_OVER)))
                        .expression_attribute_values(":next", n(version + 1))
                        .expression_attribute_values(":s", AttributeValue::S("in_flight".into()))
                        .expression_attribute_values(":lease", n(fresh.lease_until_ms))
                        .expression_attribute_values(":exp", n(fresh.expires_at_s))
                        .expression_attribute_values(":v", n(version))
                        .send()
                        .await;
                    match update {
                        Ok(_) => {
                            let item = found.expect("decided on an item");
                            return Ok(Claim::Resume {
                                version: version + 1,
                                put: item.put,
                                outcomes: item.outcomes,
                            });
                        }
                        Err(e) if is_condition_failure(&e) => continue,
                        Err(e) => return Err(MemoryError(format!("UpdateItem: {}", describe(&e)))),
                    }
                }
            }
        }
        Err(MemoryError(format!(
            "request {id} changed under {CLAIM_ROUNDS} claims in a row"
        )))
    }

    async fn record(
        &self,
        id: &str,
        version: u64,
        recorded: Recorded,
        now: SystemTime,
    ) -> Result<bool, MemoryError> {
        let mut set = vec!["#s = :s", "#p = :put", "#l = :zero", "#e = :exp"];
        let mut remove = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .condition_expression("#v = :v")
            .expression_attribute_values(":s", AttributeValue::S(recorded.state.as_str().into()))
            .expression_attribute_values(
                ":put",
                AttributeValue::B(Blob::new(recorded.put.as_bytes())),
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":exp", n(expires_at(now)))
            .expression_attribute_values(":v", n(version));
        match &recorded.outcomes {
            Some(o) => {
                set.push("#o = :o");
                update = update.expression_attribute_values(":o", AttributeValue::S(o.to_string()));
            }
            None => remove.push("#o"),
        }
        match &recorded.answer {
            Some((status, body)) => {
                set.push("#as = :as");
                set.push("#a = :a");
                update = update
                    .expression_attribute_values(":as", n(u64::from(*status)))
                    .expression_attribute_values(":a", AttributeValue::S(body.to_string()));
            }
            None => {
                remove.push("#as");
                remove.push("#a");
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let used = names(&format!("{expression} #v"));
        let update = update
            .update_expression(expression)
            .set_expression_attribute_names(Some(used));
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(MemoryError(format!("UpdateItem: {}", describe(&e)))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_placeholders_an_expression_uses_are_named() {
        let used = super::names("SET #a = :a, #s = :s REMOVE #o");
        let mut keys: Vec<&str> = used.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["#a", "#o", "#s"], "#as is not #a");
        assert_eq!(super::names(super::TAKE_OVER).len(), 4);
    }
}

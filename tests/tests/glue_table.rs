//! batch-to-s3's Glue table against the local stack (moto's Glue and S3), through the real
//! aws-sdk-glue: created on the first invocation with the columns, SerDe and partition
//! projection Athena needs, extended when `SCHEMA` gains a column, never retyped.
//!
//! moto gap: UpdateTable ignores `VersionId` (a stale one succeeds; real Glue answers
//! ConcurrentModificationException), so the retry on a concurrent change is tested against
//! in-memory Glue (`trickle_glue::MemoryGlueTables`, in functions/batch-to-s3/src/glue/mod.rs's
//! tests), not here.
//!
//! Run: `source .local/stack.env && cargo test -p trickle-tests --test glue_table`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_glue::types::{Column, DatabaseInput, StorageDescriptor, Table, TableInput};
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::BatchToS3;
use std::collections::HashMap;
use trickle_glue::SdkGlueTables;
use trickle_tests::{
    batch_to_s3_config, create_bucket, kinesis_event_json, sdk_config, unique_name,
};

/// The hour of the fixture records' arrival (1718000000 = 2024-06-10T06:13:20Z).
const DATEHOUR: &str = "2024/06/10/06";

fn event(range: std::ops::Range<usize>, data: impl Fn(usize) -> String) -> KinesisEvent {
    serde_json::from_value(kinesis_event_json(range, data)).expect("a Kinesis event")
}

/// A Glue client for the local stack and a new database in it.
async fn database() -> (aws_sdk_glue::Client, String) {
    let glue = aws_sdk_glue::Client::new(&sdk_config().await);
    // Athena allows no '-' in database names.
    let name = unique_name("trickle").replace('-', "_");
    glue.create_database()
        .database_input(DatabaseInput::builder().name(&name).build().unwrap())
        .send()
        .await
        .expect("CreateDatabase on the local stack");
    (glue, name)
}

async fn table(glue: &aws_sdk_glue::Client, database: &str, name: &str) -> Table {
    glue.get_table()
        .database_name(database)
        .name(name)
        .send()
        .await
        .expect("GetTable")
        .table
        .expect("a table")
}

fn columns(columns: &[Column]) -> Vec<(&str, &str)> {
    columns
        .iter()
        .map(|c| (c.name.as_str(), c.r#type.as_deref().unwrap_or_default()))
        .collect()
}

fn data_columns(t: &Table) -> Vec<(&str, &str)> {
    columns(
        t.storage_descriptor()
            .expect("a storage descriptor")
            .columns(),
    )
}

fn parameters(t: &Table) -> HashMap<String, String> {
    t.parameters.clone().unwrap_or_default()
}

fn expected(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// The key prefix Athena computes for a partition from `storage.location.template`.
fn projected_prefix(template: &str, bucket: &str, values: &[(&str, &str)]) -> String {
    let mut path = template
        .strip_prefix(&format!("s3://{bucket}/"))
        .expect("the template is in the bucket")
        .to_owned();
    for (column, value) in values {
        path = path.replace(&format!("${{{column}}}"), value);
    }
    assert!(!path.contains("${"), "{path}: a column without a value");
    path
}

#[tokio::test]
async fn a_parquet_table_is_created_with_projection_and_then_extended() {
    let (s3, bucket) = create_bucket("glue").await;
    let (glue, db) = database().await;
    let settings = |schema: &'static str| {
        batch_to_s3_config(
            &bucket,
            &[
                ("PREFIX", "raw/"),
                ("FORMAT", "parquet"),
                ("SCHEMA", schema),
                ("GLUE_DATABASE", &db),
                ("GLUE_TABLE", "Events"),
            ],
        )
    };
    let record = |i: usize| format!(r#"{{"id":{i},"name":"n{i}","score":{i}.5,"note":"x"}}"#);

    let first = BatchToS3::new(
        settings("id bigint, name string, score double"),
        S3Store::new(s3.clone(), &bucket),
    )
    .with_catalog(SdkGlueTables::new(glue.clone(), &db));
    let out = first
        .process(event(0..3, record), None)
        .await
        .expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.objects_written, 1);
    assert_eq!(out.summary.catalog_failures, 0);
    assert_eq!(out.summary.catalog_columns_added, 0);

    let t = table(&glue, &db, "events").await;
    assert_eq!(t.table_type(), Some("EXTERNAL_TABLE"));
    assert_eq!(
        data_columns(&t),
        [
            ("id", "bigint"),
            ("name", "string"),
            ("score", "double"),
            ("_extra", "string"),
        ]
    );
    assert_eq!(columns(t.partition_keys()), [("datehour", "string")]);
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some(format!("s3://{bucket}/raw/").as_str()));
    assert_eq!(
        sd.input_format(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    );
    assert_eq!(
        sd.output_format(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    );
    let serde = sd.serde_info().expect("a SerDe");
    assert_eq!(
        serde.serialization_library(),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    let template = format!("s3://{bucket}/raw/${{datehour}}/");
    assert_eq!(
        parameters(&t),
        expected(&[
            ("EXTERNAL", "TRUE"),
            ("classification", "parquet"),
            ("projection.enabled", "true"),
            ("projection.datehour.type", "date"),
            ("projection.datehour.format", "yyyy/MM/dd/HH"),
            ("projection.datehour.range", "2020/01/01/00,NOW"),
            ("projection.datehour.interval", "1"),
            ("projection.datehour.interval.unit", "HOURS"),
            ("storage.location.template", &template),
            ("trickle.schema", "id bigint, name string, score double"),
        ])
    );
    // The partition Athena projects for the records' hour holds the object written.
    let stored = keys(&s3, &bucket, "raw/").await;
    let prefix = projected_prefix(&template, &bucket, &[("datehour", DATEHOUR)]);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with(&prefix), "{stored:?} vs {prefix}");
    assert!(stored[0].ends_with(".parquet"), "{stored:?}");

    // A later deployment: SCHEMA gained `city` and retypes `score`.
    let second = BatchToS3::new(
        settings("id bigint, name string, score string, city string"),
        S3Store::new(s3.clone(), &bucket),
    )
    .with_catalog(SdkGlueTables::new(glue.clone(), &db));
    let out = second
        .process(event(3..5, record), None)
        .await
        .expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.objects_written, 1);
    assert_eq!(out.summary.catalog_failures, 0);
    assert_eq!(out.summary.catalog_columns_added, 1);
    assert_eq!(out.summary.catalog_type_conflicts, 1);
    assert_eq!(out.summary.emf(0)["CatalogTypeConflicts"], 1);
    let t2 = table(&glue, &db, "events").await;
    assert_eq!(
        data_columns(&t2),
        [
            ("id", "bigint"),
            ("name", "string"),
            ("score", "double"),
            ("_extra", "string"),
            ("city", "string"),
        ]
    );
    assert_eq!(t2.partition_keys(), t.partition_keys());
    assert_eq!(t2.storage_descriptor().unwrap().serde_info(), Some(serde));
    let mut params = parameters(&t);
    params.insert(
        "trickle.schema".into(),
        "id bigint, name string, score string, city string".into(),
    );
    assert_eq!(parameters(&t2), params);
    assert_ne!(t2.version_id(), t.version_id());

    // The table is looked at once per container: a later invocation leaves it alone, even
    // when it no longer matches.
    let out = second
        .process(event(5..6, record), None)
        .await
        .expect("event");
    assert_eq!(out.summary.catalog_type_conflicts, 0);
    assert_eq!(
        table(&glue, &db, "events").await.version_id(),
        t2.version_id()
    );
}

#[tokio::test]
async fn an_ndjson_table_with_the_hive_layout_projects_an_injected_partition() {
    let (s3, bucket) = create_bucket("glue").await;
    let (glue, db) = database().await;
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("PREFIX", "json/"),
                ("KEY_LAYOUT", "hive"),
                ("OBJECT_PARTITION_POINTER", "/customer"),
                ("SCHEMA", "n int, tags array<string>"),
                ("GLUE_DATABASE", &db),
                ("GLUE_TABLE", "clicks"),
            ],
        ),
        S3Store::new(s3.clone(), &bucket),
    )
    .with_catalog(SdkGlueTables::new(glue.clone(), &db));
    let out = f
        .process(
            event(0..2, |i| {
                format!(r#"{{"customer":"acme","n":{i},"tags":[]}}"#)
            }),
            None,
        )
        .await
        .expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.catalog_failures, 0);

    let t = table(&glue, &db, "clicks").await;
    // No extra column: an NDJSON line keeps every field.
    assert_eq!(data_columns(&t), [("n", "int"), ("tags", "array<string>")]);
    assert_eq!(
        columns(t.partition_keys()),
        [
            ("customer", "string"),
            ("year", "string"),
            ("month", "string"),
            ("day", "string"),
            ("hour", "string"),
        ]
    );
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some(format!("s3://{bucket}/json/").as_str()));
    assert_eq!(
        sd.input_format(),
        Some("org.apache.hadoop.mapred.TextInputFormat")
    );
    assert_eq!(
        sd.output_format(),
        Some("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
    );
    let serde = sd.serde_info().expect("a SerDe");
    assert_eq!(
        serde.serialization_library(),
        Some("org.openx.data.jsonserde.JsonSerDe")
    );
    assert_eq!(
        serde.parameters.clone().unwrap_or_default(),
        expected(&[("case.insensitive", "true")])
    );
    let template = format!(
        "s3://{bucket}/json/customer=${{customer}}/year=${{year}}/month=${{month}}/day=${{day}}/hour=${{hour}}/"
    );
    assert_eq!(
        parameters(&t),
        expected(&[
            ("EXTERNAL", "TRUE"),
            ("classification", "json"),
            ("projection.enabled", "true"),
            ("projection.customer.type", "injected"),
            ("projection.year.type", "integer"),
            ("projection.year.range", "2020,2100"),
            ("projection.month.type", "integer"),
            ("projection.month.range", "1,12"),
            ("projection.month.digits", "2"),
            ("projection.day.type", "integer"),
            ("projection.day.range", "1,31"),
            ("projection.day.digits", "2"),
            ("projection.hour.type", "integer"),
            ("projection.hour.range", "0,23"),
            ("projection.hour.digits", "2"),
            ("storage.location.template", &template),
            ("trickle.schema", "n int, tags array<string>"),
        ])
    );
    let stored = keys(&s3, &bucket, "json/").await;
    let prefix = projected_prefix(
        &template,
        &bucket,
        &[
            ("customer", "acme"),
            ("year", "2024"),
            ("month", "06"),
            ("day", "10"),
            ("hour", "06"),
        ],
    );
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with(&prefix), "{stored:?} vs {prefix}");
    assert!(stored[0].ends_with(".ndjson.gz"), "{stored:?}");
}

#[tokio::test]
async fn a_table_made_by_hand_keeps_its_other_properties_when_extended() {
    let (s3, bucket) = create_bucket("glue").await;
    let (glue, db) = database().await;
    let column = |name: &str, ty: &str| Column::builder().name(name).r#type(ty).build().unwrap();
    glue.create_table()
        .database_name(&db)
        .table_input(
            TableInput::builder()
                .name("manual")
                .description("made in the console")
                .table_type("EXTERNAL_TABLE")
                .parameters("owner.team", "data")
                .partition_keys(column("datehour", "string"))
                .storage_descriptor(
                    StorageDescriptor::builder()
                        .location(format!("s3://{bucket}/"))
                        .columns(
                            Column::builder()
                                .name("n")
                                .r#type("INT")
                                .comment("kept")
                                .build()
                                .unwrap(),
                        )
                        .columns(column("legacy", "string"))
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateTable");
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("SCHEMA", "n int, added date"),
                ("GLUE_DATABASE", &db),
                ("GLUE_TABLE", "manual"),
            ],
        ),
        S3Store::new(s3.clone(), &bucket),
    )
    .with_catalog(SdkGlueTables::new(glue.clone(), &db));
    let out = f
        .process(event(0..1, |i| format!(r#"{{"n":{i}}}"#)), None)
        .await
        .expect("event");
    assert_eq!(out.summary.catalog_columns_added, 1);
    // `INT` is `int`: no conflict.
    assert_eq!(out.summary.catalog_type_conflicts, 0);
    let t = table(&glue, &db, "manual").await;
    assert_eq!(
        data_columns(&t),
        [("n", "INT"), ("legacy", "string"), ("added", "date")]
    );
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.columns()[0].comment(), Some("kept"));
    assert_eq!(t.description(), Some("made in the console"));
    assert_eq!(parameters(&t)["owner.team"], "data");
    assert_eq!(parameters(&t)["trickle.schema"], "n int, added date");
    // Only columns are changed: the table's own SerDe and parameters are not replaced.
    assert!(sd
        .serde_info()
        .and_then(|s| s.serialization_library())
        .is_none());
    assert!(!parameters(&t).contains_key("projection.enabled"));
}

#[tokio::test]
async fn a_missing_database_is_counted_and_tried_again_while_writing_goes_on() {
    let (s3, bucket) = create_bucket("glue").await;
    let glue = aws_sdk_glue::Client::new(&sdk_config().await);
    let db = unique_name("later").replace('-', "_");
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("SCHEMA", "n int"),
                ("GLUE_DATABASE", &db),
                ("GLUE_TABLE", "t"),
            ],
        ),
        S3Store::new(s3.clone(), &bucket),
    )
    .with_catalog(SdkGlueTables::new(glue.clone(), &db));
    let record = |i: usize| format!(r#"{{"n":{i}}}"#);
    let out = f.process(event(0..1, record), None).await.expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.objects_written, 1);
    assert_eq!(out.summary.catalog_failures, 1);
    assert_eq!(out.summary.emf(0)["CatalogUpdateFailures"], 1);

    glue.create_database()
        .database_input(DatabaseInput::builder().name(&db).build().unwrap())
        .send()
        .await
        .expect("CreateDatabase");
    let out = f.process(event(1..2, record), None).await.expect("event");
    assert_eq!(out.summary.catalog_failures, 0);
    assert_eq!(data_columns(&table(&glue, &db, "t").await), [("n", "int")]);
    assert_eq!(
        keys(&s3, &bucket, "").await.len(),
        3,
        "two objects and the mark"
    );
}

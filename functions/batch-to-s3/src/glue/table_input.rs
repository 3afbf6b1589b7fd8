//! The mapping between a Glue table and `TableDef` (pure): `table_def` reads a table as
//! `TableDef` holds it, `table_input` builds the `TableInput` that creates one, or updates
//! one on top of the table as read, keeping what `TableDef` does not hold.

use super::CatalogError;
use crate::catalog::{ColumnDef, TableDef};
use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, Table, TableInput};
use std::collections::{BTreeMap, HashMap};

fn column_def(c: &Column) -> ColumnDef {
    ColumnDef::new(&c.name, c.r#type.clone().unwrap_or_default())
}

fn sorted(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.to_owned()).filter(|s| !s.is_empty())
}

/// The table as `TableDef` holds it.
pub fn table_def(t: &Table) -> TableDef {
    let sd = t.storage_descriptor.as_ref();
    let serde = sd.and_then(|s| s.serde_info.as_ref());
    TableDef {
        name: t.name.clone(),
        table_type: t.table_type.clone().unwrap_or_default(),
        columns: sd
            .map(|s| s.columns().iter().map(column_def).collect())
            .unwrap_or_default(),
        partition_keys: t.partition_keys().iter().map(column_def).collect(),
        location: sd.and_then(|s| s.location.clone()).unwrap_or_default(),
        serde_library: serde
            .and_then(|s| s.serialization_library.clone())
            .unwrap_or_default(),
        serde_parameters: sorted(serde.and_then(|s| s.parameters.as_ref())),
        input_format: sd.and_then(|s| s.input_format.clone()).unwrap_or_default(),
        output_format: sd.and_then(|s| s.output_format.clone()).unwrap_or_default(),
        parameters: sorted(t.parameters.as_ref()),
    }
}

/// Glue columns for `wanted`, reusing a column of `base` with the same name and type so
/// that its comment and parameters stay.
fn columns(wanted: &[ColumnDef], base: &[Column]) -> Result<Vec<Column>, CatalogError> {
    wanted
        .iter()
        .map(|w| match base.iter().find(|b| b.name == w.name) {
            Some(b) if b.r#type.as_deref() == Some(w.ty.as_str()) => Ok(b.clone()),
            _ => Column::builder()
                .name(&w.name)
                .r#type(&w.ty)
                .build()
                .map_err(|e| invalid(&w.name, e)),
        })
        .collect()
}

fn invalid(table: &str, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Invalid {
        table: table.to_owned(),
        message: e.to_string(),
    }
}

/// The `TableInput` for `def`: on top of `base` (the table as stored, every field carried
/// over by `trickle_glue::table_input`) when updating, so that what `TableDef` does not hold
/// (description, owner, retention, storage parameters, column comments, ...) is kept.
pub(crate) fn table_input(
    def: &TableDef,
    base: Option<&Table>,
) -> Result<TableInput, CatalogError> {
    let mut input = match base {
        Some(t) => trickle_glue::table_input(t),
        None => TableInput::builder()
            .name(&def.name)
            .build()
            .map_err(|e| invalid(&def.name, e))?,
    };
    input.name = def.name.clone();
    let base_sd = base.and_then(|t| t.storage_descriptor.as_ref());
    let mut sd = input
        .storage_descriptor
        .take()
        .unwrap_or_else(|| StorageDescriptor::builder().build());
    let mut serde = sd
        .serde_info
        .take()
        .unwrap_or_else(|| SerDeInfo::builder().build());
    serde.serialization_library = non_empty(&def.serde_library);
    serde.parameters = Some(def.serde_parameters.clone().into_iter().collect());
    sd.serde_info = Some(serde);
    sd.columns = Some(columns(
        &def.columns,
        base_sd.map(|s| s.columns()).unwrap_or_default(),
    )?);
    sd.location = non_empty(&def.location);
    sd.input_format = non_empty(&def.input_format);
    sd.output_format = non_empty(&def.output_format);
    input.storage_descriptor = Some(sd);
    input.partition_keys = Some(columns(
        &def.partition_keys,
        base.map(|t| t.partition_keys()).unwrap_or_default(),
    )?);
    input.table_type = non_empty(&def.table_type);
    input.parameters = Some(def.parameters.clone().into_iter().collect());
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::table_definition;
    use crate::Config;
    use trickle_shared::config::map_lookup;

    #[test]
    fn an_update_keeps_what_table_def_does_not_hold() {
        let mut sd = StorageDescriptor::builder()
            .location("s3://b/raw/")
            .compressed(true)
            .parameters("storage", "kept")
            .columns(
                Column::builder()
                    .name("a")
                    .r#type("int")
                    .comment("the a")
                    .build()
                    .unwrap(),
            )
            .build();
        sd.serde_info = Some(
            SerDeInfo::builder()
                .name("serde-name")
                .serialization_library("lib")
                .build(),
        );
        let base = Table::builder()
            .name("t")
            .description("described")
            .owner("someone")
            .retention(7)
            .storage_descriptor(sd)
            .parameters("p", "1")
            .version_id("3")
            .build()
            .unwrap();
        let mut def = table_def(&base);
        assert_eq!(def.columns, [ColumnDef::new("a", "int")]);
        def.columns.push(ColumnDef::new("b", "string"));
        let input = table_input(&def, Some(&base)).unwrap();
        assert_eq!(input.description(), Some("described"));
        assert_eq!(input.owner(), Some("someone"));
        assert_eq!(input.retention(), 7);
        let sd = input.storage_descriptor().unwrap();
        assert!(sd.compressed);
        assert_eq!(sd.parameters.as_ref().unwrap()["storage"], "kept");
        assert_eq!(
            sd.serde_info.as_ref().unwrap().name.as_deref(),
            Some("serde-name")
        );
        let cols: Vec<_> = sd
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.comment.as_deref()))
            .collect();
        assert_eq!(cols, [("a", Some("the a")), ("b", None)]);
        assert_eq!(input.parameters().unwrap()["p"], "1");
        assert_eq!(
            table_def(&trickle_glue::table::memory::stored_table(&input, 4)),
            def
        );
    }

    #[test]
    fn a_created_table_reads_back_as_defined() {
        let config = Config::from_lookup(map_lookup(&[
            ("BUCKET_NAME", "b"),
            ("FORMAT", "parquet"),
            ("SCHEMA", "a int, g struct<x:double>"),
            ("GLUE_DATABASE", "db"),
            ("GLUE_TABLE", "t"),
            ("OBJECT_PARTITION_POINTER", "/c"),
        ]))
        .unwrap();
        let def = table_definition(&config).unwrap();
        let input = table_input(&def, None).unwrap();
        assert_eq!(
            table_def(&trickle_glue::table::memory::stored_table(&input, 1)),
            def
        );
    }
}

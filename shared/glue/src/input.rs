//! The `TableInput` that carries over everything a table read by `GetTable` holds: the
//! start of every update, since `UpdateTable` replaces the whole table and keeps nothing its
//! input leaves out (description, owner, retention, parameters, the storage descriptor with
//! its SerDe, formats and location, partition keys, table type, view texts and definition,
//! the target and federated table). A writer changes only the parts it owns on this copy.
//!
//! Left out are the fields Glue sets itself and a `TableInput` cannot carry: database and
//! catalog ids, create and update times, `CreatedBy`, `VersionId`, Lake Formation
//! registration, status and the like.

use aws_sdk_glue::types::{
    Table, TableInput, ViewDefinition, ViewDefinitionInput, ViewRepresentation,
    ViewRepresentationInput,
};

/// Copies the fields `Table` and `TableInput` have in common (same name, same type) from
/// `$from` to `$to`: one list for both directions (`memory.rs` stores an input as a table).
macro_rules! copy_common_fields {
    ($to:expr, $from:expr) => {
        $to.description = $from.description.clone();
        $to.owner = $from.owner.clone();
        $to.last_access_time = $from.last_access_time;
        $to.last_analyzed_time = $from.last_analyzed_time;
        $to.retention = $from.retention;
        $to.storage_descriptor = $from.storage_descriptor.clone();
        $to.partition_keys = $from.partition_keys.clone();
        $to.view_original_text = $from.view_original_text.clone();
        $to.view_expanded_text = $from.view_expanded_text.clone();
        $to.table_type = $from.table_type.clone();
        $to.parameters = $from.parameters.clone();
        $to.target_table = $from.target_table.clone();
        $to.federated_table = $from.federated_table.clone();
    };
}
pub(crate) use copy_common_fields;

/// `table` as an input for `UpdateTable`, with every field a `TableInput` can hold.
pub fn table_input(table: &Table) -> TableInput {
    // `TableInput`'s builder fails only without a name, and a `Table` always has one; the
    // fields are public, so the copy is made field by field on an input named alike.
    let mut input = TableInput::builder()
        .name(&table.name)
        .build()
        .unwrap_or_else(|_| unreachable!("a TableInput with a name always builds"));
    copy_common_fields!(input, table);
    // The one field whose type differs: a view's definition as read and as written.
    input.view_definition = table.view_definition.as_ref().map(view_definition_input);
    input
}

fn view_definition_input(v: &ViewDefinition) -> ViewDefinitionInput {
    ViewDefinitionInput::builder()
        .set_is_protected(v.is_protected)
        .set_is_managed(v.is_managed)
        .set_definer(v.definer.clone())
        .set_representations(
            v.representations
                .as_ref()
                .map(|r| r.iter().map(view_representation_input).collect()),
        )
        .view_version_id(v.view_version_id)
        .set_view_version_token(v.view_version_token.clone())
        .set_refresh_seconds(v.refresh_seconds)
        .set_last_refresh_type(v.last_refresh_type.clone())
        .set_sub_objects(v.sub_objects.clone())
        .set_sub_object_version_ids(v.sub_object_version_ids.clone())
        .set_sub_objects_statistics(v.sub_objects_statistics.clone())
        .set_spark_pipeline_info(v.spark_pipeline_info.clone())
        .build()
}

fn view_representation_input(r: &ViewRepresentation) -> ViewRepresentationInput {
    ViewRepresentationInput::builder()
        .set_dialect(r.dialect.clone())
        .set_dialect_version(r.dialect_version.clone())
        .set_view_original_text(r.view_original_text.clone())
        .set_validation_connection(r.validation_connection.clone())
        .set_view_expanded_text(r.view_expanded_text.clone())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor};

    /// A table as another engine leaves it: every property a writer does not own set.
    pub(crate) fn foreign_table() -> Table {
        let sd = StorageDescriptor::builder()
            .location("s3://b/t")
            .input_format("in")
            .output_format("out")
            .compressed(true)
            .number_of_buckets(4)
            .parameters("storage", "kept")
            .columns(
                Column::builder()
                    .name("a")
                    .r#type("int")
                    .comment("the a")
                    .build()
                    .unwrap(),
            )
            .serde_info(
                SerDeInfo::builder()
                    .name("serde")
                    .serialization_library("lib")
                    .parameters("serialization.format", "1")
                    .build(),
            )
            .build();
        Table::builder()
            .name("t")
            .database_name("db")
            .description("described")
            .owner("someone")
            .retention(7)
            .storage_descriptor(sd)
            .partition_keys(
                Column::builder()
                    .name("p")
                    .r#type("string")
                    .build()
                    .unwrap(),
            )
            .table_type("EXTERNAL_TABLE")
            .parameters("theirs", "1")
            .view_original_text("original")
            .version_id("3")
            .created_by("arn:them")
            .build()
            .unwrap()
    }

    #[test]
    fn carries_over_every_field_an_input_can_hold() {
        let t = foreign_table();
        let input = table_input(&t);
        assert_eq!(input.name, "t");
        assert_eq!(input.description.as_deref(), Some("described"));
        assert_eq!(input.owner.as_deref(), Some("someone"));
        assert_eq!(input.retention, 7);
        assert_eq!(input.storage_descriptor, t.storage_descriptor);
        assert_eq!(input.partition_keys, t.partition_keys);
        assert_eq!(input.table_type.as_deref(), Some("EXTERNAL_TABLE"));
        assert_eq!(input.parameters, t.parameters);
        assert_eq!(input.view_original_text.as_deref(), Some("original"));
    }

    #[test]
    fn carries_over_a_view_definition() {
        let mut t = foreign_table();
        t.view_definition = Some(
            ViewDefinition::builder()
                .definer("arn:definer")
                .is_protected(true)
                .representations(
                    ViewRepresentation::builder()
                        .view_original_text("select 1")
                        .build(),
                )
                .build(),
        );
        let v = table_input(&t).view_definition.unwrap();
        assert_eq!(v.definer.as_deref(), Some("arn:definer"));
        assert_eq!(v.is_protected, Some(true));
        assert_eq!(
            v.representations.unwrap()[0].view_original_text.as_deref(),
            Some("select 1")
        );
    }
}

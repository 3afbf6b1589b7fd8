//! Glue's columns for an Iceberg schema, as Iceberg's own Glue catalogs write them on every
//! commit, so that engines that read the Glue definition (the Glue console, Athena's table
//! list, crawlers, Lake Formation) see the table's current columns: the name, the Hive type
//! (`bigint`, `struct<a:int>`, `array<string>`, `map<string,bigint>`, `decimal(10,2)`, ...),
//! the field's doc as the comment, and the `iceberg.field.*` parameters. Pure.

use aws_sdk_glue::types::Column;
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use std::collections::HashMap;

/// Column parameters (the names Iceberg's Glue catalogs use).
pub const FIELD_ID: &str = "iceberg.field.id";
pub const FIELD_OPTIONAL: &str = "iceberg.field.optional";
pub const FIELD_CURRENT: &str = "iceberg.field.current";

/// The Glue columns of `schema`'s top-level fields, in order. A column of `existing` with
/// the same name keeps its comment (when the field has no doc) and its other parameters.
pub fn glue_columns(schema: &Schema, existing: &[Column]) -> Vec<Column> {
    schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            column(
                f,
                existing
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(&f.name)),
            )
        })
        .collect()
}

fn column(field: &NestedField, existing: Option<&Column>) -> Column {
    let mut parameters: HashMap<String, String> = existing
        .and_then(|c| c.parameters.clone())
        .unwrap_or_default();
    parameters.insert(FIELD_ID.to_owned(), field.id.to_string());
    parameters.insert(FIELD_OPTIONAL.to_owned(), (!field.required).to_string());
    parameters.insert(FIELD_CURRENT.to_owned(), "true".to_owned());
    let comment = field
        .doc
        .clone()
        .or_else(|| existing.and_then(|c| c.comment.clone()));
    let mut c = Column::builder()
        .name(&field.name)
        .build()
        .unwrap_or_else(|_| unreachable!("a Column with a name always builds"));
    c.r#type = Some(glue_type(&field.field_type));
    c.comment = comment;
    c.parameters = Some(parameters);
    c
}

/// The Hive type name Glue and Athena use for an Iceberg type. Types Hive lacks map as
/// Iceberg's Glue catalogs map them: time and uuid to `string`, fixed to `binary`, and every
/// timestamp to `timestamp`.
pub fn glue_type(ty: &Type) -> String {
    match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => "boolean".to_owned(),
            PrimitiveType::Int => "int".to_owned(),
            PrimitiveType::Long => "bigint".to_owned(),
            PrimitiveType::Float => "float".to_owned(),
            PrimitiveType::Double => "double".to_owned(),
            PrimitiveType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            PrimitiveType::Date => "date".to_owned(),
            PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz
            | PrimitiveType::TimestampNs
            | PrimitiveType::TimestamptzNs => "timestamp".to_owned(),
            PrimitiveType::Time | PrimitiveType::String | PrimitiveType::Uuid => {
                "string".to_owned()
            }
            PrimitiveType::Fixed(_) | PrimitiveType::Binary => "binary".to_owned(),
        },
        Type::Struct(s) => {
            let fields: Vec<String> = s
                .fields()
                .iter()
                .map(|f| format!("{}:{}", f.name, glue_type(&f.field_type)))
                .collect();
            format!("struct<{}>", fields.join(","))
        }
        Type::List(l) => format!("array<{}>", glue_type(&l.element_field.field_type)),
        Type::Map(m) => format!(
            "map<{},{}>",
            glue_type(&m.key_field.field_type),
            glue_type(&m.value_field.field_type)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::spec::{ListType, MapType, StructType};
    use std::sync::Arc;

    fn p(t: PrimitiveType) -> Type {
        Type::Primitive(t)
    }

    fn schema() -> Schema {
        let fields = vec![
            NestedField::required(1, "id", p(PrimitiveType::Long))
                .with_doc("the order")
                .into(),
            NestedField::optional(2, "ts", p(PrimitiveType::Timestamptz)).into(),
            NestedField::optional(
                3,
                "payload",
                Type::Struct(StructType::new(vec![
                    NestedField::optional(7, "a", p(PrimitiveType::Int)).into(),
                    NestedField::optional(8, "b", p(PrimitiveType::String)).into(),
                ])),
            )
            .into(),
            NestedField::optional(
                4,
                "tags",
                Type::List(ListType::new(Arc::new(NestedField::list_element(
                    9,
                    p(PrimitiveType::String),
                    false,
                )))),
            )
            .into(),
            NestedField::optional(
                5,
                "attrs",
                Type::Map(MapType::new(
                    NestedField::map_key_element(10, p(PrimitiveType::String)).into(),
                    NestedField::map_value_element(11, p(PrimitiveType::Long), false).into(),
                )),
            )
            .into(),
            NestedField::optional(
                6,
                "price",
                p(PrimitiveType::Decimal {
                    precision: 10,
                    scale: 2,
                }),
            )
            .into(),
        ];
        Schema::builder().with_fields(fields).build().unwrap()
    }

    #[test]
    fn columns_carry_hive_types_in_schema_order() {
        let cols = glue_columns(&schema(), &[]);
        let got: Vec<(&str, &str)> = cols
            .iter()
            .map(|c| (c.name.as_str(), c.r#type.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("id", "bigint"),
                ("ts", "timestamp"),
                ("payload", "struct<a:int,b:string>"),
                ("tags", "array<string>"),
                ("attrs", "map<string,bigint>"),
                ("price", "decimal(10,2)"),
            ]
        );
        let id = cols[0].parameters.as_ref().unwrap();
        assert_eq!(id[FIELD_ID], "1");
        assert_eq!(id[FIELD_OPTIONAL], "false");
        assert_eq!(id[FIELD_CURRENT], "true");
        assert_eq!(cols[0].comment.as_deref(), Some("the order"));
        assert_eq!(cols[1].parameters.as_ref().unwrap()[FIELD_OPTIONAL], "true");
    }

    #[test]
    fn types_hive_lacks_map_as_icebergs_glue_catalog_maps_them() {
        assert_eq!(glue_type(&p(PrimitiveType::Time)), "string");
        assert_eq!(glue_type(&p(PrimitiveType::Uuid)), "string");
        assert_eq!(glue_type(&p(PrimitiveType::Fixed(16))), "binary");
        assert_eq!(glue_type(&p(PrimitiveType::TimestampNs)), "timestamp");
        assert_eq!(glue_type(&p(PrimitiveType::Boolean)), "boolean");
        assert_eq!(glue_type(&p(PrimitiveType::Date)), "date");
    }

    #[test]
    fn an_existing_column_keeps_its_comment_and_own_parameters() {
        let existing = Column::builder()
            .name("TS")
            .r#type("string")
            .comment("when it happened")
            .parameters("theirs", "kept")
            .parameters(FIELD_ID, "99")
            .build()
            .unwrap();
        let cols = glue_columns(&schema(), &[existing]);
        let ts = &cols[1];
        assert_eq!(ts.r#type.as_deref(), Some("timestamp"));
        assert_eq!(ts.comment.as_deref(), Some("when it happened"));
        let params = ts.parameters.as_ref().unwrap();
        assert_eq!(params["theirs"], "kept");
        assert_eq!(params[FIELD_ID], "2");
    }
}

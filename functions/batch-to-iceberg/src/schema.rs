//! The table's schema and the rows: `SCHEMA` becomes a new table's Iceberg schema, and an
//! existing table's current schema (always the truth) becomes the column list the JSON
//! records are matched against (trickle-columnar's rules, as for batch-to-s3's Parquet).
//!
//! - Top-level JSON fields map to columns by name; structs, lists and string-keyed maps
//!   nest. A value that does not fit makes its record an error line; the rest commit.
//! - Columns this function cannot fill from JSON (`time`, `uuid`, `fixed`, maps with
//!   non-string keys, ...) are written as NULL; a JSON field of that name is then unknown
//!   (kept in `EXTRA_COLUMN`, or dropped and counted). A *required* column of that kind
//!   makes every record an error: nothing is written that the table would not accept.
//! - A required column missing (or null) in a record makes that record an error line.
//! - The batch written has exactly the table's columns, with their field ids (Iceberg
//!   readers match Parquet columns by id, not name).

use arrow_array::{new_null_array, ArrayRef, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use iceberg::spec::{
    ListType, MapType, NestedField, NestedFieldRef, PrimitiveType, Schema, StructType, Type,
};
use std::sync::Arc;
use trickle_columnar::{Column, ColumnType, TableSchema};

/// Why a schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("column {column}: {reason}")]
    Unsupported { column: String, reason: String },
    #[error("iceberg: {0}")]
    Iceberg(String),
    #[error("arrow: {0}")]
    Arrow(String),
}

/// A new table's schema from `SCHEMA` (every column optional), plus `EXTRA_COLUMN` as a
/// string column when it is not in `SCHEMA`. Field ids are assigned in order; Iceberg
/// assigns its own when the table is created.
pub fn iceberg_schema(
    schema: &TableSchema,
    extra_column: Option<&str>,
) -> Result<Schema, SchemaError> {
    let mut next_id = 0;
    let mut fields: Vec<NestedFieldRef> = schema
        .columns
        .iter()
        .map(|c| Arc::new(to_field(c, &mut next_id)))
        .collect();
    if let Some(extra) = extra_column {
        if schema.column(extra).is_none() {
            next_id += 1;
            fields.push(Arc::new(NestedField::optional(
                next_id,
                extra,
                Type::Primitive(PrimitiveType::String),
            )));
        }
    }
    Schema::builder()
        .with_fields(fields)
        .build()
        .map_err(|e| SchemaError::Iceberg(e.to_string()))
}

fn to_field(column: &Column, next_id: &mut i32) -> NestedField {
    *next_id += 1;
    let id = *next_id;
    NestedField::optional(id, &column.name, to_type(&column.ty, next_id))
}

fn to_type(ty: &ColumnType, next_id: &mut i32) -> Type {
    let p = |p| Type::Primitive(p);
    match ty {
        ColumnType::Boolean => p(PrimitiveType::Boolean),
        // Iceberg has no 8- or 16-bit integers: they widen to int.
        ColumnType::TinyInt | ColumnType::SmallInt | ColumnType::Int => p(PrimitiveType::Int),
        ColumnType::BigInt => p(PrimitiveType::Long),
        ColumnType::Float => p(PrimitiveType::Float),
        ColumnType::Double => p(PrimitiveType::Double),
        ColumnType::Decimal { precision, scale } => p(PrimitiveType::Decimal {
            precision: u32::from(*precision),
            scale: u32::from(*scale),
        }),
        ColumnType::String => p(PrimitiveType::String),
        ColumnType::Binary => p(PrimitiveType::Binary),
        ColumnType::Date => p(PrimitiveType::Date),
        // trickle-columnar's timestamps are instants (UTC): Iceberg's timestamptz.
        ColumnType::Timestamp => p(PrimitiveType::Timestamptz),
        ColumnType::Array(element) => {
            *next_id += 1;
            let id = *next_id;
            let element = to_type(element, next_id);
            Type::List(ListType::new(Arc::new(NestedField::list_element(
                id, element, false,
            ))))
        }
        ColumnType::Map(value) => {
            *next_id += 1;
            let key_id = *next_id;
            *next_id += 1;
            let value_id = *next_id;
            let value = to_type(value, next_id);
            Type::Map(MapType::new(
                Arc::new(NestedField::map_key_element(
                    key_id,
                    Type::Primitive(PrimitiveType::String),
                )),
                Arc::new(NestedField::map_value_element(value_id, value, false)),
            ))
        }
        ColumnType::Struct(fields) => Type::Struct(StructType::new(
            fields
                .iter()
                .map(|f| Arc::new(to_field(f, next_id)))
                .collect(),
        )),
    }
}

/// An existing table's schema, as the records are matched against it.
#[derive(Debug, Clone)]
pub struct TableColumns {
    /// The columns JSON can fill, in the table's order.
    pub columns: TableSchema,
    /// `EXTRA_COLUMN`, when the table has it as a string column.
    pub extra_column: Option<String>,
    /// Top-level required columns JSON can fill: a record without a value for one is an
    /// error line.
    pub required: Vec<String>,
    /// Columns written as NULL (their types cannot come from JSON), with why.
    pub unfillable: Vec<(String, String)>,
    /// A required column that cannot be filled: every record is an error, with this reason.
    pub blocked: Option<String>,
    /// The Arrow schema of a data file: every table column, with its field id.
    pub arrow: Arc<ArrowSchema>,
}

impl TableColumns {
    pub fn new(schema: &Schema, extra_column: Option<&str>) -> Result<Self, SchemaError> {
        let arrow = Arc::new(
            iceberg::arrow::schema_to_arrow_schema(schema)
                .map_err(|e| SchemaError::Arrow(e.to_string()))?,
        );
        let mut columns = Vec::new();
        let mut required = Vec::new();
        let mut unfillable = Vec::new();
        let mut blocked = None;
        let mut extra = None;
        for field in schema.as_struct().fields() {
            let is_extra = extra_column == Some(field.name.as_str())
                && *field.field_type == Type::Primitive(PrimitiveType::String);
            if is_extra {
                extra = Some(field.name.clone());
                continue;
            }
            match from_type(&field.field_type) {
                Ok(ty) => {
                    if field.required {
                        required.push(field.name.clone());
                    }
                    columns.push(Column {
                        name: field.name.clone(),
                        ty,
                    });
                }
                Err(reason) => {
                    if field.required && blocked.is_none() {
                        blocked = Some(format!(
                            "required column {} cannot be filled from JSON: {reason}",
                            field.name
                        ));
                    }
                    unfillable.push((field.name.clone(), reason));
                }
            }
        }
        Ok(Self {
            columns: TableSchema { columns },
            extra_column: extra,
            required,
            unfillable,
            blocked,
            arrow,
        })
    }

    /// The encoder's batch, as a data file of the table: each table column in order, cast
    /// to the table's Arrow type (time zone, nanoseconds, large binary, nested field ids),
    /// NULL for the columns JSON cannot fill.
    pub fn to_table_batch(&self, encoded: &RecordBatch) -> Result<RecordBatch, SchemaError> {
        let rows = encoded.num_rows();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.arrow.fields().len());
        for field in self.arrow.fields() {
            let array = match encoded.column_by_name(field.name()) {
                Some(a) => arrow_cast::cast(a, field.data_type())
                    .map_err(|e| SchemaError::Arrow(format!("column {}: {e}", field.name())))?,
                None => new_null_array(field.data_type(), rows),
            };
            arrays.push(array);
        }
        RecordBatch::try_new(self.arrow.clone(), arrays)
            .map_err(|e| SchemaError::Arrow(e.to_string()))
    }
}

fn from_type(ty: &Type) -> Result<ColumnType, String> {
    Ok(match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => ColumnType::Boolean,
            PrimitiveType::Int => ColumnType::Int,
            PrimitiveType::Long => ColumnType::BigInt,
            PrimitiveType::Float => ColumnType::Float,
            PrimitiveType::Double => ColumnType::Double,
            PrimitiveType::Decimal { precision, scale } => ColumnType::Decimal {
                precision: u8::try_from(*precision).map_err(|_| "decimal precision over 38")?,
                scale: u8::try_from(*scale).map_err(|_| "decimal scale over 38")?,
            },
            PrimitiveType::Date => ColumnType::Date,
            // Parsed as instants with microseconds; cast to the column's unit and zone.
            PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz
            | PrimitiveType::TimestampNs
            | PrimitiveType::TimestamptzNs => ColumnType::Timestamp,
            PrimitiveType::String => ColumnType::String,
            PrimitiveType::Binary => ColumnType::Binary,
            PrimitiveType::Time | PrimitiveType::Uuid | PrimitiveType::Fixed(_) => {
                return Err(format!("type {p} has no JSON mapping here"))
            }
        },
        Type::List(list) => ColumnType::Array(Box::new(from_type(&list.element_field.field_type)?)),
        Type::Map(map) => {
            if *map.key_field.field_type != Type::Primitive(PrimitiveType::String) {
                return Err("maps need string keys to come from a JSON object".into());
            }
            ColumnType::Map(Box::new(from_type(&map.value_field.field_type)?))
        }
        Type::Struct(s) => ColumnType::Struct(
            s.fields()
                .iter()
                .map(|f| {
                    Ok(Column {
                        name: f.name.clone(),
                        ty: from_type(&f.field_type)?,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trickle_columnar::RecordEncoder;

    fn encode(columns: &TableColumns, records: &[&str]) -> RecordBatch {
        let mut e = RecordEncoder::new(&columns.columns, columns.extra_column.as_deref());
        for r in records {
            e.push(r.as_bytes()).unwrap();
        }
        e.finish()
    }

    #[test]
    fn a_new_tables_schema_follows_schema_and_adds_the_extra_column() {
        let s = TableSchema::parse(
            "ts timestamp, n smallint, tags array<string>, attrs map<string,bigint>, geo struct<lat:double,lon:double>",
        )
        .unwrap();
        let schema = iceberg_schema(&s, Some("extra")).unwrap();
        let names: Vec<_> = schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(names, ["ts", "n", "tags", "attrs", "geo", "extra"]);
        assert_eq!(
            *schema.field_by_name("ts").unwrap().field_type,
            Type::Primitive(PrimitiveType::Timestamptz)
        );
        assert_eq!(
            *schema.field_by_name("n").unwrap().field_type,
            Type::Primitive(PrimitiveType::Int)
        );
        assert!(schema.as_struct().fields().iter().all(|f| !f.required));
    }

    #[test]
    fn nested_rows_become_a_batch_with_the_tables_field_ids() {
        let s = TableSchema::parse(
            "ts timestamp, tags array<string>, attrs map<string,bigint>, geo struct<lat:double,lon:double>, raw binary",
        )
        .unwrap();
        let schema = iceberg_schema(&s, None).unwrap();
        let columns = TableColumns::new(&schema, None).unwrap();
        let batch = encode(
            &columns,
            &[
                r#"{"ts":"2026-12-01T10:00:00Z","tags":["a"],"attrs":{"x":1},"geo":{"lat":1.5,"lon":2.5},"raw":"aGk="}"#,
                r#"{"ts":"2026-12-01T11:00:00Z"}"#,
            ],
        );
        let table = columns.to_table_batch(&batch).unwrap();
        assert_eq!(table.num_rows(), 2);
        assert_eq!(table.schema(), columns.arrow);
        let id = |f: &arrow_schema::Field| f.metadata().get("PARQUET:field_id").cloned();
        assert!(table.schema().fields().iter().all(|f| id(f).is_some()));
    }

    #[test]
    fn columns_json_cannot_fill_are_null_and_required_ones_block() {
        let schema = Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::required(
                    1,
                    "id",
                    Type::Primitive(PrimitiveType::Long),
                )),
                Arc::new(NestedField::optional(
                    2,
                    "at",
                    Type::Primitive(PrimitiveType::Time),
                )),
                Arc::new(NestedField::optional(
                    3,
                    "extra",
                    Type::Primitive(PrimitiveType::String),
                )),
            ])
            .build()
            .unwrap();
        let columns = TableColumns::new(&schema, Some("extra")).unwrap();
        assert_eq!(columns.required, ["id"]);
        assert_eq!(columns.extra_column.as_deref(), Some("extra"));
        assert_eq!(columns.unfillable.len(), 1);
        assert!(columns.blocked.is_none());
        let batch = encode(&columns, &[r#"{"id":7,"new":true}"#]);
        let table = columns.to_table_batch(&batch).unwrap();
        assert_eq!(table.column(1).null_count(), 1);
        assert_eq!(table.num_columns(), 3);

        let blocked = Schema::builder()
            .with_fields(vec![Arc::new(NestedField::required(
                1,
                "u",
                Type::Primitive(PrimitiveType::Uuid),
            ))])
            .build()
            .unwrap();
        assert!(TableColumns::new(&blocked, None).unwrap().blocked.is_some());
    }

    #[test]
    fn nanosecond_and_zoneless_timestamps_take_the_same_json() {
        let schema = Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::optional(
                    1,
                    "a",
                    Type::Primitive(PrimitiveType::Timestamp),
                )),
                Arc::new(NestedField::optional(
                    2,
                    "b",
                    Type::Primitive(PrimitiveType::TimestamptzNs),
                )),
            ])
            .build()
            .unwrap();
        let columns = TableColumns::new(&schema, None).unwrap();
        let batch = encode(
            &columns,
            &[r#"{"a":"2026-12-01T10:00:00Z","b":"2026-12-01T10:00:00.000001Z"}"#],
        );
        let table = columns.to_table_batch(&batch).unwrap();
        let b = table
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::TimestampNanosecondArray>()
            .unwrap();
        assert_eq!(b.value(0) % 1_000_000_000, 1_000);
    }
}

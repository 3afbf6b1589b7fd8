//! `SCHEMA`: the columns, written as in an Athena `CREATE TABLE`:
//! `ts timestamp, user string, tags array<string>, geo struct<lat:double,lon:double>`.
//!
//! - Types (case-insensitive): `boolean`, `tinyint`, `smallint`, `int` (`integer`), `bigint`,
//!   `float` (`real`), `double`, `decimal(p,s)` (`decimal` alone is `decimal(10,0)`, Hive's
//!   default), `string` (`varchar(n)` and `char(n)` read as `string`), `date`, `timestamp`,
//!   `binary`, `array<T>`, `map<string,T>` (string keys only: JSON object keys are strings)
//!   and `struct<name:T,...>`, nested to any depth.
//! - Names are letters, digits and `_` (or anything but a backquote between backquotes) and
//!   are lower-cased, as Athena and Glue store them. A duplicate name is an error.
//! - Errors name the position (1-based character) and what was expected there.

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use std::fmt;
use std::sync::Arc;

/// Decimal precision limit (Athena, Hive and Arrow's Decimal128).
pub const MAX_DECIMAL_PRECISION: u8 = 38;
/// Hive's `decimal` without arguments.
pub const DEFAULT_DECIMAL: (u8, u8) = (10, 0);
/// Arrow's name for a list's element and a map's entries, as the Parquet spec names them.
pub const LIST_ELEMENT: &str = "element";
pub const MAP_ENTRIES: &str = "key_value";
/// Timestamps are stored as microseconds since the epoch, UTC (Parquet INT64
/// TIMESTAMP(MICROS, isAdjustedToUTC=true)): what Spark, Trino/Athena engine v3, DuckDB and
/// pyarrow read as a timestamp, and the precision of Iceberg's `timestamptz`.
pub const TIMESTAMP_UNIT: TimeUnit = TimeUnit::Microsecond;
pub const TIMESTAMP_ZONE: &str = "UTC";

/// One column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    String,
    Binary,
    Date,
    Timestamp,
    Array(Box<ColumnType>),
    /// Keys are strings.
    Map(Box<ColumnType>),
    Struct(Vec<Column>),
}

/// A named column (or struct field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// The parsed `SCHEMA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub columns: Vec<Column>,
}

/// Why a `SCHEMA` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct SchemaError {
    /// 1-based character position in the text.
    pub position: usize,
    pub message: String,
}

/// The ready schemas trickle ships (`schemas/<name>.schema`), by name: the rows ingest makes
/// of OTLP logs, spans and metric points (docs/reference/otlp.md).
pub const READY_SCHEMAS: [(&str, &str); 3] = [
    (
        "otel_logs",
        include_str!("../../../schemas/otel_logs.schema"),
    ),
    (
        "otel_traces",
        include_str!("../../../schemas/otel_traces.schema"),
    ),
    (
        "otel_metrics",
        include_str!("../../../schemas/otel_metrics.schema"),
    ),
];

impl TableSchema {
    /// A `SCHEMA` setting: the name of a ready schema (`READY_SCHEMAS`), or a column list.
    pub fn from_setting(text: &str) -> Result<Self, SchemaError> {
        match READY_SCHEMAS.iter().find(|(name, _)| *name == text.trim()) {
            Some((_, columns)) => Self::parse(columns),
            None => Self::parse(text),
        }
    }

    /// Parses the column list.
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        let mut p = Parser::new(text);
        let columns = p.fields(None)?;
        p.skip_space();
        if !p.at_end() {
            return Err(p.error("expected `,` or the end of the schema"));
        }
        Ok(Self { columns })
    }

    /// A column by its (lower-case) name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the columns (every column nullable: a missing field is NULL).
    pub fn arrow_fields(&self) -> Fields {
        self.columns.iter().map(Column::arrow_field).collect()
    }

    pub fn arrow_schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(self.arrow_fields()))
    }
}

impl Column {
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.ty.arrow_type(), true)
    }
}

impl ColumnType {
    /// The Arrow type it is stored as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::TinyInt => DataType::Int8,
            Self::SmallInt => DataType::Int16,
            Self::Int => DataType::Int32,
            Self::BigInt => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
            Self::String => DataType::Utf8,
            Self::Binary => DataType::Binary,
            Self::Date => DataType::Date32,
            Self::Timestamp => DataType::Timestamp(TIMESTAMP_UNIT, Some(TIMESTAMP_ZONE.into())),
            Self::Array(element) => DataType::List(Arc::new(Field::new(
                LIST_ELEMENT,
                element.arrow_type(),
                true,
            ))),
            Self::Map(value) => DataType::Map(Arc::new(map_entries_field(value)), false),
            Self::Struct(fields) => {
                DataType::Struct(fields.iter().map(Column::arrow_field).collect())
            }
        }
    }
}

/// A map's entries: a non-null string key and a nullable value.
pub fn map_entries_field(value: &ColumnType) -> Field {
    Field::new(
        MAP_ENTRIES,
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", value.arrow_type(), true),
        ])),
        false,
    )
}

/// The type as Athena and Glue write it (`array<struct<a:int>>`): the Glue column type.
impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::TinyInt => f.write_str("tinyint"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::String => f.write_str("string"),
            Self::Binary => f.write_str("binary"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Array(t) => write!(f, "array<{t}>"),
            Self::Map(t) => write!(f, "map<string,{t}>"),
            Self::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, c) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{}", c.name, c.ty)?;
                }
                f.write_str(">")
            }
        }
    }
}

impl fmt::Display for TableSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", c.name, c.ty)?;
        }
        Ok(())
    }
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    _text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().collect(),
            at: 0,
            _text: text,
        }
    }

    fn error(&self, message: impl Into<String>) -> SchemaError {
        SchemaError {
            position: self.at + 1,
            message: message.into(),
        }
    }

    fn at_end(&self) -> bool {
        self.at >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SchemaError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}`")))
        }
    }

    /// A name: `[A-Za-z0-9_]+` or backquoted; lower-cased.
    fn name(&mut self) -> Result<String, SchemaError> {
        self.skip_space();
        if self.eat('`') {
            let start = self.at;
            while self.peek().is_some_and(|c| c != '`') {
                self.at += 1;
            }
            if self.at_end() {
                return Err(self.error("unterminated backquoted name"));
            }
            let name: String = self.chars[start..self.at].iter().collect();
            self.at += 1;
            if name.is_empty() {
                return Err(self.error("empty column name"));
            }
            return Ok(name.to_lowercase());
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(self.error("expected a column name"));
        }
        Ok(self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase())
    }

    fn number(&mut self) -> Result<u32, SchemaError> {
        self.skip_space();
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        digits.parse().map_err(|_| {
            self.at = start;
            self.error("expected a number")
        })
    }

    /// `name type, ...` (top level, `sep` None) or `name:type, ...` inside `struct<>`.
    fn fields(&mut self, sep: Option<char>) -> Result<Vec<Column>, SchemaError> {
        let mut columns: Vec<Column> = Vec::new();
        loop {
            self.skip_space();
            let start = self.at;
            let name = self.name()?;
            if columns.iter().any(|c| c.name == name) {
                self.at = start;
                return Err(self.error(format!("duplicate column `{name}`")));
            }
            match sep {
                Some(c) => self.expect(c)?,
                None => {
                    if !self.peek().is_some_and(char::is_whitespace) {
                        return Err(self.error("expected a space and a type after the name"));
                    }
                }
            }
            let ty = self.ty()?;
            columns.push(Column { name, ty });
            if !self.eat(',') {
                return Ok(columns);
            }
        }
    }

    fn ty(&mut self) -> Result<ColumnType, SchemaError> {
        self.skip_space();
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        let ty = match word.as_str() {
            "boolean" => ColumnType::Boolean,
            "tinyint" => ColumnType::TinyInt,
            "smallint" => ColumnType::SmallInt,
            "int" | "integer" => ColumnType::Int,
            "bigint" => ColumnType::BigInt,
            "float" | "real" => ColumnType::Float,
            "double" => ColumnType::Double,
            "string" => ColumnType::String,
            "varchar" | "char" => {
                self.expect('(')?;
                self.number()?;
                self.expect(')')?;
                ColumnType::String
            }
            "binary" => ColumnType::Binary,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "decimal" => {
                let (precision, scale) = if self.eat('(') {
                    let at = self.at;
                    let p = self.number()?;
                    self.expect(',')?;
                    let s = self.number()?;
                    self.expect(')')?;
                    if p == 0 || p > u32::from(MAX_DECIMAL_PRECISION) || s > p {
                        self.at = at;
                        return Err(self.error(format!(
                            "decimal({p},{s}): precision must be 1 to {MAX_DECIMAL_PRECISION} and scale 0 to the precision"
                        )));
                    }
                    (p as u8, s as u8)
                } else {
                    DEFAULT_DECIMAL
                };
                ColumnType::Decimal { precision, scale }
            }
            "array" => {
                self.expect('<')?;
                let element = self.ty()?;
                self.expect('>')?;
                ColumnType::Array(Box::new(element))
            }
            "map" => {
                self.expect('<')?;
                let key_at = self.at;
                let key = self.ty()?;
                if key != ColumnType::String {
                    self.at = key_at;
                    return Err(self.error(format!(
                        "map keys must be string (JSON object keys are strings), not {key}"
                    )));
                }
                self.expect(',')?;
                let value = self.ty()?;
                self.expect('>')?;
                ColumnType::Map(Box::new(value))
            }
            "struct" => {
                self.expect('<')?;
                let fields = self.fields(Some(':'))?;
                self.expect('>')?;
                ColumnType::Struct(fields)
            }
            "" => return Err(self.error("expected a type")),
            other => {
                self.at = start;
                return Err(self.error(format!(
                    "unknown type `{other}` (boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, binary, date, timestamp, array<>, map<string,>, struct<>)"
                )));
            }
        };
        Ok(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ready_schema_parses_by_its_name() {
        for (name, text) in READY_SCHEMAS {
            let ready = TableSchema::from_setting(name).unwrap();
            assert_eq!(ready, TableSchema::parse(text).unwrap(), "{name}");
            assert_eq!(ready.columns[0].name, "signal", "{name}");
        }
        assert!(TableSchema::from_setting("otel_spans").is_err());
        assert_eq!(
            TableSchema::from_setting("n bigint").unwrap(),
            TableSchema::parse("n bigint").unwrap()
        );
    }

    const ISSUE_EXAMPLE: &str = "ts timestamp, user string, latency_ms bigint, price double, ok boolean, tags array<string>, geo struct<lat:double,lon:double>, attrs map<string,string>";

    #[test]
    fn parses_the_athena_column_list() {
        let s = TableSchema::parse(ISSUE_EXAMPLE).unwrap();
        let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ts",
                "user",
                "latency_ms",
                "price",
                "ok",
                "tags",
                "geo",
                "attrs"
            ]
        );
        assert_eq!(
            s.columns[5].ty,
            ColumnType::Array(Box::new(ColumnType::String))
        );
        // Rendered back as Glue writes it.
        assert_eq!(
            s.to_string(),
            "ts timestamp, user string, latency_ms bigint, price double, ok boolean, tags array<string>, geo struct<lat:double,lon:double>, attrs map<string,string>"
        );
    }

    #[test]
    fn nests_to_any_depth_and_reads_case_and_aliases() {
        let s = TableSchema::parse(
            " A ARRAY< STRUCT< x : MAP<STRING, ARRAY<DECIMAL(38,9)>>, `Weird Name`:integer > > ,b varchar(10), c decimal, d real ",
        )
        .unwrap();
        assert_eq!(
            s.to_string(),
            "a array<struct<x:map<string,array<decimal(38,9)>>,weird name:int>>, b string, c decimal(10,0), d float"
        );
        let arrow = s.arrow_schema();
        assert_eq!(arrow.fields().len(), 4);
    }

    #[test]
    fn errors_name_the_position() {
        let e = TableSchema::parse("a int, b strng").unwrap_err();
        assert_eq!(e.position, 10);
        assert!(e.message.contains("unknown type `strng`"), "{e}");
        let e = TableSchema::parse("a int, a string").unwrap_err();
        assert_eq!(e.position, 8);
        assert!(e.message.contains("duplicate column `a`"));
        let e = TableSchema::parse("a struct<x:int, X:int>").unwrap_err();
        assert!(e.message.contains("duplicate column `x`"));
        let e = TableSchema::parse("a map<int,string>").unwrap_err();
        assert!(e.message.contains("map keys must be string"), "{e}");
        let e = TableSchema::parse("a decimal(39,2)").unwrap_err();
        assert!(e.message.contains("precision"), "{e}");
        let e = TableSchema::parse("a array<int").unwrap_err();
        assert!(e.message.contains("expected `>`"), "{e}");
        assert!(TableSchema::parse("").is_err());
        assert!(TableSchema::parse("a int,").is_err());
        assert!(TableSchema::parse("a int b int").is_err());
        assert!(TableSchema::parse("aint").is_err());
    }

    #[test]
    fn arrow_types_are_the_ones_readers_expect() {
        let s =
            TableSchema::parse("t timestamp, d date, m map<string,int>, l array<bigint>").unwrap();
        let f = s.arrow_fields();
        assert_eq!(
            f[0].data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(f[1].data_type(), &DataType::Date32);
        assert!(matches!(f[2].data_type(), DataType::Map(_, false)));
        assert!(matches!(f[3].data_type(), DataType::List(e) if e.name() == "element"));
    }
}

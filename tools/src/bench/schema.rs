//! Checking results against `benches/results.schema.json` with a small validator of
//! exactly the part of JSON Schema (draft 2020-12) that file uses, rather than a
//! general validator crate and its dependencies.
//!
//! Supported keywords: `type` (one of `object`, `array`, `string`, `number`, `integer`,
//! `boolean`, `null`), `properties`, `required`, `additionalProperties` (a boolean, or a
//! schema every property not named in `properties` must match),
//! `enum`, `minimum`, `maximum`, `exclusiveMinimum`, `minLength`; the annotations
//! `$schema`, `$id`, `title`, `description` and `$comment` are ignored.
//!
//! Invariants: a keyword outside that list is an error of the schema, reported on every
//! check, never silently ignored, so the schema cannot say more than is enforced. The
//! schema is compiled into the binary from the file, so the runner checks against the
//! file as it was built.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The text of `benches/results.schema.json`.
pub const RESULTS_SCHEMA: &str = include_str!("../../../benches/results.schema.json");

const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "title", "description", "$comment"];
const KEYWORDS: [&str; 9] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minLength",
];

/// Checks a result against [`RESULTS_SCHEMA`]; on failure, every problem found, each
/// naming the JSON pointer of the offending value.
pub fn check_result(instance: &Value) -> Result<(), Vec<String>> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let schema = serde_json::from_str(RESULTS_SCHEMA).expect("results.schema.json is JSON");
        let problems = schema_problems(&schema);
        assert!(problems.is_empty(), "results.schema.json: {problems:?}");
        schema
    });
    validate(schema, instance)
}

/// Keywords anywhere in `schema` that this validator does not support, each with the
/// pointer of the schema holding it.
pub fn schema_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pending = vec![(String::new(), schema)];
    while let Some((pointer, schema)) = pending.pop() {
        let Some(object) = schema.as_object() else {
            problems.push(format!("schema at {}: not an object", display(&pointer)));
            continue;
        };
        for (keyword, argument) in object {
            if keyword == "properties" {
                for (name, sub_schema) in argument.as_object().into_iter().flatten() {
                    pending.push((format!("{pointer}/properties/{name}"), sub_schema));
                }
            } else if keyword == "additionalProperties" && argument.is_object() {
                pending.push((format!("{pointer}/additionalProperties"), argument));
            } else if !ANNOTATIONS.contains(&keyword.as_str())
                && !KEYWORDS.contains(&keyword.as_str())
            {
                problems.push(format!(
                    "schema at {}: keyword `{keyword}` is not supported by this validator",
                    display(&pointer)
                ));
            }
        }
    }
    problems.sort();
    problems
}

/// Checks `instance` against `schema` (see the module documentation for what is
/// supported); problems come sorted.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    check(schema, instance, "", &mut problems);
    problems.sort();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check(schema: &Value, instance: &Value, pointer: &str, problems: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        problems.push(format!("schema at {}: not an object", display(pointer)));
        return;
    };
    for (keyword, argument) in schema {
        if let Err(problem) = check_keyword(schema, keyword, argument, instance, pointer, problems)
        {
            problems.push(format!("{}: {problem}", display(pointer)));
        }
    }
}

/// Checks one keyword; returns the problem when the instance fails it (nested
/// problems are pushed directly).
fn check_keyword(
    schema: &Map<String, Value>,
    keyword: &str,
    argument: &Value,
    instance: &Value,
    pointer: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    match keyword {
        _ if ANNOTATIONS.contains(&keyword) => Ok(()),
        "type" => {
            let expected = argument.as_str().ok_or("schema: `type` must be a string")?;
            if has_type(instance, expected)? {
                Ok(())
            } else {
                Err(format!("expected {expected}, found {}", describe(instance)))
            }
        }
        "properties" => {
            let properties = argument
                .as_object()
                .ok_or("schema: `properties` must be an object")?;
            if let Some(object) = instance.as_object() {
                for (name, sub_schema) in properties {
                    if let Some(value) = object.get(name) {
                        check(sub_schema, value, &format!("{pointer}/{name}"), problems);
                    }
                }
            }
            Ok(())
        }
        "required" => {
            let names = argument
                .as_array()
                .ok_or("schema: `required` must be an array")?;
            let Some(object) = instance.as_object() else {
                return Ok(());
            };
            let missing: Vec<_> = names
                .iter()
                .filter_map(Value::as_str)
                .filter(|name| !object.contains_key(*name))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing required {}", missing.join(", ")))
            }
        }
        "additionalProperties" => {
            let Some(object) = instance.as_object() else {
                return Ok(());
            };
            let known = schema.get("properties").and_then(Value::as_object);
            let extra = object
                .iter()
                .filter(|(name, _)| known.is_none_or(|known| !known.contains_key(*name)));
            match argument {
                Value::Bool(true) => Ok(()),
                Value::Bool(false) => {
                    let names: Vec<_> = extra.map(|(name, _)| name.as_str()).collect();
                    if names.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("unexpected {}", names.join(", ")))
                    }
                }
                Value::Object(_) => {
                    for (name, value) in extra {
                        check(argument, value, &format!("{pointer}/{name}"), problems);
                    }
                    Ok(())
                }
                _ => Err("schema: `additionalProperties` must be a boolean or a schema".into()),
            }
        }
        "enum" => {
            let options = argument
                .as_array()
                .ok_or("schema: `enum` must be an array")?;
            if options.contains(instance) {
                Ok(())
            } else {
                Err(format!("{instance} is not one of {argument}"))
            }
        }
        "minimum" | "maximum" | "exclusiveMinimum" => {
            let bound = argument
                .as_f64()
                .ok_or_else(|| format!("schema: `{keyword}` must be a number"))?;
            let Some(number) = instance.as_f64() else {
                return Ok(());
            };
            let fits = match keyword {
                "minimum" => number >= bound,
                "maximum" => number <= bound,
                _ => number > bound,
            };
            if fits {
                Ok(())
            } else {
                Err(format!("{instance} violates {keyword} {argument}"))
            }
        }
        "minLength" => {
            let length = argument
                .as_u64()
                .ok_or("schema: `minLength` must be an integer")?;
            match instance.as_str() {
                Some(text) if (text.chars().count() as u64) < length => {
                    Err(format!("{instance} is shorter than {length} characters"))
                }
                _ => Ok(()),
            }
        }
        _ => Err(format!(
            "schema: keyword `{keyword}` is not supported by this validator"
        )),
    }
}

fn has_type(instance: &Value, expected: &str) -> Result<bool, String> {
    Ok(match expected {
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "number" => instance.is_number(),
        "integer" => {
            instance.is_u64()
                || instance.is_i64()
                || instance.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        "boolean" => instance.is_boolean(),
        "null" => instance.is_null(),
        other => return Err(format!("schema: unknown type `{other}`")),
    })
}

fn describe(instance: &Value) -> String {
    match instance {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn display(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["name", "count"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "count": {"type": "integer", "minimum": 0},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "inner": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"flag": {"type": "boolean"}}
                },
                "named": {"type": "object", "additionalProperties": {"type": "number"}}
            }
        })
    }

    fn problems(instance: Value) -> Vec<String> {
        validate(&schema(), &instance).err().unwrap_or_default()
    }

    #[test]
    fn a_conforming_instance_passes() {
        let instance =
            json!({"name": "x", "count": 3, "ratio": 0.5, "kind": "a", "inner": {"flag": true}});
        assert_eq!(validate(&schema(), &instance), Ok(()));
    }

    #[test]
    fn each_violation_is_named_with_its_pointer() {
        assert_eq!(
            problems(json!({"name": "x"})),
            ["(root): missing required count"]
        );
        assert_eq!(
            problems(json!({"name": "x", "count": 1.5})),
            ["/count: expected integer, found the number 1.5"]
        );
        assert_eq!(
            problems(json!({"name": "x", "count": -1})),
            ["/count: -1 violates minimum 0"]
        );
        assert_eq!(
            problems(json!({"name": "", "count": 0, "extra": 1})),
            [
                "(root): unexpected extra",
                "/name: \"\" is shorter than 1 characters"
            ]
        );
        assert_eq!(
            problems(json!({"name": "x", "count": 0, "ratio": 0, "kind": "c"})),
            [
                "/kind: \"c\" is not one of [\"a\",\"b\"]",
                "/ratio: 0 violates exclusiveMinimum 0"
            ]
        );
        assert_eq!(
            problems(json!({"name": "x", "count": 0, "inner": {"flag": 1, "more": 2}})),
            [
                "/inner/flag: expected boolean, found the number 1",
                "/inner: unexpected more"
            ]
        );
    }

    #[test]
    fn a_schema_for_additional_properties_checks_each_of_them() {
        assert_eq!(
            problems(json!({"name": "x", "count": 0, "named": {"a": 1.5, "b": 2}})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"name": "x", "count": 0, "named": {"a": "1"}})),
            ["/named/a: expected number, found the string \"1\""]
        );
    }

    #[test]
    fn a_keyword_the_validator_does_not_know_is_an_error() {
        let schema = json!({"type": "string", "pattern": "^a"});
        assert_eq!(
            validate(&schema, &json!("b")),
            Err(vec![
                "(root): schema: keyword `pattern` is not supported by this validator".into()
            ])
        );
    }

    #[test]
    fn the_results_schema_uses_only_supported_keywords() {
        let schema: Value = serde_json::from_str(RESULTS_SCHEMA).unwrap();
        assert_eq!(schema_problems(&schema), Vec::<String>::new());
        let nested = json!({"properties": {"a": {"properties": {"b": {"format": "date"}}}}});
        assert_eq!(
            schema_problems(&nested),
            ["schema at /properties/a/properties/b: keyword `format` is not supported by this validator"]
        );
    }
}

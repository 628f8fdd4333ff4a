//! Example instances of a JSON Schema, for the structured output a simulated session reports.
//!
//! A real session fills `structured_output` with an object that validates against the
//! `structured_output_schema` given at create time. The simulator has no model to write one,
//! so it builds the simplest instance the schema admits: `const`, `enum`, `default` or
//! `examples` when the schema offers them, otherwise a value of the first non-null `type`,
//! respecting the usual bounds (`minimum`, `minLength`, `minItems`, `required`, `format`).
//!
//! Covered: `type` (also as an array), `properties`, `required`, `additionalProperties`,
//! `enum`, `const`, `default`, `examples`, string `format` (date-time, date, time, uri, email,
//! uuid, hostname, ipv4) and `minLength`/`maxLength`, numeric bounds (inclusive and
//! exclusive), `items` (one schema or a tuple), `minItems`, `anyOf`/`oneOf` (first branch),
//! `allOf` (object parts merged), and local `$ref`s (`#/definitions/...`, `#/$defs/...`).
//! Not covered: `pattern`, `multipleOf`, `not`, `if`/`then`, `uniqueItems` with several
//! items, `dependencies`. Recursive schemas stop after a fixed depth by leaving out optional
//! properties and array items.

use serde_json::{Map, Number, Value, json};

/// Depth after which only what the schema requires is generated, so recursive schemas end.
const OPTIONAL_DEPTH: usize = 6;
/// Depth after which generation gives up and returns `null`, against `$ref` cycles that are
/// required all the way down (no finite instance exists then anyway).
const MAX_DEPTH: usize = 32;

/// An instance of `schema`, which should validate against it for the keywords listed in the
/// module docs.
pub fn instance_for(schema: &Value) -> Value {
    Generator { root: schema }.generate(schema, 0)
}

struct Generator<'a> {
    root: &'a Value,
}

impl Generator<'_> {
    fn generate(&self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let map = match schema {
            Value::Object(map) => map,
            // `true` admits anything, `false` nothing; any value will do for both.
            _ => return json!({}),
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            // Draft 7 ignores the siblings of `$ref`.
            return match self.resolve(reference) {
                Some(target) => self.generate(target, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = map.get("const") {
            return value.clone();
        }
        if let Some(Value::Array(values)) = map.get("enum")
            && let Some(first) = values.first()
        {
            return first.clone();
        }
        if let Some(value) = map.get("default") {
            return value.clone();
        }
        if let Some(Value::Array(values)) = map.get("examples")
            && let Some(first) = values.first()
        {
            return first.clone();
        }
        if let Some(Value::Array(parts)) = map.get("allOf") {
            let merged = self.merge_all_of(map, parts);
            return self.generate(&merged, depth + 1);
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = map.get(keyword)
                && let Some(first) = branches.first()
            {
                let merged = merge_branch(map, keyword, first);
                return self.generate(&merged, depth + 1);
            }
        }
        match schema_type(map).as_deref() {
            Some("object") => self.object(map, depth),
            Some("array") => self.array(map, depth),
            Some("string") => string(map),
            Some("integer") => integer(map),
            Some("number") => number(map),
            Some("boolean") => Value::Bool(true),
            Some("null") => Value::Null,
            _ => json!("example"),
        }
    }

    /// Follows a local JSON pointer reference; remote references are not followed.
    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }

    /// One object schema holding the `properties` and `required` of `base` and every
    /// `allOf` part, which is what an instance of all parts at once needs.
    fn merge_all_of(&self, base: &Map<String, Value>, parts: &[Value]) -> Value {
        let mut merged = base.clone();
        merged.remove("allOf");
        for part in parts {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(reference) => self.resolve(reference).unwrap_or(part),
                None => part,
            };
            let Some(part) = part.as_object() else {
                continue;
            };
            for (key, value) in part {
                match (key.as_str(), merged.get_mut(key)) {
                    ("properties", Some(Value::Object(existing))) => {
                        if let Value::Object(more) = value {
                            for (name, schema) in more {
                                existing
                                    .entry(name.clone())
                                    .or_insert_with(|| schema.clone());
                            }
                        }
                    }
                    ("required", Some(Value::Array(existing))) => {
                        if let Value::Array(more) = value {
                            for name in more {
                                if !existing.contains(name) {
                                    existing.push(name.clone());
                                }
                            }
                        }
                    }
                    (_, None) => {
                        merged.insert(key.clone(), value.clone());
                    }
                    _ => {}
                }
            }
        }
        Value::Object(merged)
    }

    fn object(&self, map: &Map<String, Value>, depth: usize) -> Value {
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (name, schema) in properties {
                if depth >= OPTIONAL_DEPTH && !required.contains(&name.as_str()) {
                    continue;
                }
                out.insert(name.clone(), self.generate(schema, depth + 1));
            }
        }
        // Required names without a property schema take the `additionalProperties` schema.
        for name in required {
            if !out.contains_key(name) {
                let value = match map.get("additionalProperties") {
                    Some(schema @ Value::Object(_)) => self.generate(schema, depth + 1),
                    _ => json!("example"),
                };
                out.insert(name.to_owned(), value);
            }
        }
        Value::Object(out)
    }

    fn array(&self, map: &Map<String, Value>, depth: usize) -> Value {
        let min_items = map.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max_items = map.get("maxItems").and_then(Value::as_u64);
        match map.get("items") {
            Some(Value::Array(tuple)) => Value::Array(
                tuple
                    .iter()
                    .map(|item| self.generate(item, depth + 1))
                    .collect(),
            ),
            items => {
                // One item shows the shape; deep in a recursive schema only the minimum.
                let wanted = if depth >= OPTIONAL_DEPTH {
                    min_items
                } else {
                    min_items.max(1)
                };
                let count = max_items.map_or(wanted, |max| wanted.min(max));
                let item = match items {
                    Some(schema) => self.generate(schema, depth + 1),
                    None => json!("example"),
                };
                Value::Array((0..count).map(|_| item.clone()).collect())
            }
        }
    }
}

/// The schema's type: the first non-null entry of `type`, else one implied by its keywords.
fn schema_type(map: &Map<String, Value>) -> Option<String> {
    match map.get("type") {
        Some(Value::String(name)) => return Some(name.clone()),
        Some(Value::Array(names)) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            return names
                .iter()
                .find(|name| **name != "null")
                .or(names.first())
                .map(|name| (*name).to_owned());
        }
        _ => {}
    }
    if map.contains_key("properties") || map.contains_key("required") {
        Some("object".to_owned())
    } else if map.contains_key("items") {
        Some("array".to_owned())
    } else {
        None
    }
}

/// The parent schema with `keyword` replaced by its chosen branch, so sibling keywords such
/// as `properties` next to `anyOf` still apply.
fn merge_branch(map: &Map<String, Value>, keyword: &str, branch: &Value) -> Value {
    let mut rest = map.clone();
    rest.remove(keyword);
    json!({"allOf": [Value::Object(rest), branch]})
}

fn string(map: &Map<String, Value>) -> Value {
    let base = match map.get("format").and_then(Value::as_str) {
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("date") => "2026-01-01",
        Some("time") => "00:00:00Z",
        Some("uri") | Some("url") | Some("uri-reference") | Some("iri") => "https://example.com/",
        Some("email") | Some("idn-email") => "devin@example.com",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        Some("hostname") | Some("idn-hostname") => "example.com",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        _ => "example",
    };
    let mut text = base.to_owned();
    let min = map.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    while (text.chars().count() as u64) < min {
        text.push('x');
    }
    if let Some(max) = map.get("maxLength").and_then(Value::as_u64) {
        text = text
            .chars()
            .take(usize::try_from(max).unwrap_or(usize::MAX))
            .collect();
    }
    Value::String(text)
}

/// The lower and upper bounds a number must respect, with exclusive bounds nudged inward
/// by `step`.
fn bounds(map: &Map<String, Value>, step: f64) -> (Option<f64>, Option<f64>) {
    let get = |key: &str| map.get(key).and_then(Value::as_f64);
    let low = match (get("minimum"), get("exclusiveMinimum")) {
        (Some(a), Some(b)) => Some(a.max(b + step)),
        (a, b) => a.or(b.map(|b| b + step)),
    };
    let high = match (get("maximum"), get("exclusiveMaximum")) {
        (Some(a), Some(b)) => Some(a.min(b - step)),
        (a, b) => a.or(b.map(|b| b - step)),
    };
    (low, high)
}

fn integer(map: &Map<String, Value>) -> Value {
    let (low, high) = bounds(map, 1.0);
    let mut value = low.map_or(0.0, f64::ceil);
    if let Some(high) = high
        && value > high
    {
        value = high.floor();
    }
    // Bounds come from JSON numbers, so the cast only saturates on absurd schemas.
    Value::Number(Number::from(value as i64))
}

fn number(map: &Map<String, Value>) -> Value {
    let (low, high) = bounds(map, 0.5);
    let value = match (low, high) {
        (Some(low), Some(high)) => (low + high) / 2.0,
        (Some(low), None) => low,
        (None, Some(high)) => high.min(0.0),
        (None, None) => 0.0,
    };
    Number::from_f64(value).map_or(json!(0), Value::Number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn assert_valid(schema: Value) -> Value {
        let instance = instance_for(&schema);
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(
            validator.is_valid(&instance),
            "instance {instance} does not fit {schema}"
        );
        instance
    }

    #[test]
    fn object_with_required_and_typed_properties_validates() {
        let instance = assert_valid(json!({
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["done", "blocked"]},
                "count": {"type": "integer", "minimum": 3, "maximum": 9},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "ok": {"type": "boolean"},
                "note": {"type": ["null", "string"], "minLength": 12},
            },
            "required": ["status", "count"],
        }));
        assert_eq!(instance["status"], "done");
        assert_eq!(instance["count"], 3);
        assert!(instance["note"].as_str().unwrap().len() >= 12);
    }

    #[test]
    fn string_formats_validate_with_format_checks_on() {
        let schema = json!({
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "link": {"type": "string", "format": "uri"},
                "mail": {"type": "string", "format": "email"},
                "id": {"type": "string", "format": "uuid"},
            },
        });
        let instance = instance_for(&schema);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        assert!(validator.is_valid(&instance), "{instance}");
    }

    #[test]
    fn arrays_respect_min_items_and_item_schemas() {
        let instance = assert_valid(json!({
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"const": 7}}, "required": ["n"]},
            "minItems": 3,
        }));
        assert_eq!(instance.as_array().unwrap().len(), 3);
        assert_eq!(instance[0]["n"], 7);
    }

    #[test]
    fn local_refs_any_of_and_all_of_validate() {
        let instance = assert_valid(json!({
            "definitions": {"pr": {"type": "object", "properties": {
                "url": {"type": "string", "format": "uri"}}, "required": ["url"]}},
            "$defs": {"state": {"enum": ["open", "merged"]}},
            "type": "object",
            "properties": {
                "pr": {"$ref": "#/definitions/pr"},
                "state": {"$ref": "#/$defs/state"},
                "either": {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]},
                "both": {"allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ]},
            },
            "required": ["pr", "state", "either", "both"],
        }));
        assert_eq!(instance["state"], "open");
        assert_eq!(instance["either"], 5);
        assert!(instance["both"]["a"].is_string() && instance["both"]["b"].is_i64());
    }

    #[test]
    fn recursive_schema_terminates_and_validates() {
        assert_valid(json!({
            "$ref": "#/definitions/node",
            "definitions": {"node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/node"}},
                },
                "required": ["name"],
            }},
        }));
    }

    #[test]
    fn defaults_and_examples_are_preferred() {
        let instance = assert_valid(json!({
            "type": "object",
            "properties": {
                "level": {"type": "string", "default": "high"},
                "tag": {"type": "string", "examples": ["ci"]},
                "nothing": {"type": "null"},
                "negative": {"type": "integer", "maximum": -4},
            },
        }));
        assert_eq!(
            instance,
            json!({"level": "high", "tag": "ci", "nothing": null, "negative": -4})
        );
    }
}

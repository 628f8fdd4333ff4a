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
//!
//! The schema comes from the caller and the instance is built under the store's lock, so the
//! work is bounded whatever the schema asks for: strings stop at 4096 characters, arrays at 64
//! items, and a budget of about 1 MiB of output covers the whole instance. Once half of it is
//! spent only required members are written; once all of it is, the rest are placeholders.

use std::cell::Cell;
use std::collections::HashSet;

use serde_json::{Map, Number, Value, json};

/// Depth after which only what the schema requires is generated, so recursive schemas end.
const OPTIONAL_DEPTH: usize = 6;
/// Depth after which generation gives up and returns `null`, against `$ref` cycles that are
/// required all the way down (no finite instance exists then anyway).
const MAX_DEPTH: usize = 32;
/// Longest string written for `minLength`: the schema comes from the caller and the store's
/// lock is held while generating, so a `minLength` of 10^12 must not be honoured.
const MAX_STRING_CHARS: usize = 4096;
/// Most items written for `minItems`, for the same reason.
const MAX_ITEMS: u64 = 64;
/// Total work allowed for one instance, in units of roughly one byte of output. Depth alone
/// does not bound the work: a recursive schema with several required properties grows
/// exponentially long before `MAX_DEPTH`, and nested `minItems` multiply.
const BUDGET: usize = 1 << 20;
/// What visiting one schema node or writing one value costs against `BUDGET`.
const NODE_COST: usize = 16;

/// An instance of `schema`, which should validate against it for the keywords listed in the
/// module docs, as long as a valid instance fits within the generator's limits (strings of
/// 4096 characters, arrays of 64 items, about 1 MiB in all). Past those limits the result is
/// the closest the generator got; it never takes unbounded time or memory.
pub fn instance_for(schema: &Value) -> Value {
    Generator {
        root: schema,
        budget: Cell::new(BUDGET),
    }
    .generate(schema, 0)
}

struct Generator<'a> {
    root: &'a Value,
    /// Work units left; once spent, every remaining node gets a cheap placeholder.
    budget: Cell<usize>,
}

impl Generator<'_> {
    /// Takes `units` from the budget, or empties it and says no when there are not enough,
    /// so that every later check fails at once instead of measuring again.
    fn spend(&self, units: usize) -> bool {
        let left = self.budget.get();
        if units > left {
            self.budget.set(0);
            false
        } else {
            self.budget.set(left - units);
            true
        }
    }

    /// Whether to leave out everything optional: deep in a recursive schema, or once half the
    /// budget is gone, so that what remains goes to what the schema requires.
    fn frugal(&self, depth: usize) -> bool {
        depth >= OPTIONAL_DEPTH || self.budget.get() < BUDGET / 2
    }

    /// Pays for copying `values`, measured no further than the budget left.
    fn pay_for<'v>(&self, values: impl IntoIterator<Item = &'v Value>) -> bool {
        let left = self.budget.get();
        self.spend(weight(values, left.saturating_add(1)))
    }

    /// A copy of `value` taken from the schema, or a placeholder when the budget is gone.
    fn copy(&self, value: &Value, map: &Map<String, Value>) -> Value {
        if self.pay_for([value]) {
            value.clone()
        } else {
            placeholder(map)
        }
    }

    fn generate(&self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let map = match schema {
            Value::Object(map) => map,
            // `true` admits anything, `false` nothing; any value will do for both.
            _ => return json!({}),
        };
        if !self.spend(NODE_COST) {
            return placeholder(map);
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            // Draft 7 ignores the siblings of `$ref`.
            return match self.resolve(reference) {
                Some(target) => self.generate(target, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = map.get("const") {
            return self.copy(value, map);
        }
        if let Some(Value::Array(values)) = map.get("enum")
            && let Some(first) = values.first()
        {
            return self.copy(first, map);
        }
        if let Some(value) = map.get("default") {
            return self.copy(value, map);
        }
        if let Some(Value::Array(values)) = map.get("examples")
            && let Some(first) = values.first()
        {
            return self.copy(first, map);
        }
        if let Some(Value::Array(parts)) = map.get("allOf") {
            return match self.merge_all_of(map, parts) {
                Some(merged) => self.generate(&merged, depth + 1),
                None => placeholder(map),
            };
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = map.get(keyword)
                && let Some(first) = branches.first()
            {
                if !self.pay_for(map.values()) {
                    return placeholder(map);
                }
                let merged = merge_branch(map, keyword, first);
                return self.generate(&merged, depth + 1);
            }
        }
        match schema_type(map).as_deref() {
            Some("object") => self.object(map, depth),
            Some("array") => self.array(map, depth),
            Some("string") => self.string(map),
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
    /// `allOf` part, which is what an instance of all parts at once needs. `None` when the
    /// budget cannot pay for the copies.
    fn merge_all_of(&self, base: &Map<String, Value>, parts: &[Value]) -> Option<Value> {
        if !self.pay_for(base.values()) {
            return None;
        }
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
            if !self.pay_for(part.values()) {
                return None;
            }
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
                            // A set, not `contains`: long `required` lists would be quadratic.
                            let mut seen: HashSet<String> = existing
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect();
                            for name in more {
                                if let Some(text) = name.as_str()
                                    && seen.insert(text.to_owned())
                                {
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
        Some(Value::Object(merged))
    }

    fn object(&self, map: &Map<String, Value>, depth: usize) -> Value {
        // A list for a stable order, a set for lookups that stay linear on long lists.
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let is_required: HashSet<&str> = required.iter().copied().collect();
        let properties = map.get("properties").and_then(Value::as_object);
        // Walking the names costs even when every value is a placeholder.
        let names = properties.map_or(0, Map::len) + required.len();
        if !self.spend(names) {
            return json!({});
        }
        let mut out = Map::new();
        if let Some(properties) = properties {
            for (name, schema) in properties {
                if !is_required.contains(name.as_str()) && self.frugal(depth) {
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
                let wanted = if self.frugal(depth) {
                    min_items
                } else {
                    min_items.max(1)
                };
                let count = max_items
                    .map_or(wanted, |max| wanted.min(max))
                    .min(MAX_ITEMS);
                if count == 0 {
                    return json!([]);
                }
                let item = match items {
                    Some(schema) => self.generate(schema, depth + 1),
                    None => json!("example"),
                };
                // The copies cost what the first one weighs; write only those paid for.
                let each = weight([&item], BUDGET).max(1);
                let affordable = self.budget.get() / each;
                let copies = usize::try_from(count - 1)
                    .unwrap_or(usize::MAX)
                    .min(affordable);
                self.spend(copies.saturating_mul(each));
                Value::Array(vec![item; copies + 1])
            }
        }
    }

    fn string(&self, map: &Map<String, Value>) -> Value {
        let base = match map.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-01-01T00:00:00Z",
            Some("date") => "2026-01-01",
            Some("time") => "00:00:00Z",
            Some("uri") | Some("url") | Some("uri-reference") | Some("iri") => {
                "https://example.com/"
            }
            Some("email") | Some("idn-email") => "devin@example.com",
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            Some("hostname") | Some("idn-hostname") => "example.com",
            Some("ipv4") => "192.0.2.1",
            Some("ipv6") => "2001:db8::1",
            _ => "example",
        };
        let min = map
            .get("minLength")
            .and_then(Value::as_u64)
            .map_or(0, |min| usize::try_from(min).unwrap_or(usize::MAX))
            .min(MAX_STRING_CHARS);
        let max = map
            .get("maxLength")
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |max| usize::try_from(max).unwrap_or(usize::MAX));
        // Every base is ASCII, so bytes and characters count alike.
        let length = base.len().max(min).min(max);
        if !self.spend(length) {
            return json!("");
        }
        let mut text: String = base.chars().take(length).collect();
        text.push_str(&"x".repeat(length - text.len()));
        Value::String(text)
    }
}

/// Roughly what copying `values` costs in budget units, counted no further than `cap` so that
/// measuring never costs more than the budget it is checked against.
fn weight<'v>(values: impl IntoIterator<Item = &'v Value>, cap: usize) -> usize {
    let mut roots = values.into_iter();
    let mut stack: Vec<&Value> = Vec::new();
    let mut total = 0usize;
    while let Some(value) = stack.pop().or_else(|| roots.next()) {
        total = total.saturating_add(NODE_COST);
        match value {
            Value::String(text) => total = total.saturating_add(text.len()),
            Value::Array(items) => {
                total = total.saturating_add(items.len());
                if total < cap {
                    stack.extend(items);
                }
            }
            Value::Object(members) => {
                total = total.saturating_add(members.len());
                if total < cap {
                    for (name, member) in members {
                        total = total.saturating_add(name.len());
                        stack.push(member);
                    }
                }
            }
            _ => {}
        }
        if total >= cap {
            return total;
        }
    }
    total
}

/// A value of the schema's type that costs nothing to build, for when the budget is gone.
fn placeholder(map: &Map<String, Value>) -> Value {
    match schema_type(map).as_deref() {
        Some("object") => json!({}),
        Some("array") => json!([]),
        Some("string") => json!(""),
        Some("integer") | Some("number") => json!(0),
        Some("boolean") => json!(true),
        _ => Value::Null,
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

    /// Runs the generator on a schema from a hostile caller: it must come back within a
    /// bounded time and with a bounded instance, since the store's lock is held meanwhile.
    fn bounded(schema: &Value) -> Value {
        let started = std::time::Instant::now();
        let instance = instance_for(schema);
        let elapsed = started.elapsed();
        // Milliseconds in practice; the margin is for a loaded machine and debug builds.
        assert!(elapsed.as_secs() < 10, "took {elapsed:?} for {schema}");
        let size = instance.to_string().len();
        assert!(size <= 2 << 20, "instance of {size} bytes for {schema}");
        instance
    }

    #[test]
    fn huge_min_length_is_capped_and_built_at_once() {
        let schema = json!({"type": "string", "minLength": 1_000_000_000_000u64});
        let instance = bounded(&schema);
        assert_eq!(instance.as_str().unwrap().len(), MAX_STRING_CHARS);
        let fits = assert_valid(json!({"type": "string", "minLength": 4000, "maxLength": 4000}));
        assert_eq!(fits.as_str().unwrap().len(), 4000);
    }

    #[test]
    fn huge_min_items_is_capped() {
        let schema = json!({"type": "array", "minItems": 1_000_000_000_000u64,
                            "items": {"type": "string", "minLength": 3}});
        let instance = bounded(&schema);
        assert_eq!(instance.as_array().unwrap().len(), MAX_ITEMS as usize);
        let fits =
            assert_valid(json!({"type": "array", "minItems": 64, "items": {"type": "integer"}}));
        assert_eq!(fits.as_array().unwrap().len(), 64);
    }

    #[test]
    fn nested_min_items_stay_within_the_budget() {
        // 64^6 strings of 4096 characters if every bound were honoured.
        let mut schema = json!({"type": "string", "minLength": 4096});
        for _ in 0..6 {
            schema = json!({"type": "array", "minItems": 64, "items": schema});
        }
        bounded(&schema);
    }

    #[test]
    fn recursive_schema_with_many_required_properties_stays_within_the_budget() {
        // Eight required children per node: 8^32 nodes before the depth limit. No finite
        // instance exists, so only the bounds are checked.
        let children: Map<String, Value> = (0..8)
            .map(|n| (format!("c{n}"), json!({"$ref": "#/definitions/node"})))
            .collect();
        let names: Vec<String> = children.keys().cloned().collect();
        let schema = json!({
            "$ref": "#/definitions/node",
            "definitions": {"node": {"type": "object", "properties": children, "required": names}},
        });
        bounded(&schema);
    }

    #[test]
    fn wide_recursive_schema_with_optional_children_still_validates() {
        // Ten optional children per node would be 10^6 nodes down to the optional depth;
        // the budget cuts the optional ones and the instance still fits the schema.
        let mut children: Map<String, Value> = (0..10)
            .map(|n| (format!("c{n}"), json!({"$ref": "#/definitions/node"})))
            .collect();
        children.insert(
            "name".to_owned(),
            json!({"type": "string", "minLength": 200}),
        );
        let schema = json!({
            "$ref": "#/definitions/node",
            "definitions": {"node": {"type": "object", "properties": children,
                                     "required": ["name"]}},
        });
        bounded(&schema);
        let instance = assert_valid(schema);
        assert!(
            instance["c0"]["name"].is_string(),
            "optional children are still shown"
        );
    }

    #[test]
    fn many_all_of_branches_with_long_required_lists_stay_within_the_budget() {
        let names: Vec<String> = (0..2000).map(|n| format!("p{n}")).collect();
        let part = json!({"required": names, "allOf": [{"$ref": "#/definitions/x"}]});
        let schema = json!({
            "definitions": {"x": {"anyOf": [part.clone()], "allOf": [part]}},
            "allOf": [{"$ref": "#/definitions/x"}, {"$ref": "#/definitions/x"}],
        });
        bounded(&schema);
    }
}

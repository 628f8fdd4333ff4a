//! Checks a `structured_output_schema` before it is sent to Devin.
//!
//! The API wants a Draft 7 JSON Schema object, at most 64 KB, with no external `$ref`
//! (§4.2.1). Devin would only find out after the session started, so a bad schema is refused
//! here, with the reason, before a session is created and billed.

use serde_json::Value;

/// The API's size limit for a schema, in bytes of its JSON text.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Returns why `schema` cannot be used, or `Ok` when it can.
pub fn check_structured_output_schema(schema: &Value) -> Result<(), String> {
    let Value::Object(_) = schema else {
        return Err(format!(
            "structured_output_schema must be a JSON object (a JSON Schema), not {}",
            kind_of(schema)
        ));
    };
    let size = schema.to_string().len();
    if size > MAX_SCHEMA_BYTES {
        return Err(format!(
            "structured_output_schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES} bytes"
        ));
    }
    if let Some(reference) = find_remote_ref(schema) {
        return Err(format!(
            "structured_output_schema must be self-contained, but it has \"$ref\": \
             \"{reference}\"; inline that schema, or put it under \"definitions\" and refer to \
             it as \"#/definitions/…\""
        ));
    }
    let meta_errors: Vec<String> = jsonschema::draft7::meta::validator()
        .iter_errors(schema)
        .take(3)
        .map(|error| {
            let path = error.instance_path().to_string();
            let at = if path.is_empty() {
                "the root".to_owned()
            } else {
                path
            };
            format!("at {at}: {error}")
        })
        .collect();
    if !meta_errors.is_empty() {
        return Err(format!(
            "structured_output_schema is not a valid JSON Schema (Draft 7): {}",
            meta_errors.join("; ")
        ));
    }
    jsonschema::draft7::new(schema).map_err(|error| {
        format!("structured_output_schema cannot be used as a JSON Schema: {error}")
    })?;
    Ok(())
}

/// Keywords whose values are instance data, not schemas: a `$ref` inside them is just text.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];

/// Keywords whose values map names (of properties, of definitions) to schemas. Their keys are
/// names, not keywords: a property called `default` is a schema like any other.
const NAME_MAP_KEYWORDS: [&str; 5] = [
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependencies",
];

/// The first `$ref` that does not point inside the schema itself (`""` and `#…` do).
fn find_remote_ref(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && !reference.is_empty()
                && !reference.starts_with('#')
            {
                return Some(reference.clone());
            }
            map.iter()
                .filter(|(key, _)| !DATA_KEYWORDS.contains(&key.as_str()))
                .find_map(|(key, value)| match value {
                    Value::Object(named) if NAME_MAP_KEYWORDS.contains(&key.as_str()) => {
                        named.values().find_map(find_remote_ref)
                    }
                    _ => find_remote_ref(value),
                })
        }
        Value::Array(items) => items.iter().find_map(find_remote_ref),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_plain_object_schema_with_local_refs() {
        let schema = json!({
            "type": "object",
            "properties": {"status": {"$ref": "#/definitions/status"}},
            "definitions": {"status": {"type": "string", "enum": ["ok", "failed"]}}
        });
        assert_eq!(check_structured_output_schema(&schema), Ok(()));
    }

    #[test]
    fn a_ref_in_instance_data_is_not_a_reference() {
        let schema = json!({
            "type": "object",
            "properties": {
                "link": {
                    "type": "object",
                    "const": {"$ref": "https://example.com/not-a-schema"},
                    "examples": [{"$ref": "https://example.com/also-data"}]
                },
                "self": {"$ref": ""}
            }
        });
        assert_eq!(check_structured_output_schema(&schema), Ok(()));
    }

    #[test]
    fn a_property_named_like_a_data_keyword_is_still_searched() {
        for name in ["default", "const", "enum", "examples"] {
            let schema = json!({
                "type": "object",
                "properties": { name: {"$ref": "https://evil.example/s.json"} },
                "definitions": { name: {"type": "string"} }
            });
            let error = check_structured_output_schema(&schema).unwrap_err();
            assert!(error.contains("self-contained"), "{name}: {error}");
        }
    }

    #[test]
    fn refuses_non_objects_remote_refs_bad_keywords_and_oversize() {
        let not_object = check_structured_output_schema(&json!("type: object")).unwrap_err();
        assert!(not_object.contains("a string"), "{not_object}");

        let remote = json!({"properties": {"a": {"$ref": "https://example.com/a.json"}}});
        let error = check_structured_output_schema(&remote).unwrap_err();
        assert!(error.contains("self-contained"), "{error}");

        let bad = json!({"type": "objekt"});
        let error = check_structured_output_schema(&bad).unwrap_err();
        assert!(error.contains("not a valid JSON Schema"), "{error}");

        let dangling = json!({"properties": {"a": {"$ref": "#/definitions/missing"}}});
        assert!(check_structured_output_schema(&dangling).is_err());

        let huge = json!({"type": "object", "description": "x".repeat(MAX_SCHEMA_BYTES)});
        let error = check_structured_output_schema(&huge).unwrap_err();
        assert!(error.contains("limit"), "{error}");
    }
}

//! Parsing a client frame: its `ref` and its message, or the error it gets (malformed JSON is
//! `bad_request`, an unknown `type` is `unknown_type`, and the `ref` is echoed when it could
//! be read).

use plenary_protocol::{ClientMessage, Envelope, ErrorCode, MAX_REF_CHARS, Ref};

/// A parsed frame: the client's `ref` and its message.
type Parsed = (Option<Ref>, ClientMessage);

/// Parse a client frame, telling malformed JSON (`bad_request`) from an unknown `type`.
pub(super) fn parse(text: &str) -> Result<Parsed, (Option<Ref>, ErrorCode, String)> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|error| {
        (
            None,
            ErrorCode::BadRequest,
            format!("expected a JSON object with a string \"type\": {error}"),
        )
    })?;
    let reference = envelope.reference;
    if let Some(Ref::Text(text)) = &reference {
        if text.chars().count() > MAX_REF_CHARS {
            return Err((
                None,
                ErrorCode::BadRequest,
                format!("ref is longer than {MAX_REF_CHARS} characters"),
            ));
        }
    }
    if !ClientMessage::TYPES.contains(&envelope.kind.as_str()) {
        return Err((
            reference,
            ErrorCode::UnknownType,
            format!("unknown message type {:?}", envelope.kind),
        ));
    }
    match serde_json::from_str(text) {
        Ok(message) => Ok((reference, message)),
        Err(error) => Err((reference, ErrorCode::BadRequest, error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// JSON values shaped like client messages: known and unknown types, the usual field
    /// names with values of every JSON type, nested at random.
    fn message_like() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            ".{0,20}".prop_map(Value::String),
            prop::sample::select(ClientMessage::TYPES.to_vec()).prop_map(|t| json!(t)),
        ];
        let value = leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        });
        let field = prop::sample::select(vec![
            "type",
            "ref",
            "room",
            "text",
            "since",
            "session",
            "question",
            "action",
            "id",
            "token",
            "name",
            "anonymous",
            "client_id",
        ]);
        prop::collection::btree_map(field, value, 0..7).prop_map(|map| {
            Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
    }

    fn check(text: &str) {
        let known = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|value| value.get("type").and_then(Value::as_str).map(str::to_owned))
            .map(|kind| ClientMessage::TYPES.contains(&kind.as_str()));
        match parse(text) {
            Ok(_) => assert_eq!(known, Some(true), "only known types parse: {text}"),
            Err((_, ErrorCode::UnknownType, _)) => {
                assert_eq!(
                    known,
                    Some(false),
                    "unknown_type only for an unknown type: {text}"
                )
            }
            Err((_, code, message)) => {
                assert_eq!(code, ErrorCode::BadRequest, "{text}");
                assert!(!message.is_empty());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_text_parses_or_gets_an_error_code(text in any::<String>()) {
            check(&text);
        }

        #[test]
        fn any_message_shaped_json_parses_or_gets_an_error_code(value in message_like()) {
            check(&value.to_string());
        }
    }

    #[test]
    fn a_known_type_with_bad_fields_keeps_its_ref_on_the_error() {
        let error = parse(r#"{"type":"chat","ref":"r1","room":5}"#).expect_err("room is a string");
        assert!(
            parse(r#"{"type":"chat","ref":2,"room":"r","text":"t"}"#)
                .is_ok_and(|(r, _)| r == Some(Ref::Number(2)))
        );
        assert_eq!(error.0, Some(Ref::Text("r1".into())));
        assert_eq!(error.1, ErrorCode::BadRequest);
    }
}

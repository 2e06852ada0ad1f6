//! Showing the operations of a commit record: as one line of safe text, or as a JSON
//! object.
//!
//! Invariants: keys, values and keyspace names go through [`crate::bytes`], so text never
//! carries control characters from the data and says how long a shortened value is; JSON
//! is lossless.

use northstar::format::frame::Op;
use serde_json::{json, Map, Value};

use crate::bytes::{self, Encoding};

/// The operation's name in JSON: `put`, `delete`, `create_keyspace`, `drop_keyspace`.
pub fn name(op: &Op<'_>) -> &'static str {
    match op {
        Op::Put { .. } => "put",
        Op::Delete { .. } => "delete",
        Op::CreateKeyspace { .. } => "create_keyspace",
        Op::DropKeyspace { .. } => "drop_keyspace",
    }
}

/// One line: `put keyspace 0: apple = red`, `delete keyspace 0: apple`,
/// `create keyspace 1: users`, `drop keyspace 1: users`. Keys, values and names are
/// shortened to `width` bytes (all of them when `None`).
pub fn text(op: &Op<'_>, encoding: Encoding, width: Option<usize>) -> String {
    let show = |bytes: &[u8]| bytes::show(bytes, encoding, width);
    // Keyspace names are text even with --hex: they are names, not data.
    let show_name = |name: &[u8]| bytes::show(name, Encoding::Text, width);
    match op {
        Op::Put {
            keyspace,
            key,
            value,
        } => format!("put keyspace {keyspace}: {} = {}", show(key), show(value)),
        Op::Delete { keyspace, key } => format!("delete keyspace {keyspace}: {}", show(key)),
        Op::CreateKeyspace { keyspace, name } => {
            format!("create keyspace {keyspace}: {}", show_name(name))
        }
        Op::DropKeyspace { keyspace, name } => {
            format!("drop keyspace {keyspace}: {}", show_name(name))
        }
    }
}

/// One JSON object: `{"op": "put", "keyspace": 0, "key": ..., "value": ...,
/// "value_size": N}`; deletes have a key, keyspace operations a `name`.
pub fn to_json(op: &Op<'_>, encoding: Encoding) -> Value {
    let mut object = Map::new();
    object.insert("op".into(), Value::from(name(op)));
    match op {
        Op::Put {
            keyspace,
            key,
            value,
        } => {
            object.insert("keyspace".into(), json!(keyspace));
            bytes::insert_json(&mut object, "key", key, encoding);
            bytes::insert_json(&mut object, "value", value, encoding);
            object.insert("value_size".into(), json!(value.len()));
        }
        Op::Delete { keyspace, key } => {
            object.insert("keyspace".into(), json!(keyspace));
            bytes::insert_json(&mut object, "key", key, encoding);
        }
        Op::CreateKeyspace { keyspace, name } | Op::DropKeyspace { keyspace, name } => {
            object.insert("keyspace".into(), json!(keyspace));
            bytes::insert_json(&mut object, "name", name, Encoding::Text);
        }
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_read_as_one_safe_line_each() {
        let put = Op::Put {
            keyspace: 0,
            key: b"apple",
            value: b"red\n",
        };
        assert_eq!(
            text(&put, Encoding::Text, None),
            "put keyspace 0: apple = red\\n"
        );
        let drop = Op::DropKeyspace {
            keyspace: 2,
            name: b"users",
        };
        assert_eq!(text(&drop, Encoding::Hex, None), "drop keyspace 2: users");
        let value = [b'x'; 100];
        let long = Op::Put {
            keyspace: 1,
            key: b"k",
            value: &value,
        };
        assert_eq!(
            text(&long, Encoding::Text, Some(3)),
            "put keyspace 1: k = xxx... (100 bytes)"
        );
    }

    #[test]
    fn operations_in_json_are_lossless() {
        let put = Op::Put {
            keyspace: 3,
            key: b"k",
            value: &[0xff, 0],
        };
        let object = to_json(&put, Encoding::Text);
        assert_eq!(object["op"], "put");
        assert_eq!(object["keyspace"], 3);
        assert_eq!(object["key"], "k");
        assert_eq!(object["value_hex"], "ff00");
        assert_eq!(object["value_size"], 2);
        let delete = Op::Delete {
            keyspace: 0,
            key: b"k",
        };
        assert_eq!(to_json(&delete, Encoding::Text)["op"], "delete");
    }
}

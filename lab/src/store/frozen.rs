//! How the store keeps an object version: [`Frozen`], an immutable JSON tree a few times smaller
//! than a `serde_json::Value` tree. A `Value` object is a `BTreeMap` whose every node holds eleven
//! `String` + `Value` slots (over 600 bytes for a map of two entries) and a `String` allocation per
//! key; a `Frozen` object is one boxed slice of exactly its (key, value) entries sorted by key, its
//! keys are interned (`"metadata"` is stored once for the whole lab), and strings of up to 22 bytes
//! (names, timestamps, "True") live inline without an allocation. Readers navigate it in place
//! with the same calls as a `Value` (`o["metadata"]["name"].as_str()`, `==`), it serializes to
//! exactly the JSON its `Value` would (same key order), and [`Frozen::to_value`] gives a `Value`
//! back for code that changes or builds on it. [`Json`] lets a helper read either.

use std::collections::HashMap;
use std::fmt;
use std::ops::Index;
use std::sync::{Mutex, OnceLock};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Number, Value};

/// An object key: a thin pointer to the one copy of its text, shared by every object that uses
/// it (an entry is then 32 bytes, not 40). Keys are interned for the life of the process: they
/// are field names, label and annotation keys, a small set.
#[derive(Clone, Copy)]
// A thin pointer (8 bytes) on purpose, where `&str` would be 16.
#[allow(clippy::borrowed_box)]
pub struct Key(&'static Box<str>);

impl Key {
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // One copy per text: the same key is the same pointer.
        std::ptr::eq(self.0, other.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

/// Longest string kept inline (the enum stays 24 bytes).
const INLINE: usize = 22;

/// An immutable JSON value (see the module's doc).
#[derive(Debug, Clone)]
pub enum Frozen {
    Null,
    Bool(bool),
    Number(Number),
    /// A string of at most [`INLINE`] bytes, stored in place.
    Short {
        len: u8,
        bytes: [u8; INLINE],
    },
    String(Box<str>),
    Array(Box<[Frozen]>),
    /// Entries sorted by key (as a `Value`'s map iterates), looked up by binary search.
    Object(Box<[(Key, Frozen)]>),
}

static NULL: Frozen = Frozen::Null;

/// The interned copy of `key`.
fn intern(key: &str) -> Key {
    static KEYS: OnceLock<Mutex<HashMap<&'static str, Key>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(k) = keys.get(key) {
        return *k;
    }
    let k = Key(Box::leak(Box::new(Box::from(key))));
    keys.insert(k.as_str(), k);
    k
}

impl Frozen {
    fn string(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Self::Short {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Self::String(s.into())
        }
    }

    /// A `Value` equal to this one (for code that changes it or builds on it).
    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Short { .. } | Self::String(_) => {
                Value::String(self.as_str().unwrap_or_default().to_string())
            }
            Self::Array(a) => Value::Array(a.iter().map(Self::to_value).collect()),
            Self::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            // Built from a `&str` cut at its length, so always UTF-8.
            Self::Short { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).ok(),
            Self::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(n) => n.as_i64(),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(n) => n.as_f64(),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Frozen]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&[(Key, Frozen)]> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Self::Object(_))
    }
    pub fn is_array(&self) -> bool {
        matches!(self, Self::Array(_))
    }
    /// The value of `key` when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Frozen> {
        let o = self.as_object()?;
        o.binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &o[i].1)
    }
}

impl From<&Value> for Frozen {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::string(s),
            Value::Array(a) => Self::Array(a.iter().map(Self::from).collect()),
            // A `Map` iterates sorted by key (serde_json without `preserve_order`).
            Value::Object(o) => {
                Self::Object(o.iter().map(|(k, v)| (intern(k), v.into())).collect())
            }
        }
    }
}

impl Index<&str> for Frozen {
    type Output = Frozen;
    /// Like `Value`'s: `Null` for a missing key or a non-object.
    fn index(&self, key: &str) -> &Frozen {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Index<usize> for Frozen {
    type Output = Frozen;
    fn index(&self, i: usize) -> &Frozen {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq for Frozen {
    fn eq(&self, other: &Frozen) -> bool {
        match (self, other) {
            (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Number(a), Self::Number(b)) => a == b,
            (Self::Array(a), Self::Array(b)) => a == b,
            (Self::Object(a), Self::Object(b)) => a == b,
            _ => match (self.as_str(), other.as_str()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl PartialEq<Value> for Frozen {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Self::Null, Value::Null) => true,
            (Self::Bool(a), Value::Bool(b)) => a == b,
            (Self::Number(a), Value::Number(b)) => a == b,
            (Self::Short { .. } | Self::String(_), Value::String(b)) => self.as_str() == Some(b),
            (Self::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Self::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| **ka == *kb.as_str() && va == vb)
            }
            _ => false,
        }
    }
}

impl PartialEq<str> for Frozen {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Frozen {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Frozen {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl Serialize for Frozen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Number(n) => n.serialize(s),
            Self::Short { .. } | Self::String(_) => s.serialize_str(self.as_str().unwrap_or("")),
            Self::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Self::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o.iter() {
                    map.serialize_entry(&**k, v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Display for Frozen {
    /// The compact JSON text, as `Value`'s `Display` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// What helpers that read an object need from it, for either a `Value` or a [`Frozen`].
pub trait Json: Index<&'static str, Output = Self> + PartialEq<Value> + Serialize {
    fn get(&self, key: &str) -> Option<&Self>;
    fn as_str(&self) -> Option<&str>;
    fn as_array(&self) -> Option<&[Self]>
    where
        Self: Sized;
    fn is_null(&self) -> bool;
    /// Whether this is the string `s`.
    fn is_str(&self, s: &str) -> bool {
        self.as_str() == Some(s)
    }
}

impl Json for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        Value::get(self, key)
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_array(&self) -> Option<&[Self]> {
        Value::as_array(self).map(Vec::as_slice)
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
}

impl Json for Frozen {
    fn get(&self, key: &str) -> Option<&Self> {
        Frozen::get(self, key)
    }
    fn as_str(&self) -> Option<&str> {
        Frozen::as_str(self)
    }
    fn as_array(&self) -> Option<&[Self]> {
        Frozen::as_array(self)
    }
    fn is_null(&self) -> bool {
        Frozen::is_null(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "core-0", "namespace": "orders", "labels": {"app": "neo4j", "x": ""},
                         "annotations": {"long": "a string well over twenty-two bytes long, with ünïcode"}},
            "spec": {"containers": [{"name": "neo4j", "ports": [{"containerPort": 7474}, {"containerPort": 7687}]}],
                     "n": -3, "f": 1.5, "t": true, "z": null, "empty": {}, "none": []},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        })
    }

    #[test]
    fn round_trips_and_serializes_like_the_value() {
        let v = sample();
        let f = Frozen::from(&v);
        assert_eq!(f.to_value(), v);
        assert!(f == v);
        assert_eq!(serde_json::to_string(&f).unwrap(), v.to_string());
        assert_eq!(f.to_string(), v.to_string());
        assert_eq!(
            serde_json::to_string_pretty(&f).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
    }

    #[test]
    fn reads_like_a_value() {
        let v = sample();
        let f = Frozen::from(&v);
        assert_eq!(f["metadata"]["name"].as_str(), Some("core-0"));
        assert!(f["metadata"]["name"] == "core-0");
        assert!(f["metadata"]["labels"]["x"] == "");
        assert_eq!(
            f["metadata"]["annotations"]["long"].as_str(),
            v["metadata"]["annotations"]["long"].as_str()
        );
        assert_eq!(
            f["spec"]["containers"][0]["ports"][1]["containerPort"].as_u64(),
            Some(7687)
        );
        assert_eq!(f["spec"]["n"].as_i64(), Some(-3));
        assert_eq!(f["spec"]["f"].as_f64(), Some(1.5));
        assert!(f["spec"]["t"] == true);
        assert!(f["spec"]["z"].is_null() && f["spec"].get("z").is_some());
        assert!(f["nope"]["deeper"][3].is_null() && f.get("nope").is_none());
        assert!(f["status"]["conditions"][0] == json!({"type": "Ready", "status": "True"}));
        assert!(f["status"] != json!({"conditions": []}));
        assert!(f["spec"]["empty"].is_object() && f["spec"]["none"].is_array());
        // Keys are shared between objects.
        let g = Frozen::from(&v);
        let (Some(a), Some(b)) = (f.as_object(), g.as_object()) else {
            panic!("objects")
        };
        assert!(a[0].0 == b[0].0 && std::ptr::eq(a[0].0.as_str(), b[0].0.as_str()));
    }

    #[test]
    fn a_frozen_value_is_24_bytes_and_an_entry_32() {
        assert_eq!(std::mem::size_of::<Frozen>(), 24);
        assert_eq!(std::mem::size_of::<(Key, Frozen)>(), 32);
    }
}

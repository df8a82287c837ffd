//! The streaming JSON reader: the fast path of [`MesosJson::from_json_slice`].
//!
//! The reference reader ([`MesosJson::read_json`]) converts a `serde_json::Value`, so every
//! event was first parsed into a tree of `String`-keyed maps and then looked up field by field.
//! This reader drives serde_json's own `Deserializer` over the text with visitors that match
//! keys to fields (generated `match`es) and write values straight into the prost structs.
//! Because it is serde_json doing the tokenizing, numbers, strings, escapes, the nesting limit
//! and trailing-text rules are exactly those of the `Value` the reference reader would get, and
//! every leaf is converted by the same [`ReadCx`] rules.
//!
//! The reader only ever answers for input that the reference accepts, and then with the same
//! message. It declines (and the caller reads the text again through the `Value` path, which
//! gives the result and the exact error it always gave) on:
//!
//! * anything the reference reports as an error: bad JSON, a top level that is not an object, a
//!   value of the wrong kind, a bad number, base64 or map key, an unknown name in a required
//!   enum, a missing required field;
//! * the cases where reading in document order could differ from the reference's reading in
//!   field-number order of a deduplicated object: a key given twice, two members of one oneof,
//!   a map key given twice;
//! * keys serde_json's `Value` treats specially (`$serde_json::private::...`).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{decode_base64_lenient, from_slice_via_value, JsonError, MesosJson, ProtoEnum, ReadCx};

/// Prefix of the keys serde_json's `Value` deserializer gives a meaning of its own (with the
/// `raw_value` or `arbitrary_precision` features).
const SERDE_PRIVATE: &str = "$serde_json::private::";

/// Reads `bytes` as a `T`: the streaming reader when it can answer, else the `Value` path.
pub(super) fn from_slice<T: StreamJson + MesosJson>(bytes: &[u8]) -> Result<T, JsonError> {
    match read::<T>(bytes) {
        Some(m) => Ok(m),
        None => from_slice_via_value(bytes),
    }
}

/// The streaming reading alone; `None` when it declines.
fn read<T: StreamJson>(bytes: &[u8]) -> Option<T> {
    // Checked as UTF-8 once, whole: reading from a `str`, serde_json does not check every
    // string again. Text that is not UTF-8 is the reference's to report.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut m = T::default();
    // `false`: the top level is `null`, which the reference refuses (not an object).
    let set = (&mut de).deserialize_any(Object(&mut m)).ok()?;
    de.end().ok()?;
    set.then_some(m)
}

/// The error that makes the reader decline; its text is never shown.
pub(crate) fn decline<E: de::Error>() -> E {
    E::custom("left to the Value path")
}

/// Generated for every message: how the members of its JSON object map to its fields.
pub(crate) trait StreamJson: Default {
    /// Bits (by declaration index) of the required fields.
    const REQUIRED: u128;
    /// For each oneof, the bits of its members.
    const ONEOFS: &'static [u128];
    /// The declaration index of the field named `key`.
    fn field_index(key: &str) -> Option<u8>;
    /// Reads the value of field `index` from `map`; whether it was anything but `null`.
    fn read_field<'de, A: MapAccess<'de>>(
        &mut self,
        index: u8,
        map: &mut A,
    ) -> Result<bool, A::Error>;
}

impl<T: StreamJson> StreamJson for Box<T> {
    const REQUIRED: u128 = T::REQUIRED;
    const ONEOFS: &'static [u128] = T::ONEOFS;
    fn field_index(key: &str) -> Option<u8> {
        T::field_index(key)
    }
    fn read_field<'de, A: MapAccess<'de>>(
        &mut self,
        index: u8,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        (**self).read_field(index, map)
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// Reads a JSON object into a message whose fields are all unset; `null` reads as `false`.
struct Object<'a, T>(&'a mut T);

impl<'de, T: StreamJson> DeserializeSeed<'de> for Object<'_, T> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: StreamJson> Visitor<'de> for Object<'_, T> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        // Members seen, and members seen with a value other than `null`.
        let mut present: u128 = 0;
        let mut set: u128 = 0;
        while let Some(index) = map.next_key_seed(FieldKey::<T>(PhantomData))? {
            let Some(index) = index else {
                map.next_value_seed(Skip)?;
                continue;
            };
            let bit = 1u128 << index;
            if present & bit != 0 {
                // The reference sees only the last of duplicate keys.
                return Err(decline());
            }
            present |= bit;
            if self.0.read_field(index, &mut map)? {
                set |= bit;
            }
        }
        if set & T::REQUIRED != T::REQUIRED {
            return Err(decline());
        }
        if T::ONEOFS.iter().any(|&bits| (set & bits).count_ones() > 1) {
            // The reference lets the member with the highest field number win.
            return Err(decline());
        }
        Ok(true)
    }
}

/// A member name, as the index of the field it names (`None`: not a field, ignored).
struct FieldKey<T>(PhantomData<fn() -> T>);

impl<'de, T: StreamJson> DeserializeSeed<'de> for FieldKey<T> {
    type Value = Option<u8>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<u8>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, T: StreamJson> Visitor<'de> for FieldKey<T> {
    type Value = Option<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<u8>, E> {
        match T::field_index(key) {
            Some(index) => Ok(Some(index)),
            None if key.starts_with(SERDE_PRIVATE) => Err(decline()),
            None => Ok(None),
        }
    }
}

/// An optional message field: `null` leaves it unset.
struct OptObject<'a, X>(&'a mut Option<X>);

impl<'de, X: StreamJson> DeserializeSeed<'de> for OptObject<'_, X> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, X: StreamJson> Visitor<'de> for OptObject<'_, X> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        Object(self.0.get_or_insert_with(X::default)).visit_map(map)
    }
}

/// A repeated message field: an array (nested arrays flattened, `null` items skipped) or a
/// single object.
struct Objects<'a, X>(&'a mut Vec<X>);

impl<'de, X: StreamJson> DeserializeSeed<'de> for Objects<'_, X> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, X: StreamJson> Visitor<'de> for Objects<'_, X> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let i = self.0.len();
        self.0.push(X::default());
        Object(&mut self.0[i]).visit_map(map)?;
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let items = self.0;
        if items.capacity() == 0 && std::mem::size_of::<X>() > 1024 {
            // `Vec` starts such large elements at a capacity of 1 and doubles, copying them
            // each time; start where it starts smaller ones.
            items.reserve_exact(4);
        }
        while seq.next_element_seed(Objects(&mut *items))?.is_some() {}
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Leaves (everything but messages)
// ---------------------------------------------------------------------------------------------

/// A JSON value that is neither `null`, an array nor an object.
pub(crate) enum Scalar<'a> {
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

impl Scalar<'_> {
    /// The `Value` serde_json would have built (as its `Value` visitor does).
    fn to_value(&self) -> Value {
        match *self {
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::U64(u) => Value::from(u),
            Scalar::I64(i) => Value::from(i),
            Scalar::F64(f) => Value::from(f),
            Scalar::Str(s) => Value::String(s.to_owned()),
        }
    }
}

/// How one kind of field converts a scalar: `None` when the reference reports an error,
/// `Some(None)` for an unknown enum name.
pub(crate) trait Leaf {
    /// The Rust type of the field's value.
    type Out;
    /// Converts `v` as the reference does.
    fn convert(v: Scalar<'_>) -> Option<Option<Self::Out>>;
}

/// `string`.
pub(crate) struct Str;
impl Leaf for Str {
    type Out = String;
    fn convert(v: Scalar<'_>) -> Option<Option<String>> {
        match v {
            Scalar::Str(s) => Some(Some(s.to_owned())),
            _ => None,
        }
    }
}

/// `bytes` (lenient base64).
pub(crate) struct Bytes;
impl Leaf for Bytes {
    type Out = Vec<u8>;
    fn convert(v: Scalar<'_>) -> Option<Option<Vec<u8>>> {
        match v {
            Scalar::Str(s) => decode_base64_lenient(s).ok().map(Some),
            _ => None,
        }
    }
}

/// `bool`.
pub(crate) struct Bool;
impl Leaf for Bool {
    type Out = bool;
    fn convert(v: Scalar<'_>) -> Option<Option<bool>> {
        match v {
            Scalar::Bool(b) => Some(Some(b)),
            other => ReadCx::default().bool(&other.to_value(), "").ok().map(Some),
        }
    }
}

/// `double`.
pub(crate) struct Double;
impl Leaf for Double {
    type Out = f64;
    fn convert(v: Scalar<'_>) -> Option<Option<f64>> {
        ReadCx::default().double(&v.to_value(), "").ok().map(Some)
    }
}

/// `float`.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct Float;
impl Leaf for Float {
    type Out = f32;
    #[allow(clippy::cast_possible_truncation)] // as the reference does
    fn convert(v: Scalar<'_>) -> Option<Option<f32>> {
        Double::convert(v).map(|d| d.map(|d| d as f32))
    }
}

/// `int64`, `sint64`, `sfixed64`.
pub(crate) struct Int64;
impl Leaf for Int64 {
    type Out = i64;
    fn convert(v: Scalar<'_>) -> Option<Option<i64>> {
        ReadCx::default().int(&v.to_value(), "").ok().map(Some)
    }
}

/// `int32`, `sint32`, `sfixed32`.
pub(crate) struct Int32;
impl Leaf for Int32 {
    type Out = i32;
    #[allow(clippy::cast_possible_truncation)] // as the reference does
    fn convert(v: Scalar<'_>) -> Option<Option<i32>> {
        Int64::convert(v).map(|i| i.map(|i| i as i32))
    }
}

/// `uint64`, `fixed64`.
pub(crate) struct Uint64;
impl Leaf for Uint64 {
    type Out = u64;
    fn convert(v: Scalar<'_>) -> Option<Option<u64>> {
        ReadCx::default().uint(&v.to_value(), "").ok().map(Some)
    }
}

/// `uint32`, `fixed32`.
pub(crate) struct Uint32;
impl Leaf for Uint32 {
    type Out = u32;
    #[allow(clippy::cast_possible_truncation)] // as the reference does
    fn convert(v: Scalar<'_>) -> Option<Option<u32>> {
        Uint64::convert(v).map(|u| u.map(|u| u as u32))
    }
}

/// An enum, by value NAME.
pub(crate) struct Enum<E>(PhantomData<E>);
impl<E: ProtoEnum> Leaf for Enum<E> {
    type Out = i32;
    fn convert(v: Scalar<'_>) -> Option<Option<i32>> {
        match v {
            Scalar::Str(s) => Some(E::from_name(s)),
            _ => None,
        }
    }
}

/// What a singular leaf read: `null`, or a converted value (`None`: unknown enum name).
enum Got<T> {
    Null,
    Value(Option<T>),
}

/// A singular leaf value.
struct One<K>(PhantomData<fn() -> K>);

impl<K: Leaf> One<K> {
    fn got<E: de::Error>(v: Scalar<'_>) -> Result<Got<K::Out>, E> {
        K::convert(v).map(Got::Value).ok_or_else(decline)
    }
}

impl<'de, K: Leaf> DeserializeSeed<'de> for One<K> {
    type Value = Got<K::Out>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, K: Leaf> Visitor<'de> for One<K> {
    type Value = Got<K::Out>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON scalar")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Got::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::got(Scalar::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::got(Scalar::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::got(Scalar::I64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Self::got(Scalar::F64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::got(Scalar::Str(v))
    }
}

/// A repeated leaf field: an array (nested arrays flattened, `null` items skipped) or a single
/// value; unknown enum names are dropped.
struct Many<'a, K: Leaf>(&'a mut Vec<K::Out>);

impl<K: Leaf> Many<'_, K> {
    fn push<E: de::Error>(self, v: Scalar<'_>) -> Result<bool, E> {
        if let Some(x) = K::convert(v).ok_or_else(decline)? {
            self.0.push(x);
        }
        Ok(true)
    }
}

impl<'de, K: Leaf> DeserializeSeed<'de> for Many<'_, K> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, K: Leaf> Visitor<'de> for Many<'_, K> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON scalar or array")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.push(Scalar::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.push(Scalar::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.push(Scalar::I64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.push(Scalar::F64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.push(Scalar::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let items = self.0;
        while seq.next_element_seed(Many::<K>(&mut *items))?.is_some() {}
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------------------------

/// How a map field converts its JSON keys (`None`: the reference reports an error).
pub(crate) trait MapKey {
    /// The Rust type of the key.
    type Out: Ord;
    /// Converts `k` as the reference does.
    fn convert(k: String) -> Option<Self::Out>;
}

/// `string` keys.
pub(crate) struct KeyString;
impl MapKey for KeyString {
    type Out = String;
    fn convert(k: String) -> Option<String> {
        Some(k)
    }
}

/// `bool` keys.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct KeyBool;
impl MapKey for KeyBool {
    type Out = bool;
    fn convert(k: String) -> Option<bool> {
        ReadCx::default().map_key_bool(&k, "").ok()
    }
}

/// `int64`-like keys.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct KeyInt64;
impl MapKey for KeyInt64 {
    type Out = i64;
    fn convert(k: String) -> Option<i64> {
        ReadCx::default().map_key_int(&k, "").ok()
    }
}

/// `int32`-like keys.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct KeyInt32;
impl MapKey for KeyInt32 {
    type Out = i32;
    #[allow(clippy::cast_possible_truncation)] // as the reference does
    fn convert(k: String) -> Option<i32> {
        KeyInt64::convert(k).map(|i| i as i32)
    }
}

/// `uint64`-like keys.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct KeyUint64;
impl MapKey for KeyUint64 {
    type Out = u64;
    fn convert(k: String) -> Option<u64> {
        ReadCx::default().map_key_uint(&k, "").ok()
    }
}

/// `uint32`-like keys.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) struct KeyUint32;
impl MapKey for KeyUint32 {
    type Out = u32;
    #[allow(clippy::cast_possible_truncation)] // as the reference does
    fn convert(k: String) -> Option<u32> {
        KeyUint64::convert(k).map(|u| u as u32)
    }
}

/// The next key of a map field's object, converted. A key met before declines: the reference
/// reads a deduplicated object in key order, which may keep a different one.
fn map_key<'de, KK: MapKey, V, A: MapAccess<'de>>(
    map: &mut A,
    into: &BTreeMap<KK::Out, V>,
) -> Result<Option<KK::Out>, A::Error> {
    let Some(k) = map.next_key::<String>()? else {
        return Ok(None);
    };
    if k.starts_with(SERDE_PRIVATE) {
        return Err(decline());
    }
    let key = KK::convert(k).ok_or_else(decline)?;
    if into.contains_key(&key) {
        return Err(decline());
    }
    Ok(Some(key))
}

/// A map field with leaf values (`null` values are errors; unknown enum names are dropped).
struct LeafMap<'a, KK: MapKey, V: Leaf>(&'a mut BTreeMap<KK::Out, V::Out>);

impl<'de, KK: MapKey, V: Leaf> DeserializeSeed<'de> for LeafMap<'_, KK, V> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, KK: MapKey, V: Leaf> Visitor<'de> for LeafMap<'_, KK, V> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map_key::<KK, _, A>(&mut map, self.0)? {
            match map.next_value_seed(One::<V>(PhantomData))? {
                Got::Null => return Err(decline()),
                Got::Value(Some(v)) => {
                    self.0.insert(key, v);
                }
                Got::Value(None) => {}
            }
        }
        Ok(true)
    }
}

/// A map field with message values (`null` values are errors).
struct MsgMap<'a, KK: MapKey, X>(&'a mut BTreeMap<KK::Out, X>);

impl<'de, KK: MapKey, X: StreamJson> DeserializeSeed<'de> for MsgMap<'_, KK, X> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, KK: MapKey, X: StreamJson> Visitor<'de> for MsgMap<'_, KK, X> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map_key::<KK, _, A>(&mut map, self.0)? {
            let mut v = X::default();
            if !map.next_value_seed(Object(&mut v))? {
                return Err(decline());
            }
            self.0.insert(key, v);
        }
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Unknown members
// ---------------------------------------------------------------------------------------------

/// Any JSON value, checked as serde_json's `Value` would check it (every string and number is
/// parsed, not just skipped) and dropped.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(SkipKey)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// A member name of an ignored object.
struct SkipKey;

impl<'de> DeserializeSeed<'de> for SkipKey {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for SkipKey {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        if key.starts_with(SERDE_PRIVATE) {
            return Err(decline());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Field readers used by the generated code
// ---------------------------------------------------------------------------------------------

/// A required leaf field.
pub(crate) fn req<'de, K: Leaf, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut K::Out,
) -> Result<bool, A::Error> {
    match map.next_value_seed(One::<K>(PhantomData))? {
        Got::Null => Ok(false),
        Got::Value(Some(v)) => {
            *slot = v;
            Ok(true)
        }
        // An unknown name in a required enum.
        Got::Value(None) => Err(decline()),
    }
}

/// An optional leaf field (an unknown enum name leaves it unset).
pub(crate) fn opt<'de, K: Leaf, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<K::Out>,
) -> Result<bool, A::Error> {
    match map.next_value_seed(One::<K>(PhantomData))? {
        Got::Null => Ok(false),
        Got::Value(v) => {
            *slot = v;
            Ok(true)
        }
    }
}

/// A leaf member of a oneof: whether it was non-null, and its value.
pub(crate) fn one<'de, K: Leaf, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<(bool, Option<K::Out>), A::Error> {
    match map.next_value_seed(One::<K>(PhantomData))? {
        Got::Null => Ok((false, None)),
        Got::Value(v) => Ok((true, v)),
    }
}

/// A repeated leaf field.
pub(crate) fn rep<'de, K: Leaf, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<K::Out>,
) -> Result<bool, A::Error> {
    map.next_value_seed(Many::<K>(slot))
}

/// A required message field.
pub(crate) fn req_msg<'de, X: StreamJson, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut X,
) -> Result<bool, A::Error> {
    map.next_value_seed(Object(slot))
}

/// An optional message field (also a message member of a oneof).
pub(crate) fn opt_msg<'de, X: StreamJson, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<X>,
) -> Result<bool, A::Error> {
    map.next_value_seed(OptObject(slot))
}

/// An optional message field stored boxed (see build.rs: large sub-messages are boxed).
pub(crate) fn opt_box_msg<'de, X: StreamJson, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Box<X>>,
) -> Result<bool, A::Error> {
    let mut value = slot.take().map(|b| *b);
    let set = map.next_value_seed(OptObject(&mut value))?;
    *slot = value.map(Box::new);
    Ok(set)
}

/// A repeated message field.
pub(crate) fn rep_msg<'de, X: StreamJson, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<X>,
) -> Result<bool, A::Error> {
    map.next_value_seed(Objects(slot))
}

/// A map field with leaf values.
pub(crate) fn leaf_map<'de, KK: MapKey, V: Leaf, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut BTreeMap<KK::Out, V::Out>,
) -> Result<bool, A::Error> {
    map.next_value_seed(LeafMap::<KK, V>(slot))
}

/// A map field with message values.
pub(crate) fn msg_map<'de, KK: MapKey, X: StreamJson, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut BTreeMap<KK::Out, X>,
) -> Result<bool, A::Error> {
    map.next_value_seed(MsgMap::<KK, X>(slot))
}

#[allow(
    clippy::all,
    missing_docs,
    deprecated,
    unused_mut,
    unused_variables,
    unreachable_patterns
)]
mod generated {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/json_stream.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::scheduler::{Call, Event};
    use crate::v1::TaskInfo;

    fn fixtures(dir: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir);
        let mut texts: Vec<String> = std::fs::read_dir(dir)
            .expect("fixture dir")
            .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("fixture"))
            .collect();
        texts.sort();
        texts
    }

    /// What the reference accepts, the streaming reader reads itself (it does not decline).
    fn answers<T: StreamJson + MesosJson + PartialEq + fmt::Debug>(text: &str) {
        let reference = from_slice_via_value::<T>(text.as_bytes());
        assert!(reference.is_ok(), "{text}");
        assert_eq!(
            read::<T>(text.as_bytes()).as_ref(),
            reference.as_ref().ok(),
            "{text}"
        );
    }

    #[test]
    fn the_streaming_reader_answers_for_every_fixture() {
        for text in fixtures("calls") {
            answers::<Call>(&text);
        }
        for text in fixtures("events") {
            answers::<Event>(&text);
        }
        answers::<TaskInfo>(include_str!("../../tests/fixtures/seed_task_info.json"));
    }

    #[test]
    fn the_streaming_reader_answers_for_leniencies() {
        for text in [
            r#"{"type":"REVIVE","revive":{"roles":"dev"}}"#,
            r#"{"type":"SUPPRESS","suppress":{"roles":[["a",null,["b"]],"c",[]]}}"#,
            r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"Infinity"}}}"#,
            r#"{"type":"NO_SUCH_CALL","framework_id":null,"bogus":[1,{"x":"\u00e9"}]}"#,
            r#"{"typ\u0065":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"42"}}}}"#,
        ] {
            answers::<Call>(text);
        }
    }

    #[test]
    fn the_streaming_reader_declines_what_it_cannot_settle_alone() {
        for text in [
            r#"{"type":"KILL","type":"TEARDOWN"}"#,
            r#"{"type":"KILL","kill":{}}"#,
            r#"{"type":"KILL"} x"#,
            "null",
            "[]",
        ] {
            assert!(read::<Call>(text.as_bytes()).is_none(), "{text}");
        }
    }
}

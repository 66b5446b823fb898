//! Deserialization of internally tagged enums without serde's buffering.
//!
//! serde's derived internally tagged enums collect every field of the object
//! into an intermediate tree before looking at the tag. Here, when the tag is
//! the first field (as our encoder writes it), the variant is chosen at once
//! and its fields are read straight from the input. Otherwise the object is
//! collected into a `serde_json::Value` and dispatched from there, so any
//! field order is still accepted.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, MapDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess,
    VariantAccess, Visitor,
};
use serde_json::{Map, Value};

/// An internally tagged enum, deserialized from an enum whose variant is the tag.
pub(super) trait Tagged<'de>: Sized {
    const TAG: &'static str;
    const EXPECTING: &'static str;
    fn from_variant<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

pub(super) fn deserialize<'de, T: Tagged<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged<'de>> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        match map.next_key_seed(KeySeed(T::TAG))? {
            None => Err(de::Error::missing_field(T::TAG)),
            Some(Key::Tag) => {
                let tag = map.next_value_seed(TagSeed)?;
                T::from_variant(Variant { tag, map })
            }
            Some(Key::Other(first)) => {
                let mut obj = Map::new();
                obj.insert(first, map.next_value()?);
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value()?;
                    obj.insert(key, value);
                }
                let tag = match obj.remove(T::TAG) {
                    Some(Value::String(tag)) => tag,
                    Some(_) => {
                        return Err(de::Error::custom(format_args!(
                            "field `{}` must be a string",
                            T::TAG
                        )))
                    }
                    None => return Err(de::Error::missing_field(T::TAG)),
                };
                let rest = MapDeserializer::<_, serde_json::Error>::new(obj.into_iter());
                T::from_variant(Variant {
                    tag: Cow::Owned(tag),
                    map: rest,
                })
                .map_err(de::Error::custom)
            }
        }
    }
}

enum Key {
    Tag,
    Other(String),
}

/// Reads a key, telling the tag apart without allocating for it.
struct KeySeed(&'static str);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(if v == self.0 {
            Key::Tag
        } else {
            Key::Other(v.to_owned())
        })
    }
}

/// Reads the tag's value, borrowing it from the input when possible.
struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TagSeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string tag")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The tag as the variant of an enum, the rest of the object as its content.
struct Variant<'de, M> {
    tag: Cow<'de, str>,
    map: M,
}

impl<'de, M: MapAccess<'de>> Deserializer<'de> for Variant<'de, M> {
    type Error = M::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, M::Error> {
        visitor.visit_enum(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, M::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de, M: MapAccess<'de>> EnumAccess<'de> for Variant<'de, M> {
    type Error = M::Error;
    type Variant = Rest<M>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Rest<M>), M::Error> {
        let variant = match self.tag {
            Cow::Borrowed(tag) => seed.deserialize(BorrowedStrDeserializer::new(tag))?,
            Cow::Owned(tag) => seed.deserialize(tag.into_deserializer())?,
        };
        Ok((variant, Rest(self.map)))
    }
}

struct Rest<M>(M);

impl<'de, M: MapAccess<'de>> VariantAccess<'de> for Rest<M> {
    type Error = M::Error;

    fn unit_variant(mut self) -> Result<(), M::Error> {
        while self.0.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, M::Error> {
        seed.deserialize(MapAccessDeserializer::new(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, M::Error> {
        Err(de::Error::custom("tuple variants cannot be tagged"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, M::Error> {
        visitor.visit_map(self.0)
    }
}

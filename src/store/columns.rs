//! Column types the row structs decode through (`#[sqlx(try_from = ...)]`): a 0/1 integer as
//! `bool`, an area code checked as `facts::AreaCode`, and a data basis from its JSON text.
//! Each checks its value as it is decoded, so a refusal names the column and says why
//! (sqlx 0.8.6's derive loses the message of an error returned by `TryFrom`); the
//! conversion into the row's field cannot fail.

use crate::facts::{AreaCode, DataBasis};
use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Decode, Type};

/// `Type` and `Decode` for a column type held in the plain type `$inner` and made from it
/// by `$parse`.
macro_rules! column {
    ($name:ident, $inner:ty, $parse:expr) => {
        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <$inner as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <$inner as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let parse: fn($inner) -> Result<$name, BoxDynError> = $parse;
                parse(<$inner as Decode<'r, Any>>::decode(value)?)
            }
        }
    };
}

/// A boolean, stored as a 0/1 `BIGINT` in both dialects (sqlx's `Any` decodes `bool` only
/// from a boolean column): true when 1.
pub struct Flag(bool);
column!(Flag, i64, |n| Ok(Flag(n == 1)));

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

/// An area code read back, parsed as the data parses it: the export names files after it,
/// so a row altered to hold "../../x" fails the read instead of steering a path.
pub struct AreaCodeText(String);
column!(AreaCodeText, String, |raw| {
    let code = AreaCode::parse(&raw)?;
    Ok(AreaCodeText(code.as_str().to_string()))
});

impl From<AreaCodeText> for String {
    fn from(code: AreaCodeText) -> String {
        code.0
    }
}

/// A version's `facts::DataBasis` from its JSON; empty (None) for versions approved before
/// narrator kept it.
pub struct BasisText(Option<DataBasis>);
column!(BasisText, String, |raw| {
    if raw.is_empty() {
        return Ok(BasisText(None));
    }
    Ok(BasisText(Some(serde_json::from_str(&raw)?)))
});

impl From<BasisText> for Option<DataBasis> {
    fn from(basis: BasisText) -> Self {
        basis.0
    }
}

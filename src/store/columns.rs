//! Column types the row structs decode through (`#[sqlx(try_from = ...)]`): a 0/1 integer as
//! `bool`, an area code checked as `facts::AreaCode`, and a data basis from its JSON text.
//! Each checks its value as it is decoded, so a refusal names the column and says why
//! (sqlx 0.8.6's derive loses the message of an error returned by `TryFrom`); the
//! conversion into the row's field cannot fail.

use crate::facts::{AreaCode, DataBasis};

/// `Type` and `Decode` for a column type held in the plain type `$inner` and made from it
/// by `$parse`.
macro_rules! column {
    ($name:ident, $inner:ty, $parse:expr) => {
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <$inner as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <$inner as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let parse: fn($inner) -> Result<$name, sqlx::error::BoxDynError> = $parse;
                parse(<$inner as sqlx::Decode<'r, sqlx::Any>>::decode(value)?)
            }
        }
    };
}
pub(super) use column;

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

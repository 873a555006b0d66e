//! Areas: ONS GSS codes, names, kinds and the region or country each belongs to.

use serde::{Serialize, Serializer};
use std::fmt;

/// The ONS code for England, whose rows are the national comparators.
pub const ENGLAND: &str = "E92000001";

/// An ONS GSS code: a capital letter, two digits for the entity type, six digits.
///
/// Held inline as its nine ASCII bytes: every fact names its area, and a heap string per fact
/// was most of a large data set's memory. The bytes order as the text does.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaCode([u8; 9]);

impl AreaCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bytes = raw.as_bytes();
        let well_formed = bytes.len() == 9
            && bytes[0].is_ascii_uppercase()
            && bytes[1..].iter().all(u8::is_ascii_digit);
        match bytes.try_into() {
            Ok(code) if well_formed => Ok(Self(code)),
            _ => Err(format!(
                "expected an ONS area code such as E06000022, found {raw:?}"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an area code is ASCII: checked by parse")
    }

    pub fn is_england(&self) -> bool {
        self.as_str() == ENGLAND
    }

    /// Made by `narrator synth`: never a real area, never exported.
    pub fn is_synthetic(&self) -> bool {
        self.as_str().starts_with(super::synth::SYNTHETIC_PREFIX)
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the text it was parsed from (`AreaCode("E06000022")`), not as bytes.
impl fmt::Debug for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AreaCode").field(&self.as_str()).finish()
    }
}

/// The code as a string, as a `String` field would be.
impl Serialize for AreaCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaKind {
    La,
    /// A council that no longer exists (merged or split): its figures count in the
    /// comparisons of the years it reported, and it gets no page.
    Former,
    Region,
    Country,
}

impl AreaKind {
    pub fn name(self) -> &'static str {
        match self {
            AreaKind::La => "la",
            AreaKind::Former => "former",
            AreaKind::Region => "region",
            AreaKind::Country => "country",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "la" => Ok(Self::La),
            "former" => Ok(Self::Former),
            "region" => Ok(Self::Region),
            "country" => Ok(Self::Country),
            other => Err(format!(
                "expected kind la, former, region or country, found {other:?}"
            )),
        }
    }
}

/// A row of `data/areas.csv`, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Area {
    code: AreaCode,
    name: String,
    kind: AreaKind,
    parent: Option<AreaCode>,
}

impl Area {
    pub(crate) fn new(
        code: AreaCode,
        name: String,
        kind: AreaKind,
        parent: Option<AreaCode>,
    ) -> Self {
        Self {
            code,
            name,
            kind,
            parent,
        }
    }

    pub fn code(&self) -> &AreaCode {
        &self.code
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> AreaKind {
        self.kind
    }

    /// A council, current or former: a member of the groups figures are compared across.
    pub fn is_council(&self) -> bool {
        matches!(self.kind, AreaKind::La | AreaKind::Former)
    }

    /// An LA's region, or a region's country.
    pub fn parent(&self) -> Option<&AreaCode> {
        self.parent.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_code_accepts_gss_codes_and_rejects_names() {
        assert!(AreaCode::parse("E06000022").is_ok());
        assert!(AreaCode::parse("Bath").is_err());
        assert!(AreaCode::parse("E0600002").is_err());
    }
}

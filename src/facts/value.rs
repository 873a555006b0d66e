//! Fact values: numbers that remember how many decimals they were written with, or categories.

use super::metric::Unit;
use serde::Serialize;

/// A finite number and the decimals it was written with in `data/`, so it prints as written.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Number {
    value: f64,
    decimals: u8,
}

impl Number {
    /// Parses a plain decimal (`-12`, `965.88`): no grouping, exponent, sign `+`, NaN or infinity.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let expected =
            || format!("expected a plain finite number such as 1930 or 965.88, found {raw:?}");
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(expected());
        }
        let value: f64 = raw.parse().map_err(|_| expected())?;
        if !value.is_finite() {
            return Err(expected());
        }
        let decimals = frac.map_or(0, str::len);
        let decimals = u8::try_from(decimals).map_err(|_| expected())?;
        Ok(Self { value, decimals })
    }

    pub fn value(&self) -> f64 {
        self.value
    }

    /// `value` rounded to `decimals` places, as a figure computed by narrator is printed.
    pub fn rounded(value: f64, decimals: u8) -> Self {
        let scale = 10f64.powi(i32::from(decimals));
        let rounded = (value * scale).round() / scale;
        // No "-0.0": a difference of nothing has no sign.
        let value = if rounded == 0.0 { 0.0 } else { rounded };
        Self { value, decimals }
    }

    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// British grouping at the written precision: `1,930`, `2,468.5`.
    pub fn grouped(&self) -> String {
        format_grouped(self.value, usize::from(self.decimals))
    }
}

/// A fact's value: a number, or one of a category metric's allowed values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Number(Number),
    Category(String),
}

impl Value {
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Category(_) => None,
        }
    }

    /// The value as a reader sees it, the British way: `16.2%`, `£74,584,000`, `965.88 per 100,000`.
    pub fn display(&self, unit: Unit) -> String {
        let n = match self {
            Value::Category(c) => return c.clone(),
            Value::Number(n) => n,
        };
        let g = n.grouped();
        match unit {
            Unit::Percent => format!("{g}%"),
            Unit::Pounds | Unit::PoundsPerHead | Unit::PoundsPer100k if n.value < 0.0 => {
                format!("-£{}", g.trim_start_matches('-'))
            }
            Unit::Pounds => format!("£{g}"),
            Unit::PoundsPerHead => format!("£{g} per head"),
            Unit::PoundsPer100k => format!("£{g} per 100,000"),
            Unit::Per100k => format!("{g} per 100,000"),
            Unit::PeoplePerKm2 => format!("{g} people per km²"),
            Unit::Days => format!("{g} days"),
            Unit::Weeks => format!("{g} weeks"),
            Unit::Months => format!("{g} months"),
            Unit::Hours => format!("{g} hours"),
            Unit::Years => format!("{g} years"),
            Unit::Count
            | Unit::Decile
            | Unit::Score
            | Unit::Rank
            | Unit::Ratio
            | Unit::Category => g,
        }
    }
}

/// `value` with `decimals` decimal places and commas between thousands: `199,818`, `2,468.50`.
pub fn format_grouped(value: f64, decimals: usize) -> String {
    let fixed = format!("{:.*}", decimals, value.abs());
    let (int, frac) = match fixed.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (fixed.as_str(), None),
    };
    let mut out = String::with_capacity(fixed.len() + int.len() / 3 + 1);
    let is_zero = fixed.bytes().all(|b| b == b'0' || b == b'.');
    if value < 0.0 && !is_zero {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_the_decimals_they_were_written_with() {
        let n = Number::parse("965.80").unwrap();
        assert_eq!(n.decimals(), 2);
        assert_eq!(n.grouped(), "965.80");
        assert_eq!(Number::parse("199818").unwrap().grouped(), "199,818");
    }

    #[test]
    fn rejects_anything_but_plain_decimals() {
        for bad in [
            "", "1,930", "NaN", "inf", "1e5", "+3", "12.", ".5", "£5", "5%", " 5",
        ] {
            assert!(Number::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn displays_values_the_british_way() {
        let v = |s| Value::Number(Number::parse(s).unwrap());
        assert_eq!(v("16.2").display(Unit::Percent), "16.2%");
        assert_eq!(v("74584000").display(Unit::Pounds), "£74,584,000");
        assert_eq!(v("-1200.5").display(Unit::Pounds), "-£1,200.5");
        assert_eq!(v("965.88").display(Unit::Per100k), "965.88 per 100,000");
        assert_eq!(
            v("2468.5").display(Unit::PeoplePerKm2),
            "2,468.5 people per km²"
        );
    }

    #[test]
    fn grouping_handles_small_and_negative_values() {
        assert_eq!(format_grouped(0.0, 0), "0");
        assert_eq!(format_grouped(999.0, 0), "999");
        assert_eq!(format_grouped(1000.0, 0), "1,000");
        assert_eq!(format_grouped(-1234567.891, 2), "-1,234,567.89");
        assert_eq!(format_grouped(-0.001, 1), "0.0");
    }
}

//! Claims about a measure's series over the years: runs ("fell for three years running"),
//! records ("the highest since 2016-17") and change since a year ("has improved since
//! 2018-19"), each proven from the council's own values with the derivation in words.

use crate::facts::{Period, Polarity};
use regex::Regex;
use std::sync::LazyLock;

/// Which way a claim says the values moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Up,
    Down,
    Better,
    Worse,
}

impl Way {
    /// Up or down, once the measure's polarity says which way is better; None for "better"
    /// on a measure where neither way is.
    fn as_up(self, polarity: Polarity) -> Option<bool> {
        match (self, polarity) {
            (Way::Up, _) => Some(true),
            (Way::Down, _) => Some(false),
            (Way::Better, Polarity::HigherIsBetter) | (Way::Worse, Polarity::HigherIsWorse) => {
                Some(true)
            }
            (Way::Better, Polarity::HigherIsWorse) | (Way::Worse, Polarity::HigherIsBetter) => {
                Some(false)
            }
            (_, Polarity::Neutral) => None,
        }
    }
}

/// One value of the council's series: its period, value, fact id and printed form.
#[derive(Clone, Debug)]
pub struct Point {
    pub period: Period,
    pub value: f64,
    pub id: String,
    pub shown: String,
}

/// A trend claim proven (the fact ids and the derivation) or refuted (why).
pub enum Finding {
    Holds { facts: Vec<String>, why: String },
    Refuted { facts: Vec<String>, why: String },
}

static WAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<up>rose|risen|rising|increased|increasing|grew|grown|growing|climbed|went up|gone up)\b|\b(?P<down>fell|fallen|falling|decreased|decreasing|declined|declining|dropped|dropping|went down|gone down)\b|\b(?P<better>improved|improving|got better)\b|\b(?P<worse>worsened|worsening|deteriorated|got worse)\b")
        .expect("the direction words build")
});

/// The last direction word in `text`.
pub fn way_in(text: &str) -> Option<Way> {
    WAY.captures_iter(text).last().map(|c| {
        if c.name("up").is_some() {
            Way::Up
        } else if c.name("down").is_some() {
            Way::Down
        } else if c.name("better").is_some() {
            Way::Better
        } else {
            Way::Worse
        }
    })
}

static RUN_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:consecutive\s+|successive\s+)?(?:years?|times)\s+(?:running|in\s+a\s+row|in\s+succession)\b|^\s*(?:consecutive|successive)\s+years\b")
        .expect("the run words build")
});

static RUN_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:running|in\s+a\s+row|in\s+succession)\b").expect("the run words build")
});

/// Does a count make a run ("three years running", "two consecutive years", "for the third
/// year in a row")? `figure` is the mention as written (it may hold "years" itself), `after`
/// the text after it.
pub fn is_run(figure: &str, after: &str) -> bool {
    let with_years = figure.trim_end().to_lowercase();
    if with_years.ends_with("year") || with_years.ends_with("years") {
        RUN_ONLY.is_match(after)
    } else {
        RUN_AFTER.is_match(after)
    }
}

static EXTREME_SINCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<word>highest|lowest|best|worst)\b(?:\s+\w+){0,3}?\s+since\s*$")
        .expect("the record words build")
});

/// "the highest since " just before a period: Some(true) for highest, Some(false) lowest;
/// best and worst through the polarity.
pub fn extreme_since(before: &str, polarity: Polarity) -> Option<bool> {
    let c = EXTREME_SINCE.captures(before)?;
    match &c["word"].to_lowercase()[..] {
        "highest" => Some(true),
        "lowest" => Some(false),
        "best" => Way::Better.as_up(polarity),
        _ => Way::Worse.as_up(polarity),
    }
}

static CHANGE_SINCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:has|have|had)\s+(?:\w+\s+){0,2}?(?P<verb>\w+)\s+since\s*$")
        .expect("the since words build")
});

/// "has improved since " (or risen, fallen...) just before a period.
pub fn change_since(before: &str) -> Option<Way> {
    let c = CHANGE_SINCE.captures(before)?;
    way_in(&c["verb"])
}

fn listed(points: &[&Point]) -> String {
    points
        .iter()
        .map(|p| format!("{} in {}", p.shown, p.period.spelled()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids(points: &[&Point]) -> Vec<String> {
    points.iter().map(|p| p.id.clone()).collect()
}

fn word(up: bool) -> &'static str {
    if up {
        "rose"
    } else {
        "fell"
    }
}

/// A period a sentence writes, and whether the run starts there ("after 2018-19", "since",
/// "from") or ends there ("to 2022-23", "in 2022-23").
#[derive(Clone, Copy, Debug)]
pub struct Anchor {
    pub period: Period,
    pub starts: bool,
}

/// Does the text before a period make it where a run starts?
pub fn starts_run(before: &str) -> bool {
    let last = before
        .split(|c: char| !c.is_alphabetic())
        .rfind(|w| !w.is_empty())
        .unwrap_or("")
        .to_lowercase();
    matches!(last.as_str(), "after" | "since" | "from")
}

/// "fell for `n` years running": `n` changes in a row that way, starting or ending where the
/// sentence's `anchors` say, or ending at the latest value when it writes no period. Changes
/// are between the published years; a year not published is named.
pub fn check_run(
    series: &[Point],
    n: usize,
    way: Way,
    polarity: Polarity,
    anchors: &[Anchor],
) -> Finding {
    let Some(up) = way.as_up(polarity) else {
        return Finding::Refuted {
            facts: Vec::new(),
            why: "the measure has no better direction, so it cannot improve or worsen".into(),
        };
    };
    if n == 0 || series.len() < n + 1 {
        return Finding::Refuted {
            facts: series.iter().map(|p| p.id.clone()).collect(),
            why: format!(
                "the series has {} values, too few for {n} changes: {}",
                series.len(),
                listed(&series.iter().collect::<Vec<_>>())
            ),
        };
    }
    let windows: Vec<&[Point]> = series.windows(n + 1).collect();
    let anchored = |w: &[Point]| {
        if anchors.is_empty() {
            std::ptr::eq(
                w.last().expect("n + 1 points"),
                series.last().expect("not empty"),
            )
        } else {
            anchors.iter().any(|a| {
                if a.starts {
                    a.period == w[0].period
                } else {
                    a.period == w[n].period
                }
            })
        }
    };
    let moves = |w: &[Point], up: bool| {
        w.windows(2).all(|p| {
            if up {
                p[1].value > p[0].value
            } else {
                p[1].value < p[0].value
            }
        })
    };
    let gaps = |w: &[Point]| {
        let missing: Vec<String> = w
            .windows(2)
            .filter_map(|p| match (p[0].period, p[1].period) {
                (Period::FinancialYear(a), Period::FinancialYear(b)) if b > a + 1 => {
                    Some(Period::FinancialYear(a + 1).spelled())
                }
                (Period::Year(a), Period::Year(b)) if b > a + 1 => Some((a + 1).to_string()),
                _ => None,
            })
            .collect();
        if missing.is_empty() {
            String::new()
        } else {
            format!(" ({} not published)", missing.join(", "))
        }
    };
    if let Some(w) = windows.iter().find(|w| anchored(w) && moves(w, up)) {
        let points: Vec<&Point> = w.iter().collect();
        return Finding::Holds {
            facts: ids(&points),
            why: format!(
                "{} in each of {n} changes in a row: {}{}",
                word(up),
                listed(&points),
                gaps(w)
            ),
        };
    }
    let near = windows
        .iter()
        .find(|w| anchored(w))
        .or(windows.last())
        .expect("at least one window");
    let points: Vec<&Point> = near.iter().collect();
    let why = if moves(near, !up) {
        format!(
            "it {} in each of those years: {}",
            word(!up),
            listed(&points)
        )
    } else {
        format!(
            "it did not {} in each of {n} changes in a row: {}",
            if up { "rise" } else { "fall" },
            listed(&points)
        )
    };
    Finding::Refuted {
        facts: ids(&points),
        why,
    }
}

/// "the highest since `since`" said of the value at `at`: every published value after `since`
/// and before `at` is lower, and the value at `since` was as high or higher (the last time it
/// was this high); the other way round for lowest.
pub fn check_extreme(series: &[Point], at: Period, since: Period, highest: bool) -> Finding {
    let Some(this) = series.iter().find(|p| p.period == at) else {
        return Finding::Refuted {
            facts: Vec::new(),
            why: format!("no value for {} to compare", at.spelled()),
        };
    };
    let between: Vec<&Point> = series
        .iter()
        .filter(|p| p.period > since && p.period < at)
        .collect();
    let beaten = between.iter().find(|p| {
        if highest {
            p.value >= this.value
        } else {
            p.value <= this.value
        }
    });
    let extreme = if highest { "highest" } else { "lowest" };
    let start = series.iter().find(|p| p.period == since);
    let mut points: Vec<&Point> = start.into_iter().chain(between.iter().copied()).collect();
    points.push(this);
    // "the highest since 2016-17" says 2016-17 was as high: the last time it was.
    let start_short = start.filter(|p| {
        if highest {
            p.value < this.value
        } else {
            p.value > this.value
        }
    });
    if let Some(p) = start_short {
        return Finding::Refuted {
            facts: ids(&points),
            why: format!(
                "{} in {} was {} than {}, so {} is not the {extreme} since then: {}",
                p.shown,
                since.spelled(),
                if highest { "lower" } else { "higher" },
                this.shown,
                this.shown,
                listed(&points)
            ),
        };
    }
    if start.is_none() {
        return Finding::Refuted {
            facts: ids(&points),
            why: format!("no value for {} to compare with", since.spelled()),
        };
    }
    match beaten {
        None if since < at => Finding::Holds {
            facts: ids(&points),
            why: format!(
                "{} is the {extreme} value after {}: {}",
                this.shown,
                since.spelled(),
                listed(&points)
            ),
        },
        None => Finding::Refuted {
            facts: vec![this.id.clone()],
            why: format!("{} is not after {}", at.spelled(), since.spelled()),
        },
        Some(p) => Finding::Refuted {
            facts: ids(&points),
            why: format!(
                "not the {extreme} since {}: {} was {}",
                since.spelled(),
                p.period.spelled(),
                p.shown
            ),
        },
    }
}

/// "has improved since `since`": the latest value (or the one at `to`) against the value at
/// `since`, read with the measure's polarity.
pub fn check_since(
    series: &[Point],
    since: Period,
    to: Period,
    way: Way,
    polarity: Polarity,
) -> Finding {
    let (Some(from), Some(last)) = (
        series.iter().find(|p| p.period == since),
        series.iter().find(|p| p.period == to),
    ) else {
        return Finding::Refuted {
            facts: Vec::new(),
            why: format!("no value for {} to compare with", since.spelled()),
        };
    };
    let Some(up) = way.as_up(polarity) else {
        return Finding::Refuted {
            facts: vec![from.id.clone(), last.id.clone()],
            why: "the measure has no better direction, so it cannot improve or worsen".into(),
        };
    };
    let points = [from, last];
    let rose = last.value > from.value;
    if last.value != from.value && rose == up {
        Finding::Holds {
            facts: ids(&points),
            why: format!(
                "{} since {}: {}",
                word(up),
                since.spelled(),
                listed(&points)
            ),
        }
    } else {
        Finding::Refuted {
            facts: ids(&points),
            why: format!(
                "it {} since {}: {}",
                if last.value == from.value {
                    "stayed the same"
                } else {
                    word(rose)
                },
                since.spelled(),
                listed(&points)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[(u16, f64)]) -> Vec<Point> {
        values
            .iter()
            .map(|&(y, v)| Point {
                period: Period::FinancialYear(y),
                value: v,
                id: format!("x:{y}"),
                shown: format!("{v}%"),
            })
            .collect()
    }

    /// A care staff turnover series with 2020-21 not published.
    fn turnover() -> Vec<Point> {
        series(&[
            (2016, 26.1),
            (2017, 30.7),
            (2018, 33.7),
            (2019, 30.5),
            (2021, 24.6),
            (2022, 25.6),
        ])
    }

    #[test]
    fn runs_count_changes_between_published_years_and_name_a_gap() {
        let s = turnover();
        let from = |y| Anchor {
            period: Period::FinancialYear(y),
            starts: true,
        };
        let to = |y| Anchor {
            period: Period::FinancialYear(y),
            starts: false,
        };
        assert!(
            matches!(check_run(&s, 2, Way::Down, Polarity::HigherIsWorse, &[from(2018)]), Finding::Holds { why, .. } if why.contains("2020-21 not published"))
        );
        assert!(matches!(
            check_run(&s, 2, Way::Up, Polarity::HigherIsWorse, &[to(2018)]),
            Finding::Holds { .. }
        ));
        assert!(matches!(
            check_run(&s, 2, Way::Up, Polarity::HigherIsWorse, &[from(2018)]),
            Finding::Refuted { .. }
        ));
        assert!(matches!(
            check_run(&s, 3, Way::Up, Polarity::HigherIsWorse, &[from(2016)]),
            Finding::Refuted { .. }
        ));
        // Improved means fell, for turnover.
        assert!(matches!(
            check_run(&s, 2, Way::Better, Polarity::HigherIsWorse, &[from(2018)]),
            Finding::Holds { .. }
        ));
        assert!(starts_run("fell for two years running after "));
        assert!(!starts_run("rose for two years running to "));
        assert!(matches!(
            check_run(&s, 1, Way::Down, Polarity::HigherIsWorse, &[]),
            Finding::Refuted { .. }
        ));
    }

    #[test]
    fn records_and_changes_since_a_year() {
        let s = turnover();
        let y = |y| Period::FinancialYear(y);
        // (year, since, highest, holds): 2018-19's 33.7% is not the highest since 2016-17
        // (26.1%, lower), it is the highest of the series; 2022-23's 25.6% is the highest
        // since 2019-20 (30.5%, with 24.6% between), not since 2021-22 (24.6%); 2021-22's
        // 24.6% is the lowest of the series, not the lowest since a higher year.
        for (at, since, highest, holds) in [
            (2018, 2016, true, false),
            (2022, 2019, true, true),
            (2022, 2021, true, false),
            (2022, 2018, true, false),
            (2021, 2016, false, false),
        ] {
            let found = check_extreme(&s, y(at), y(since), highest);
            assert_eq!(
                matches!(found, Finding::Holds { .. }),
                holds,
                "{at} {since} {highest}"
            );
        }
        assert!(matches!(
            check_since(&s, y(2018), y(2022), Way::Better, Polarity::HigherIsWorse),
            Finding::Holds { .. }
        ));
        assert!(matches!(
            check_since(&s, y(2016), y(2022), Way::Up, Polarity::HigherIsWorse),
            Finding::Refuted { .. }
        ));
    }

    #[test]
    fn the_phrases_are_read_where_they_stand() {
        assert!(is_run("three", " years running to 2022-23"));
        assert!(is_run("two", " consecutive years"));
        assert!(is_run("3rd", " year in a row"));
        assert!(is_run("two years", " running"));
        assert!(!is_run("two", " years after the change"));
        assert_eq!(
            extreme_since("the highest since ", Polarity::Neutral),
            Some(true)
        );
        assert_eq!(
            extreme_since("its best level since ", Polarity::HigherIsWorse),
            Some(false)
        );
        assert_eq!(
            change_since("turnover has improved since ").map(|w| w == Way::Better),
            Some(true)
        );
        assert_eq!(way_in("it fell for"), Some(Way::Down));
    }
}

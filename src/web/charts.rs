//! Small server-rendered SVG charts for the review page (no JavaScript): a measure's council
//! value against its comparators, the council among each group's values, and the series
//! over the years. Every text in them is escaped here, as the templates insert them whole.

use crate::facts::{format_grouped, Polarity, Unit};
use crate::review::{MeasureChart, Series};
use std::fmt::Write as _;

const WIDTH: f64 = 300.0;
const COUNCIL: &str = "#1d70b8";
const OTHER: &str = "#505a5f";
const MEDIAN: &str = "#0b0c0c";
const DOTS: &str = "#b1b4b6";
/// Line colours and dash patterns for the series after the council's.
const LINES: [(&str, &str); 2] = [("#505a5f", "5 3"), ("#d4351c", "2 3")];

/// The three charts of one measure, each an `<svg>` with a title and a description a screen
/// reader reads; the trend is empty when the council has one period only.
#[derive(serde::Serialize)]
pub struct Drawn {
    pub label: String,
    pub period: String,
    pub bars: String,
    pub strips: String,
    pub trend: String,
}

pub fn draw(chart: &MeasureChart) -> Drawn {
    Drawn {
        label: chart.label.clone(),
        period: chart.period.clone(),
        bars: bars(chart),
        strips: strips(chart),
        trend: trend(chart),
    }
}

/// Text for SVG content and attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An id fragment from a metric id (already kebab or snake case ASCII; anything else dropped).
fn id_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

fn open(id: &str, height: f64, title: &str, desc: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        esc(title),
        esc(desc)
    )
}

/// An axis label: the measure's decimals, with a % for shares.
fn tick(chart: &MeasureChart, x: f64) -> String {
    let n = format_grouped(x, usize::from(chart.decimals));
    if chart.unit == Unit::Percent {
        format!("{n}%")
    } else {
        n
    }
}

/// Maps `[lo, hi]` onto `[from, to]`; a flat domain maps to the middle.
struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, from: f64, to: f64) -> Scale {
        Scale { lo, hi, from, to }
    }
    fn at(&self, v: f64) -> f64 {
        if self.hi <= self.lo {
            return (self.from + self.to) / 2.0;
        }
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }
}

fn bars(chart: &MeasureChart) -> String {
    let row = 30.0;
    let height = row * chart.bars.len() as f64 + 6.0;
    let desc: Vec<String> = chart
        .bars
        .iter()
        .map(|b| format!("{} {}", b.name, b.display))
        .collect();
    let id = format!("bars-{}", id_part(&chart.metric));
    let mut svg = open(
        &id,
        height,
        &format!(
            "{}, {}: the council against others",
            chart.label, chart.period
        ),
        &desc.join("; "),
    );
    let lo = chart.bars.iter().map(|b| b.value).fold(0.0, f64::min);
    let hi = chart.bars.iter().map(|b| b.value).fold(0.0, f64::max);
    // Bars leave room on the right for their value.
    let x = Scale::new(lo, hi, 2.0, WIDTH - 90.0);
    for (i, b) in chart.bars.iter().enumerate() {
        let top = 4.0 + row * i as f64;
        // Bars grow from zero, leftwards for a negative value.
        let (start, end) = if b.value < 0.0 {
            (x.at(b.value), x.at(0.0))
        } else {
            (x.at(0.0), x.at(b.value))
        };
        let fill = match b.kind {
            "council" => COUNCIL,
            "median" => DOTS,
            _ => OTHER,
        };
        let _ = write!(
            svg,
            "<text x=\"2\" y=\"{:.1}\" font-size=\"11\">{}</text>\
             <rect class=\"bar {}\" x=\"{start:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{fill}\" data-value=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\"{}>{}</text>",
            top + 9.0,
            esc(&b.name),
            b.kind,
            top + 13.0,
            (end - start).max(1.0),
            b.value,
            end + 4.0,
            top + 22.0,
            if b.kind == "council" { " font-weight=\"bold\"" } else { "" },
            esc(&b.display),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn strips(chart: &MeasureChart) -> String {
    if chart.strips.is_empty() {
        return String::new();
    }
    let row = 44.0;
    let height = row * chart.strips.len() as f64 + 26.0;
    let id = format!("strips-{}", id_part(&chart.metric));
    let desc: Vec<String> = chart
        .strips
        .iter()
        .map(|s| {
            format!(
                "among {}: {}, {}; median {}",
                s.name, s.council_display, s.rank_words, s.median_display
            )
        })
        .collect();
    let mut svg = open(
        &id,
        height,
        &format!(
            "{}, {}: the council among groups of councils",
            chart.label, chart.period
        ),
        &desc.join("; "),
    );
    // One scale for every group, so the council's dot stands at the same place in each.
    let all = chart.strips.iter().flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let x = Scale::new(lo, hi, 8.0, WIDTH - 8.0);
    for (i, s) in chart.strips.iter().enumerate() {
        let top = row * i as f64;
        let axis = top + 28.0;
        let _ = write!(
            svg,
            "<text x=\"2\" y=\"{:.1}\" font-size=\"11\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{axis:.1}\" y2=\"{axis:.1}\" stroke=\"{DOTS}\"/>",
            top + 11.0,
            esc(&s.name),
            WIDTH - 2.0,
            top + 11.0,
            esc(&s.rank_words),
            x.at(lo),
            x.at(hi),
        );
        for v in &s.values {
            let _ = write!(
                svg,
                "<circle class=\"member\" cx=\"{:.1}\" cy=\"{axis:.1}\" r=\"3\" fill=\"{DOTS}\" fill-opacity=\"0.8\"/>",
                x.at(*v)
            );
        }
        let mx = x.at(s.median);
        let _ = write!(
            svg,
            "<line class=\"median\" data-value=\"{}\" x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{MEDIAN}\" stroke-width=\"2\"><title>median {}</title></line>\
             <circle class=\"council\" data-value=\"{}\" cx=\"{:.1}\" cy=\"{axis:.1}\" r=\"5.5\" fill=\"{COUNCIL}\" stroke=\"white\"><title>{}</title></circle>",
            s.median,
            axis - 9.0,
            axis + 9.0,
            esc(&s.median_display),
            s.council,
            x.at(s.council),
            esc(&s.council_display),
        );
    }
    let bottom = height - 6.0;
    let better = match chart.polarity {
        Polarity::HigherIsBetter => "higher is better",
        Polarity::HigherIsWorse => "lower is better",
        Polarity::Neutral => "",
    };
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{bottom:.1}\" font-size=\"10\">{}</text>\
         <text x=\"{:.1}\" y=\"{bottom:.1}\" font-size=\"10\" text-anchor=\"middle\">| median · \u{25CF} council{}</text>\
         <text x=\"{:.1}\" y=\"{bottom:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        x.at(lo),
        esc(&tick(chart, lo)),
        WIDTH / 2.0,
        if better.is_empty() { String::new() } else { format!(" · {better}") },
        x.at(hi),
        esc(&tick(chart, hi)),
    );
    svg
}

fn trend(chart: &MeasureChart) -> String {
    let n = chart.periods.len();
    if n < 2 || chart.series.is_empty() {
        return String::new();
    }
    let plot_bottom = 110.0;
    let legend = 16.0 * chart.series.len() as f64;
    let height = plot_bottom + 22.0 + legend;
    let id = format!("trend-{}", id_part(&chart.metric));
    let desc: Vec<String> = chart.series.iter().map(series_words(chart)).collect();
    let mut svg = open(
        &id,
        height,
        &format!("{} over the years", chart.label),
        &desc.join("; "),
    );
    let values = chart.series.iter().flat_map(|s| s.values.iter().flatten());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(f64::EPSILON);
    let (lo, hi) = (lo - pad, hi + pad);
    let x = Scale::new(0.0, (n - 1) as f64, 46.0, WIDTH - 12.0);
    let y = Scale::new(lo, hi, plot_bottom, 8.0);
    let _ = write!(
        svg,
        "<line x1=\"46\" x2=\"46\" y1=\"8\" y2=\"{plot_bottom}\" stroke=\"{DOTS}\"/>\
         <line x1=\"46\" x2=\"{:.1}\" y1=\"{plot_bottom}\" y2=\"{plot_bottom}\" stroke=\"{DOTS}\"/>\
         <text x=\"42\" y=\"14\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"42\" y=\"{plot_bottom}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"46\" y=\"{:.1}\" font-size=\"10\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
        WIDTH - 12.0,
        esc(&tick(chart, hi - pad)),
        esc(&tick(chart, lo + pad)),
        plot_bottom + 13.0,
        esc(&chart.periods[0]),
        WIDTH - 12.0,
        plot_bottom + 13.0,
        esc(&chart.periods[n - 1]),
    );
    let mut others = LINES.iter();
    for (k, s) in chart.series.iter().enumerate() {
        let (colour, dash, width) = if s.council {
            (COUNCIL, "", 2.5)
        } else {
            let (c, d) = others.next().copied().unwrap_or(LINES[0]);
            (c, d, 1.5)
        };
        // A gap in the series breaks the line rather than joining across a missing year.
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x.at(i as f64),
                        y.at(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        };
        let class = if s.council {
            "series council"
        } else {
            "series"
        };
        let _ = write!(
            svg,
            "<path class=\"{class}\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash_attr}/>",
            path.trim_end()
        );
        if s.council {
            for (i, (v, shown)) in s.values.iter().zip(&s.displays).enumerate() {
                if let (Some(v), Some(shown)) = (v, shown) {
                    let _ = write!(
                        svg,
                        "<circle class=\"point\" data-value=\"{v}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {}</title></circle>",
                        x.at(i as f64),
                        y.at(*v),
                        esc(&chart.periods[i]),
                        esc(shown),
                    );
                }
            }
        }
        let ly = plot_bottom + 30.0 + 16.0 * k as f64;
        let _ = write!(
            svg,
            "<line x1=\"46\" x2=\"70\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash_attr}/>\
             <text x=\"76\" y=\"{ly:.1}\" font-size=\"11\">{}</text>",
            ly - 4.0,
            ly - 4.0,
            esc(&s.name),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// "Coventry: 2015-16 74.3%, 2016-17 75.0%, ..." for a screen reader.
fn series_words(chart: &MeasureChart) -> impl Fn(&Series) -> String + '_ {
    move |s| {
        let points: Vec<String> = chart
            .periods
            .iter()
            .zip(&s.displays)
            .filter_map(|(p, d)| d.as_ref().map(|d| format!("{p} {d}")))
            .collect();
        format!("{}: {}", s.name, points.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{Bar, Strip};

    fn chart() -> MeasureChart {
        MeasureChart {
            metric: "outcome_x".into(),
            label: "A <measure> & more".into(),
            unit: Unit::Percent,
            polarity: Polarity::HigherIsBetter,
            decimals: 1,
            period: "2022-23".into(),
            bars: vec![
                Bar {
                    name: "Coventry".into(),
                    value: 70.0,
                    display: "70.0%".into(),
                    kind: "council",
                },
                Bar {
                    name: "median of councils in England".into(),
                    value: 60.0,
                    display: "60.0%".into(),
                    kind: "median",
                },
            ],
            strips: vec![Strip {
                name: "nearest neighbours (3)".into(),
                values: vec![50.0, 60.0, 70.0],
                council: 70.0,
                council_display: "70.0%".into(),
                median: 60.0,
                median_display: "60.0%".into(),
                rank_words: "highest of 3".into(),
            }],
            periods: vec!["2021-22".into(), "2022-23".into()],
            series: vec![Series {
                name: "Coventry".into(),
                values: vec![Some(65.0), Some(70.0)],
                displays: vec![Some("65.0%".into()), Some("70.0%".into())],
                council: true,
            }],
        }
    }

    /// The x coordinate of the first element with `class` in `svg`.
    fn cx(svg: &str, class: &str) -> f64 {
        let at = svg.find(&format!("class=\"{class}\"")).unwrap();
        let rest = &svg[at..];
        let key = if class == "median" { "x1=\"" } else { "cx=\"" };
        let v = &rest[rest.find(key).unwrap() + key.len()..];
        v[..v.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn text_in_a_chart_is_escaped() {
        let drawn = draw(&chart());
        for svg in [&drawn.bars, &drawn.strips, &drawn.trend] {
            assert!(svg.contains("A &lt;measure&gt; &amp; more"), "{svg}");
            assert!(!svg.contains("<measure>"));
        }
    }

    #[test]
    fn the_council_above_the_median_is_drawn_right_of_it() {
        let mut c = chart();
        let svg = strips(&c);
        assert!(cx(&svg, "council") > cx(&svg, "median"));
        c.strips[0].council = 50.0;
        let svg = strips(&c);
        assert!(cx(&svg, "council") < cx(&svg, "median"));
    }

    #[test]
    fn a_rising_series_is_drawn_rising() {
        let svg = trend(&chart());
        let ys: Vec<f64> = svg
            .match_indices("class=\"point\"")
            .map(|(at, _)| {
                let rest = &svg[at..];
                let v = &rest[rest.find("cy=\"").unwrap() + 4..];
                v[..v.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(ys.len(), 2);
        assert!(ys[1] < ys[0], "SVG y grows downwards: {ys:?}");
    }

    #[test]
    fn one_period_draws_no_trend_and_no_groups_draw_no_strip() {
        let mut c = chart();
        c.periods.truncate(1);
        c.strips.clear();
        assert!(trend(&c).is_empty());
        assert!(strips(&c).is_empty());
    }
}

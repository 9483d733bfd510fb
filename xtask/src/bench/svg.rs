//! The chart: throughput as a multiple of `raw`, per tool, for one client and for each
//! fan-out count. Hand-written SVG: grouped horizontal bars, a line at 1x (raw) and
//! the target per group, dashed.

use std::fmt::Write;

use super::tools::Tool;

/// One group of bars.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's title.
    pub title: String,
    /// The target as a multiple of raw, drawn dashed.
    pub target: Option<f64>,
    /// One bar per tool.
    pub bars: Vec<Bar>,
}

/// One tool's bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Whose bar.
    pub tool: Tool,
    /// The multiple of raw.
    pub ratio: f64,
    /// The MiB/s behind it.
    pub mib: f64,
    /// Said after the numbers (e.g. clients that lost output); may be empty.
    pub note: String,
}

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 70.0;
const PLOT_LEFT: f64 = 90.0;
const PLOT_WIDTH: f64 = 520.0;
const BAR: f64 = 16.0;
const GAP: f64 = 4.0;
const TITLE: f64 = 24.0;

fn colour(tool: Tool) -> &'static str {
    match tool {
        Tool::Fugue => "#d9480f",
        Tool::Tmux => "#1c7ed6",
        Tool::Screen => "#5f3dc4",
        Tool::Dtach => "#2b8a3e",
        Tool::Raw => "#868e96",
        Tool::FugueSsh => "#f08c00",
        Tool::SshFugue => "#e8590c",
        Tool::SshTmux => "#4dabf7",
    }
}

/// Escapes text for XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as an SVG document; `title` and `subtitle` head it.
pub fn chart(title: &str, subtitle: &str, groups: &[Group]) -> String {
    let max = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|bar| bar.ratio).chain(g.target))
        .fold(1.0_f64, f64::max)
        * 1.15;
    let scale = |ratio: f64| PLOT_LEFT + PLOT_WIDTH * (ratio / max).clamp(0.0, 1.0);
    let body_height: f64 = groups
        .iter()
        .map(|g| TITLE + g.bars.len() as f64 * (BAR + GAP) + 12.0)
        .sum();
    let height = 60.0 + body_height + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="10" y="22" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="40" fill="#555555">{}</text>"##,
        escape(subtitle)
    );
    let mut y = 60.0;
    for group in groups {
        let top = y;
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{:.1}" font-weight="bold">{}</text>"#,
            y + 14.0,
            escape(&group.title)
        );
        y += TITLE;
        for bar in &group.bars {
            let (tool, ratio, mib) = (bar.tool, bar.ratio, bar.mib);
            let end = scale(ratio);
            let _ = writeln!(
                svg,
                r#"<text x="{LABEL_WIDTH}" y="{:.1}" text-anchor="end">{}</text>"#,
                y + BAR - 4.0,
                tool.name()
            );
            let _ = writeln!(
                svg,
                r#"<rect x="{PLOT_LEFT}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{}"/>"#,
                end - PLOT_LEFT,
                colour(tool)
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{ratio:.2}x ({mib:.1} MiB/s){}</text>"#,
                end + 4.0,
                y + BAR - 4.0,
                escape(&bar.note)
            );
            y += BAR + GAP;
        }
        let bottom = y;
        let one = scale(1.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{one:.1}" y1="{:.1}" x2="{one:.1}" y2="{bottom:.1}" stroke="#343a40"/>"##,
            top + TITLE - 4.0
        );
        if let Some(target) = group.target {
            let at = scale(target);
            let _ = writeln!(
                svg,
                r##"<line x1="{at:.1}" y1="{:.1}" x2="{at:.1}" y2="{bottom:.1}" stroke="#d9480f" stroke-dasharray="4 3"/>"##,
                top + TITLE - 4.0
            );
            let _ = writeln!(
                svg,
                r##"<text x="{at:.1}" y="{:.1}" fill="#d9480f" text-anchor="middle">target {target}x</text>"##,
                top + TITLE - 8.0
            );
        }
        y += 12.0;
    }
    let _ = writeln!(
        svg,
        r##"<text x="10" y="{:.1}" fill="#555555">solid line: raw (1x); dashed: fugue's target</text>"##,
        y + 8.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formedness check: tags nest and close, attributes are quoted,
    /// and `&` only starts an entity.
    fn check_well_formed(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..];
                if !["&amp;", "&lt;", "&gt;", "&quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e))
                {
                    return Err(format!("bare & in {text:?}"));
                }
            }
            let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
            let tag = &rest[open + 1..close];
            if !tag.matches('"').count().is_multiple_of(2) {
                return Err(format!("unbalanced quotes in <{tag}>"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name) {
                    return Err(format!("mismatched </{name}>"));
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().unwrap_or_default();
                stack.push(name.to_owned());
            }
            rest = &rest[close + 1..];
            if stack.is_empty() && !rest.trim().is_empty() {
                return Err("content after the root element".to_owned());
            }
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed {stack:?}"))
        }
    }

    fn bar(tool: Tool, ratio: f64, mib: f64) -> Bar {
        Bar {
            tool,
            ratio,
            mib,
            note: String::new(),
        }
    }

    #[test]
    fn chart_is_well_formed_svg() {
        let groups = vec![
            Group {
                title: "1 client <&> \"quoted\"".to_owned(),
                target: Some(0.9),
                bars: vec![
                    bar(Tool::Fugue, 0.5, 20.0),
                    bar(Tool::Tmux, 0.25, 10.0),
                    bar(Tool::Raw, 1.0, 40.0),
                ],
            },
            Group {
                title: "32 clients".to_owned(),
                target: Some(0.5),
                bars: vec![Bar {
                    note: ", 3 of 32 lost <output>".to_owned(),
                    ..bar(Tool::Dtach, 0.01, 0.4)
                }],
            },
        ];
        let svg = chart("Throughput & fan-out", "2 cores", &groups);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("&lt;&amp;&gt;"));
        assert!(svg.contains("lost &lt;output&gt;"));
        assert_eq!(check_well_formed(&svg), Ok(()));
        assert_eq!(check_well_formed(&chart("empty", "", &[])), Ok(()));
    }

    #[test]
    fn the_checker_catches_broken_markup() {
        assert!(check_well_formed("<svg><g></svg>").is_err());
        assert!(check_well_formed("<svg>a & b</svg>").is_err());
        assert!(check_well_formed("<svg><g>").is_err());
        assert!(check_well_formed("<svg x=\"1></svg>").is_err());
    }
}

//! Bounded, clean ticket text: what NinjaOne sends in an alert's message is remote data of any
//! length and may hold control characters; what reaches ServiceNow is cut to the fields'
//! lengths on a character boundary and holds no control character but newlines and tabs
//! (and those only where a field is multi-line).

/// The most characters of `short_description` (the field's default length, 160).
pub const SHORT_DESCRIPTION_MAX: usize = 160;

/// The most characters of a ticket's `description` and of each work note the router writes:
/// 4,000, the default length of `task.description` (incidents and cases extend `task`). The
/// alert's fields come first, so a cut only shortens the message at the end.
pub const DESCRIPTION_MAX: usize = 4_000;

/// `s` on one line: line breaks and tabs become spaces, every other control character is
/// dropped.
///
/// ```
/// use ninjaone_servicenow::plan::tickets::text::one_line;
/// assert_eq!(one_line("disk\r\nfull\u{7}\tnow"), "disk  full now");
/// ```
#[must_use]
pub fn one_line(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `s` with its newlines and tabs kept (`\r\n` and a lone `\r` become `\n`) and every other
/// control character dropped.
///
/// ```
/// use ninjaone_servicenow::plan::tickets::text::multi_line;
/// assert_eq!(multi_line("a\r\nb\u{1b}[31m\tc\rd"), "a\nb[31m\tc\nd");
/// ```
#[must_use]
pub fn multi_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters (never a cut inside one), ending in "…" when cut.
///
/// ```
/// use ninjaone_servicenow::plan::tickets::text::truncate;
/// assert_eq!(truncate("ébène", 3), "éb…");
/// assert_eq!(truncate("short", 160), "short");
/// ```
#[must_use]
pub fn truncate(s: &str, max: usize) -> String {
    if s.char_indices().nth(max).is_none() {
        return s.to_owned();
    }
    let keep = max.saturating_sub(1);
    let end = s.char_indices().nth(keep).map_or(s.len(), |(at, _)| at);
    let mut out = String::with_capacity(end + '…'.len_utf8());
    out.push_str(&s[..end]);
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn cut_text_is_bounded_and_a_prefix(s in "\\PC{0,300}", max in 0usize..200) {
            let cut = truncate(&s, max);
            prop_assert!(cut.chars().count() <= max);
            let kept = cut.strip_suffix('…').unwrap_or(&cut);
            prop_assert!(s.starts_with(kept));
            if s.chars().count() <= max {
                prop_assert_eq!(&cut, &s);
            }
        }

        #[test]
        fn cleaned_text_has_no_control_characters(s in any::<String>()) {
            prop_assert!(!one_line(&s).chars().any(char::is_control));
            prop_assert!(
                !multi_line(&s)
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
            );
        }
    }
}

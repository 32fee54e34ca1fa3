//! Name comparison for matching organizations to companies.

use unicode_normalization::UnicodeNormalization;

/// The form in which two names are compared: NFKC-normalised, Unicode-lowercased, trimmed, with
/// every inner run of whitespace collapsed to one space.
///
/// Full-width letters, ligatures and non-breaking spaces therefore compare equal to their plain
/// forms, while distinct letters (`é` and `e`) stay distinct.
///
/// ```
/// use ninjaone_servicenow::model::normalize_name;
/// assert_eq!(normalize_name("  Contoso\u{00A0}\u{00A0}DENTAL "), "contoso dental");
/// assert_eq!(normalize_name("Ｆｕｔｕｒａ ﬁrm"), normalize_name("futura firm"));
/// assert_ne!(normalize_name("Café"), normalize_name("Cafe"));
/// ```
#[must_use]
pub fn normalize_name(name: &str) -> String {
    if name.is_ascii() {
        return normalize_ascii(name);
    }
    normalize_unicode(name)
}

/// The general path: NFKC, Unicode lowercase, whitespace collapsed.
fn normalize_unicode(name: &str) -> String {
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The same for an ASCII name, in one pass: NFKC leaves ASCII as it is, Unicode lowercase is
/// ASCII lowercase there, and whitespace is what [`char::is_whitespace`] says (so vertical tab
/// and form feed too, as [`str::split_whitespace`] in the general path).
fn normalize_ascii(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{normalize_ascii, normalize_name, normalize_unicode};

    #[test]
    fn equal_forms() {
        for (a, b) in [
            ("Acme", "ACME"),
            ("Acme  Corp", "acme corp"),
            ("\tAcme\nCorp ", "acme corp"),
            ("ÅNGSTRÖM AB", "ångström ab"),
            // Decomposed "é" (e + combining acute) is the same name as precomposed "é".
            ("Cafe\u{301}", "Café"),
            ("Ａｃｍｅ", "acme"),
        ] {
            assert_eq!(normalize_name(a), normalize_name(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn distinct_forms() {
        for (a, b) in [
            ("Acme", "Acme Corp"),
            ("Café", "Cafe"),
            ("Acme-Corp", "Acme Corp"),
        ] {
            assert_ne!(normalize_name(a), normalize_name(b), "{a:?} vs {b:?}");
        }
        assert_eq!(normalize_name("   "), "");
    }

    #[test]
    fn ascii_fast_path_agrees_on_every_byte() {
        // Every ASCII character alone, between letters, and doubled at either end.
        for b in 0u8..=127 {
            let c = char::from(b);
            for input in [
                c.to_string(),
                format!("A{c}b"),
                format!("{c}{c}Acme{c}Corp{c}{c}"),
            ] {
                assert_eq!(
                    normalize_ascii(&input),
                    normalize_unicode(&input),
                    "{input:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The ASCII fast path gives exactly what NFKC + Unicode lowercase + whitespace
        /// collapsing gives, on any ASCII string (control characters and every ASCII whitespace
        /// included), and `normalize_name` takes it.
        #[test]
        fn ascii_fast_path_agrees_with_the_general_path(name in "[\\x00-\\x7F]{0,40}") {
            prop_assert!(name.is_ascii());
            let fast = normalize_ascii(&name);
            prop_assert_eq!(&fast, &normalize_unicode(&name));
            prop_assert_eq!(&fast, &normalize_name(&name));
        }

        /// The same on name-like ASCII: words, mixed case, runs of spaces, tabs and newlines.
        #[test]
        fn ascii_fast_path_agrees_on_name_like_strings(
            name in "[ \\t\\n\\r\\x0B\\x0Ca-zA-Z0-9&.,'()-]{0,60}"
        ) {
            prop_assert_eq!(normalize_ascii(&name), normalize_unicode(&name));
        }
    }
}

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
    let mut out = String::with_capacity(name.len());
    normalize_name_into(name, &mut out);
    out
}

/// Appends [`normalize_name`]`(name)` to `out`, so a caller normalising many names can keep
/// them in one buffer instead of one allocation each.
pub(crate) fn normalize_name_into(name: &str, out: &mut String) {
    if name.is_ascii() {
        push_words(name.chars().map(|c| c.to_ascii_lowercase()), out);
    } else {
        // The general path: NFKC, Unicode lowercase, whitespace collapsed.
        push_words(name.nfkc().flat_map(char::to_lowercase), out);
    }
}

/// Pushes `chars` to `out` with leading and trailing whitespace dropped and every inner run of
/// whitespace (as [`char::is_whitespace`] says, so vertical tab and form feed too) made one
/// space. For an ASCII name NFKC is the identity and Unicode lowercase is ASCII lowercase, so
/// both paths give what `nfkc().to_lowercase().split_whitespace().join(" ")` would.
fn push_words(chars: impl Iterator<Item = char>, out: &mut String) {
    let start = out.len();
    let mut space = false;
    for c in chars {
        if c.is_whitespace() {
            space = out.len() > start;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
}

/// The reference definition, for tests: NFKC, Unicode lowercase, `split_whitespace`, joined.
#[cfg(test)]
fn normalize_unicode(name: &str) -> String {
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{normalize_name, normalize_name_into, normalize_unicode};

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
    fn fast_path_agrees_on_every_ascii_byte() {
        // Every ASCII character alone, between letters, and doubled at either end.
        for b in 0u8..=127 {
            let c = char::from(b);
            for input in [
                c.to_string(),
                format!("A{c}b"),
                format!("{c}{c}Acme{c}Corp{c}{c}"),
            ] {
                assert_eq!(
                    normalize_name(&input),
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
            let fast = normalize_name(&name);
            prop_assert_eq!(&fast, &normalize_unicode(&name));
            prop_assert_eq!(&fast, &normalize_name(&name));
        }

        /// The same on name-like ASCII: words, mixed case, runs of spaces, tabs and newlines.
        #[test]
        fn ascii_fast_path_agrees_on_name_like_strings(
            name in "[ \\t\\n\\r\\x0B\\x0Ca-zA-Z0-9&.,'()-]{0,60}"
        ) {
            prop_assert_eq!(normalize_name(&name), normalize_unicode(&name));
        }

        /// Any Unicode string: the one-pass whitespace collapsing equals the reference.
        #[test]
        fn any_name_agrees_with_the_reference(name in any::<String>()) {
            prop_assert_eq!(normalize_name(&name), normalize_unicode(&name));
        }

        /// Appending to a buffer that already holds text gives the same form after it.
        #[test]
        fn appending_keeps_what_was_there(prefix in "[a-z ]{0,10}", name in any::<String>()) {
            let mut out = prefix.clone();
            normalize_name_into(&name, &mut out);
            prop_assert_eq!(out, format!("{prefix}{}", normalize_name(&name)));
        }
    }
}

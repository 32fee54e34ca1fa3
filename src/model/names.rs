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

#[cfg(test)]
mod tests {
    use super::normalize_name;

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
}

//! Text the CLI prints to a terminal. Operator text (notes, reasons,
//! names) is kept in the ledger verbatim; printed, its control characters
//! are shown escaped (`\u{1b}`), so an escape sequence or a bell in a note
//! cannot clear the screen or rewrite a line of `fault show` or `audit`.

/// `s` with every control character but the line break shown escaped.
pub fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n') {
        return s.into();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// `println!` for the CLI: the line with its control characters escaped.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", $crate::shown::escaped(&format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escaped("plain 文字"), "plain 文字");
        assert_eq!(
            escaped("cut\u{1b}[2J\u{7}back\rhere"),
            "cut\\u{1b}[2J\\u{7}back\\rhere"
        );
        assert_eq!(escaped("two\nlines"), "two\nlines");
        assert_eq!(escaped("c1\u{9b}31m"), "c1\\u{9b}31m");
    }
}

//! CSV files as RFC 4180 has them (through the `csv` crate: a field with a comma, a quote or a
//! line break is quoted, quotes doubled), safe to open in a spreadsheet: a text cell that begins
//! with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that a class named
//! `=2+3` or a file named `-cmd|…` stays text instead of becoming a formula. Cells that are
//! numbers (`-0.25`, `1e-3`, `inf`) are written as they are. Readers of vitscope's own CSV files
//! take the `'` off again ([`text_of`]), so names round-trip exactly.

use std::borrow::Cow;
use std::path::Path;

/// The first characters that make a spreadsheet read a cell as a formula.
const FORMULA_LEAD: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `s` gets a leading `'`: a text (not a number) that begins with a formula character,
/// or one that begins with `'` before such a text (so that reading back is exact).
fn guarded(s: &str) -> bool {
    match s.strip_prefix('\'') {
        Some(rest) => guarded(rest),
        None => s.starts_with(FORMULA_LEAD) && s.parse::<f64>().is_err(),
    }
}

/// A cell as written: `'` before a text that a spreadsheet would read as a formula.
pub fn cell(s: &str) -> Cow<'_, str> {
    if guarded(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A cell as read back: the text [`cell`] was given.
pub fn text_of(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if guarded(rest) => rest,
        _ => s,
    }
}

/// A CSV document built in memory, one header and rows of cells.
pub struct Table {
    w: csv::Writer<Vec<u8>>,
}

impl Table {
    /// A table with this header.
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Self {
        let mut t = Table {
            w: csv::Writer::from_writer(Vec::new()),
        };
        t.row(header);
        t
    }

    /// Appends a row; every cell goes through [`cell`].
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| cell(c.as_ref()).into_owned())
            .collect();
        // Writing to memory cannot fail.
        self.w
            .write_record(&cells)
            .expect("a CSV record written to memory");
    }

    /// The document's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_inner().expect("a CSV written to memory")
    }

    /// Writes the document to `path` atomically.
    pub fn write(self, path: &Path) -> std::io::Result<()> {
        super::write_atomic(path, &self.into_bytes())
    }
}

/// Reads CSV text with a header: the header's cells and the rows (as many fields as each has;
/// blank lines skipped), each cell trimmed and through [`text_of`]. A byte-order mark
/// (spreadsheet exports) is not part of the first column's name.
pub fn read(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), csv::Error> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = r.headers()?.iter().map(|h| h.trim().to_owned()).collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        rows.push(rec?.iter().map(|c| text_of(c).to_owned()).collect());
    }
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        assert_eq!(cell("=2+3"), "'=2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-cmd"), "'-cmd");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("-0.25"), "-0.25");
        assert_eq!(cell("1e-3"), "1e-3");
        assert_eq!(cell("polyp"), "polyp");
        for s in [
            "=2+3", "-cmd", "@x", "'quoted", "'=x", "''-y", "plain", "-1.5", "",
        ] {
            assert_eq!(text_of(&cell(s)), s);
        }
    }

    #[test]
    fn commas_quotes_and_line_breaks_round_trip() {
        let mut t = Table::new(["image", "class"]);
        t.row(["a,b.png", "say \"hi\"\nthere"]);
        t.row(["c.png", "=2+3"]);
        let text = String::from_utf8(t.into_bytes()).unwrap();
        assert!(text.starts_with("image,class\n\"a,b.png\""));
        let (h, rows) = read(&text).unwrap();
        assert_eq!(h, ["image", "class"]);
        assert_eq!(rows[0], ["a,b.png", "say \"hi\"\nthere"]);
        assert_eq!(rows[1], ["c.png", "=2+3"]);
    }
}

//! The response file of a reader study: one row per presented question, header
//! `reader,case,condition,question,response,rt_ms,position,session`, read and checked as the
//! study specification fixes it (values as written, no trimming; each error names the file and
//! the line).

use std::collections::HashMap;
use std::path::Path;

use crate::error::Invalid;

/// The header, in this order.
pub const HEADER: [&str; 8] = [
    "reader",
    "case",
    "condition",
    "question",
    "response",
    "rt_ms",
    "position",
    "session",
];

/// A question kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    /// How well the map shows the finding, 1..5.
    Likert,
    /// Which of two maps shows it better.
    Pairwise,
    /// A click on the finding.
    Localise,
    /// Confidence that the finding is present, 1..5.
    Confidence,
}

impl Question {
    /// Every kind, in the file's order of keys.
    pub const ALL: [Question; 4] = [
        Question::Likert,
        Question::Pairwise,
        Question::Localise,
        Question::Confidence,
    ];

    /// Its keyword.
    pub fn name(self) -> &'static str {
        match self {
            Question::Likert => "likert",
            Question::Pairwise => "pairwise",
            Question::Localise => "localise",
            Question::Confidence => "confidence",
        }
    }

    fn parse(s: &str) -> Option<Question> {
        Question::ALL.into_iter().find(|q| q.name() == s)
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A rating 1..5 (Likert, confidence).
    Rating(u8),
    /// The chosen condition of a pair.
    Choice(String),
    /// A click, pixels of the original image (x right, y down).
    Click(f64, f64),
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Reader id.
    pub reader: String,
    /// Case (image stem).
    pub case: String,
    /// Condition, or `A|B` for a pair.
    pub condition: String,
    /// Question.
    pub question: Question,
    /// The answer; `None` when the question was presented and not answered.
    pub answer: Option<Answer>,
    /// Response time, ms.
    pub rt_ms: Option<u64>,
    /// 1-based presentation order in the session.
    pub position: u64,
    /// Session id.
    pub session: String,
}

impl Response {
    /// The rating, if this row holds one.
    pub fn rating(&self) -> Option<u8> {
        match self.answer {
            Some(Answer::Rating(v)) => Some(v),
            _ => None,
        }
    }
}

/// An id: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
pub fn is_id(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A condition name: `[a-z0-9][a-z0-9_-]*`.
pub fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// A decimal number as the file allows it: `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`.
fn decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let ok_mantissa = match mantissa.split_once('.') {
        None => is_digits(mantissa),
        Some((a, b)) => {
            (is_digits(a) && (b.is_empty() || is_digits(b))) || (a.is_empty() && is_digits(b))
        }
    };
    let ok_exp = exp.is_none_or(|e| is_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(ok_mantissa && ok_exp) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads and checks a response file.
pub fn read(path: &Path) -> Result<Vec<Response>, Invalid> {
    let name = path.display().to_string();
    let bytes = crate::io::guard::read_bounded(path, 1 << 30)
        .map_err(|e| Invalid::from(format!("{name}: {e}")))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Invalid::from(format!("{name}: not UTF-8 text")))?;
    parse(&text, &name)
}

/// Parses the text of a response file; `name` names it in errors.
pub fn parse(text: &str, name: &str) -> Result<Vec<Response>, Invalid> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    if header != HEADER {
        return Err(Invalid::from(format!(
            "{name}: line 1: the header must be {}",
            HEADER.join(",")
        )));
    }
    let mut out = Vec::new();
    let mut seen: HashMap<(String, String, String, Question), u64> = HashMap::new();
    for rec in records {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Invalid::from(format!("{name}: line {line}: {e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let at = format!("{name}: line {line}");
        if rec.len() != HEADER.len() {
            return Err(Invalid::from(format!(
                "{at}: {} fields, want {}",
                rec.len(),
                HEADER.len()
            )));
        }
        let f = |k: usize| rec[k].to_string();
        let (reader, case, condition, q, response, rt, position, session) =
            (f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7));
        for (k, v) in [("reader", &reader), ("case", &case), ("session", &session)] {
            if !is_id(v) {
                return Err(Invalid::from(format!("{at}: bad {k} '{v}'")));
            }
        }
        let question = Question::parse(&q)
            .ok_or_else(|| Invalid::from(format!("{at}: unknown question '{q}'")))?;
        let sides: Vec<&str> = condition.split('|').collect();
        if question == Question::Pairwise {
            if sides.len() != 2 || !sides.iter().all(|s| is_name(s)) || sides[0] == sides[1] {
                return Err(Invalid::from(format!(
                    "{at}: a pairwise condition is A|B with two different condition names, got '{condition}'"
                )));
            }
        } else if !is_name(&condition) {
            return Err(Invalid::from(format!("{at}: bad condition '{condition}'")));
        }
        let rt_ms = match rt.as_str() {
            "" => None,
            t if is_digits(t) => Some(
                t.parse::<u64>()
                    .map_err(|_| Invalid::from(format!("{at}: rt_ms '{t}' is too large")))?,
            ),
            t => {
                return Err(Invalid::from(format!(
                    "{at}: rt_ms must be empty or a whole number of milliseconds, got '{t}'"
                )));
            }
        };
        let position = match position.parse::<u64>() {
            Ok(p) if is_digits(&position) && p >= 1 => p,
            _ => {
                return Err(Invalid::from(format!(
                    "{at}: position must be a whole number >= 1, got '{position}'"
                )));
            }
        };
        let answer = if response.is_empty() {
            None
        } else {
            Some(match question {
                Question::Likert | Question::Confidence => match response.as_str() {
                    "1" | "2" | "3" | "4" | "5" => Answer::Rating(response.as_bytes()[0] - b'0'),
                    r => {
                        return Err(Invalid::from(format!(
                            "{at}: a {} response is one of 1..5, got '{r}'",
                            question.name()
                        )));
                    }
                },
                Question::Pairwise => {
                    if !sides.contains(&response.as_str()) {
                        return Err(Invalid::from(format!(
                            "{at}: the pairwise response must name one side of '{condition}', got '{response}'"
                        )));
                    }
                    Answer::Choice(response.clone())
                }
                Question::Localise => {
                    let xy: Vec<Option<f64>> = response.split(';').map(decimal).collect();
                    match xy[..] {
                        [Some(x), Some(y)] => Answer::Click(x, y),
                        _ => {
                            return Err(Invalid::from(format!(
                                "{at}: a localise response is x;y with finite numbers, got '{response}'"
                            )));
                        }
                    }
                }
            })
        };
        let key = (reader.clone(), case.clone(), condition.clone(), question);
        if let Some(first) = seen.get(&key) {
            return Err(Invalid::from(format!(
                "{at}: duplicates line {first} (same reader, case, condition and question)"
            )));
        }
        seen.insert(key, line);
        out.push(Response {
            reader,
            case,
            condition,
            question,
            answer,
            rt_ms,
            position,
            session,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "reader,case,condition,question,response,rt_ms,position,session\n";

    fn one(row: &str) -> Result<Vec<Response>, Invalid> {
        parse(&format!("{HEAD}{row}\n"), "r.csv")
    }

    #[test]
    fn values_are_taken_as_written() {
        assert!(one("r1,c1,chefer,likert,3,,1,s1").is_ok());
        assert!(one("r1,c1,chefer,likert, 3,,1,s1").is_err());
        assert!(one("r1,c1,Chefer,likert,3,,1,s1").is_err());
        assert!(one("r1,c1,chefer,likert,6,,1,s1").is_err());
        assert!(one("r1,c1,chefer,likert,3,,0,s1").is_err());
        assert!(one("r1,c1,chefer,likert,3,-5,1,s1").is_err());
        assert!(one("r1,c1,a|a,pairwise,a,,1,s1").is_err());
        assert!(one("r1,c1,a|b,pairwise,c,,1,s1").is_err());
        let r = one("r1,c1,none,localise,10.0;.5e1,,1,s1").unwrap();
        assert_eq!(r[0].answer, Some(Answer::Click(10.0, 5.0)));
        assert!(one("r1,c1,none,localise,1e400;2,,1,s1").is_err());
        assert!(one("r1,c1,none,localise,1.;2,,1,s1").is_ok());
        assert!(one("r1,c1,none,localise,.;2,,1,s1").is_err());
        assert!(one("r1,c1,none,localise,inf;2,,1,s1").is_err());
        let e = parse(
            &format!("{HEAD}r1,c1,x,likert,3,,1,s1\nr1,c1,x,likert,4,,2,s1\n"),
            "r.csv",
        )
        .unwrap_err();
        assert!(e.contains("line 3: duplicates line 2"), "{e}");
    }
}

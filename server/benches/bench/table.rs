//! The side-by-side table the bench ends with: a row per figure, a column
//! per store (sled, PostgreSQL, two portals on one PostgreSQL) and the
//! goal, printed as Markdown so that it can go into the README as it is.

/// A column of figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// One `kaisen serve --db <dir>`.
    Sled,
    /// One `kaisen serve --database <url>`.
    Postgres,
    /// Two `kaisen serve --database <url>` on the same database, the
    /// clients split between them.
    TwoPortals,
}

impl Column {
    const ALL: [Column; 3] = [Column::Sled, Column::Postgres, Column::TwoPortals];

    fn heading(self) -> &'static str {
        match self {
            Column::Sled => "sled",
            Column::Postgres => "PostgreSQL",
            Column::TwoPortals => "2 portals, 1 PostgreSQL",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The figures measured so far, in the order first measured.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

struct Row {
    figure: String,
    cells: [Option<String>; 3],
    goal: &'static str,
}

impl Table {
    /// Puts `cell` in the row of `figure` (made, with `goal`, if new).
    pub fn put(&mut self, figure: &str, goal: &'static str, column: Column, cell: String) {
        let row = match self.rows.iter().position(|r| r.figure == figure) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    figure: figure.to_owned(),
                    cells: Default::default(),
                    goal,
                });
                self.rows.last_mut().expect("just pushed")
            }
        };
        row.cells[column.index()] = Some(cell);
    }

    /// A line printed under the table.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Prints the table: only the columns that hold a figure, `—` where a
    /// row has none.
    pub fn print(&self) {
        if self.rows.is_empty() {
            return;
        }
        let columns: Vec<Column> = Column::ALL
            .into_iter()
            .filter(|c| self.rows.iter().any(|r| r.cells[c.index()].is_some()))
            .collect();
        let mut lines: Vec<Vec<&str>> = vec![
            std::iter::once("figure")
                .chain(columns.iter().map(|c| c.heading()))
                .chain(std::iter::once("goal"))
                .collect(),
        ];
        for row in &self.rows {
            lines.push(
                std::iter::once(row.figure.as_str())
                    .chain(
                        columns
                            .iter()
                            .map(|c| row.cells[c.index()].as_deref().unwrap_or("—")),
                    )
                    .chain(std::iter::once(row.goal))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let print = |cells: &[&str]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, &width)| format!("{cell:<width$}"))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        println!();
        println!("Side by side (Markdown)");
        println!();
        print(&lines[0]);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for line in &lines[1..] {
            print(line);
        }
        if !self.notes.is_empty() {
            println!();
            for note in &self.notes {
                println!("{note}");
            }
        }
    }
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

//! Outcomes: what an experiment measures, declared by each mechanism over its own tables.
//!
//! A mechanism says where its outcomes are ([`OutcomeSource`]: a table, the column that
//! names the outcome or a fixed name, the value column, whether the unit is an agent or
//! the whole run, which rows count). The engine reads those rows back once the runs are
//! written and computes every outcome's estimate and interval per arm and segment, and
//! each arm's paired difference with the control arm, so statistics work the same for
//! every mechanism and for runs that were resumed, branched or merged.

/// How an outcome is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeName {
    /// One outcome with this name.
    Fixed(String),
    /// One outcome per value of this text column (a survey's `item_id`).
    Column(String),
}

/// What an outcome's value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeValue {
    /// The number in this column.
    Number(String),
    /// One outcome per value of this text column, `name=value`, worth 1 for rows with
    /// that value and 0 otherwise: the share choosing each option.
    Shares(String),
}

/// Who one observation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeUnit {
    /// One observation per agent (rows of an agent are combined).
    Agent,
    /// One observation per run (rows of the run are combined).
    Run,
}

/// How the rows of one unit combine into its observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Their mean.
    Mean,
    /// Their sum (a run's revenue over its lots).
    Sum,
    /// The value of the latest round (an opinion at the end of a debate).
    Last,
}

/// Where a mechanism's outcomes are, declared over its own tables.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeSource {
    /// The table holding the rows.
    pub table: String,
    /// How each outcome is named.
    pub name: OutcomeName,
    /// What its value is.
    pub value: OutcomeValue,
    /// The unit of observation.
    pub unit: OutcomeUnit,
    /// How a unit's rows combine.
    pub combine: Combine,
    /// Only rows whose text column holds one of these values count (for example
    /// `item_kind` in `likert`, `numeric`); every row when empty.
    pub only: Vec<(String, Vec<String>)>,
}

impl OutcomeSource {
    /// Numbers of `column` in `table`, one outcome called `name`.
    pub fn number(table: &str, name: &str, column: &str, unit: OutcomeUnit) -> Self {
        Self {
            table: table.into(),
            name: OutcomeName::Fixed(name.into()),
            value: OutcomeValue::Number(column.into()),
            unit,
            combine: Combine::Mean,
            only: Vec::new(),
        }
    }

    /// The same source combining a unit's rows with `combine`.
    pub fn combined(mut self, combine: Combine) -> Self {
        self.combine = combine;
        self
    }

    /// The same source keeping only rows whose `column` holds one of `values`.
    pub fn only(mut self, column: &str, values: &[&str]) -> Self {
        self.only.push((
            column.into(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }

    /// The columns the engine reads from the table (besides the run keys).
    pub fn columns(&self) -> Vec<&str> {
        let mut columns = Vec::new();
        if let OutcomeName::Column(c) = &self.name {
            columns.push(c.as_str());
        }
        match &self.value {
            OutcomeValue::Number(c) | OutcomeValue::Shares(c) => columns.push(c.as_str()),
        }
        columns.extend(self.only.iter().map(|(c, _)| c.as_str()));
        columns.sort();
        columns.dedup();
        columns
    }
}

/// Free-text answers a mechanism records, by an id a scenario's `coding:` block names:
/// what open-answer coding reads.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSource {
    /// The id a scenario names (`why` for a survey item, `messages`, `intent_text`).
    pub id: String,
    /// What the answers are, for messages and listings.
    pub description: String,
    /// The table holding the answers.
    pub table: String,
    /// The text column.
    pub column: String,
    /// Only rows whose text column holds one of these values are answers of this
    /// source (an item id, a valid status).
    pub only: Vec<(String, Vec<String>)>,
}

impl TextSource {
    /// Answers in `column` of `table`, called `id`.
    pub fn new(id: &str, description: impl Into<String>, table: &str, column: &str) -> Self {
        Self {
            id: id.into(),
            description: description.into(),
            table: table.into(),
            column: column.into(),
            only: Vec::new(),
        }
    }

    /// The same source keeping only rows whose `column` holds one of `values`.
    pub fn only(mut self, column: &str, values: &[&str]) -> Self {
        self.only.push((
            column.into(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }
}

/// The scale of a question, as human answers to it are compared with simulated ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Scale {
    /// Ordered points 1..=points.
    Ordinal(u16),
    /// Unordered options, by label.
    Categorical(Vec<String>),
    /// Any number.
    Numeric,
}

/// A question a mechanism asks, and where its answers are: what validation against
/// human answers needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// The question's id.
    pub id: String,
    /// Its scale.
    pub scale: Scale,
    /// The table of answers.
    pub table: String,
    /// The text column naming the question in that table.
    pub id_column: String,
    /// The column holding the answer: a number for ordinal and numeric scales, the
    /// option's label for categorical ones.
    pub answer_column: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_lists_the_columns_it_reads_once() {
        let s = OutcomeSource {
            table: "survey_responses".into(),
            name: OutcomeName::Column("item_id".into()),
            value: OutcomeValue::Shares("answer_label".into()),
            unit: OutcomeUnit::Agent,
            combine: Combine::Mean,
            only: Vec::new(),
        }
        .only("item_kind", &["single_choice"])
        .only("item_id", &["plan"]);
        assert_eq!(s.columns(), ["answer_label", "item_id", "item_kind"]);
        let r = OutcomeSource::number("auction_outcomes", "revenue", "revenue", OutcomeUnit::Run)
            .combined(Combine::Sum);
        assert_eq!((r.columns(), r.combine), (vec!["revenue"], Combine::Sum));
    }
}

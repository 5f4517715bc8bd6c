//! Starting scenarios: `agora init` writes one for any registered mechanism, built
//! from the mechanism's [`Template`] and a population every template shares.

use agora_core::Template;

/// The starting population of every template, with `{size}` to fill in. Mechanism
/// blocks may refer to its attributes (`age`, `region`, `household`, `income`), its
/// custom trait `price_sensitivity` and the Big Five.
const POPULATION: &str = r#"(
        size: {size},                  // --agents overrides it
        // Attributes: Normal, LogNormal, Beta, Uniform, Poisson or Categorical, with
        // optional `min`/`max`; `round: true` makes whole numbers.
        attributes: [
            (name: "age", dist: Normal(mean: 43.0, std_dev: 15.0, min: 18.0, max: 85.0), round: true),
            (name: "region", dist: Categorical([("urban", 0.55), ("suburban", 0.30), ("rural", 0.15)])),
            // Drawn given an earlier categorical attribute, one row per category.
            (name: "household", dist: Conditional(given: "region", table: [
                ("urban",    [("single", 0.45), ("couple", 0.30), ("family", 0.25)]),
                ("suburban", [("single", 0.20), ("couple", 0.30), ("family", 0.50)]),
                ("rural",    [("single", 0.25), ("couple", 0.35), ("family", 0.40)]),
            ])),
            // `mu` is on the log scale: exp(10.8) is about 49,000.
            (name: "income", dist: LogNormal(mu: 10.8, sigma: 0.5, min: 8000.0), round: true),
        ],
        // Exact counts per category rather than random ones.
        quotas: ["region"],
        // Traits in 0..1 beside the Big Five (openness, conscientiousness,
        // extraversion, agreeableness, neuroticism), which every agent has.
        custom_traits: [
            (name: "price_sensitivity", dist: Beta(alpha: 2.0, beta: 2.0)),
        ],
        // Or read people from a file instead: import: (path: "people.csv"),
    )"#;

/// The text of a starting scenario called `name` for the mechanism `keyword`, to be
/// written to `file` (named in the commands it suggests), with comments on every
/// setting; valid as written.
pub fn render(name: &str, file: &str, keyword: &str, template: &Template) -> String {
    // A line break in the file's name must not end a comment line.
    let file: String = file
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let commands = [
        (format!("agora validate {file}"), "check it without running"),
        (
            format!("agora run {file} --model rules"),
            "rule-based agents, in seconds",
        ),
        (
            format!("agora run {file} --model local --agents 20"),
            "the embedded language model",
        ),
        (
            format!("agora run {file} --model openai:MODEL"),
            "any OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY)",
        ),
    ];
    let width = commands
        .iter()
        .map(|(command, _)| command.chars().count())
        .max()
        .unwrap_or(0);
    let commands: String = commands
        .iter()
        .map(|(command, what)| format!("//   {command:<width$}  {what}\n"))
        .collect();
    let population = POPULATION.replace("{size}", &template.agents.to_string());
    let quoted = |text: &str| {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    format!(
        r#"// {about}
//
// A starting scenario for the {keyword} mechanism, written by `agora init`: change
// what you need, then
//
{commands}//
// The README describes every setting; scenarios/ holds worked examples.
Scenario(
    name: {name},
    description: {description},
    // The same seed gives the same people and byte-identical tables.
    seed: 1,
    // Runs per arm, each with freshly sampled people.
    replicates: {replicates},
    // Sampling settings for language models; the model itself comes from --model
    // (or `name: "openai:gpt-4o-mini"` here).
    model: (temperature: 0.7, max_tokens: 300),
    // Tables go to runs/<file name> unless `output: "runs/..."` says otherwise.
    //
    // Treatments to compare, every arm on the same people, for example
    //   arms: [(name: "with_persona"), (name: "no_persona", persona: None, control: true)],
    // and `{{{{name}}}}` placeholders in the mechanism's texts filled by each arm's
    // `stimuli: {{"name": "text"}}`.

    // Who the agents are.
    population: {population},

    // What they do.
    mechanism: {mechanism},
)
"#,
        about = template.about,
        commands = commands,
        name = quoted(name),
        description = quoted(template.about),
        replicates = template.replicates,
        mechanism = template.mechanism.trim_end(),
    )
}

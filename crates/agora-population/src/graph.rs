//! Social graphs: who hears whom in a conversation.
//!
//! A [`GraphSpec`] names a graph family (complete, small-world, scale-free) or an edge
//! list file; [`SocialGraph::build`] turns it into an undirected graph over agents
//! `0..n` with a seeded generator, so the same seed gives the same graph. Graphs are
//! built with petgraph and kept as sorted neighbour lists for fast audience look-ups.

use std::path::{Path, PathBuf};

use petgraph::graph::UnGraph;
use rand::{Rng, RngExt};
use serde::Deserialize;

/// Which social graph connects the agents.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawGraphSpec")]
pub enum GraphSpec {
    /// Everyone hears everyone (the default).
    #[default]
    Complete,
    /// Watts–Strogatz: a ring where each agent knows its `neighbours` nearest agents,
    /// each link rewired to a random agent with probability `rewire`.
    SmallWorld {
        /// Even number of ring neighbours per agent (k).
        neighbours: u32,
        /// Probability of rewiring each ring link (p), 0..1.
        rewire: f64,
    },
    /// Barabási–Albert preferential attachment: each new agent links to `links`
    /// existing agents, chosen with probability proportional to their degree.
    ScaleFree {
        /// Links per new agent (m), at least 1.
        links: u32,
    },
    /// An edge list file: one `a,b` (or `a b`) pair of agent ids (0-based) per line;
    /// `#` starts a comment. Relative paths are read from the scenario's folder.
    File(PathBuf),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "GraphSpec")]
enum RawGraphSpec {
    Complete,
    SmallWorld {
        #[serde(default = "four")]
        neighbours: u32,
        #[serde(default = "tenth")]
        rewire: f64,
    },
    ScaleFree {
        #[serde(default = "two")]
        links: u32,
    },
    File(PathBuf),
}

fn two() -> u32 {
    2
}
fn four() -> u32 {
    4
}
fn tenth() -> f64 {
    0.1
}

impl TryFrom<RawGraphSpec> for GraphSpec {
    type Error = String;

    fn try_from(raw: RawGraphSpec) -> Result<Self, String> {
        Ok(match raw {
            RawGraphSpec::Complete => GraphSpec::Complete,
            RawGraphSpec::SmallWorld { neighbours, rewire } => {
                if neighbours < 2 || !neighbours.is_multiple_of(2) {
                    return Err(format!(
                        "a small-world graph needs an even number of neighbours >= 2, got {neighbours}; use 4"
                    ));
                }
                if !(0.0..=1.0).contains(&rewire) {
                    return Err(format!(
                        "rewire is a probability between 0 and 1, got {rewire}; use 0.1"
                    ));
                }
                GraphSpec::SmallWorld { neighbours, rewire }
            }
            RawGraphSpec::ScaleFree { links } => {
                if links == 0 {
                    return Err(
                        "a scale-free graph needs links >= 1 per new agent; use 2".to_string()
                    );
                }
                GraphSpec::ScaleFree { links }
            }
            RawGraphSpec::File(path) => {
                if path.as_os_str().is_empty() {
                    return Err("the graph file path is empty; write File(\"edges.csv\")".into());
                }
                GraphSpec::File(path)
            }
        })
    }
}

impl GraphSpec {
    /// Make a relative edge-list path relative to `base` (the scenario's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let GraphSpec::File(path) = self
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
    }
}

/// Why a graph could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// The edge list file could not be read.
    #[error("cannot read the graph file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// A line of the edge list is not a pair of agent ids.
    #[error("graph file line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An edge names an agent the population does not have.
    #[error(
        "graph file line {line}: agent {agent} does not exist (the population has {agents} agents, ids 0..{agents})"
    )]
    UnknownAgent {
        /// 1-based line number.
        line: usize,
        /// The id named.
        agent: u32,
        /// Population size.
        agents: usize,
    },
}

/// One edge of an edge list, with the line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedEdge {
    /// 1-based line number in the file.
    pub line: usize,
    /// One end.
    pub a: u32,
    /// The other end.
    pub b: u32,
}

/// Parse an edge list: `a,b` or `a b` per line, `#` comments, blank lines ignored.
pub fn parse_edge_list(text: &str) -> Result<Vec<ListedEdge>, GraphError> {
    let mut edges = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let syntax = |message: String| GraphError::Syntax {
            line: i + 1,
            message,
        };
        let [a, b] = parts.as_slice() else {
            return Err(syntax(format!(
                "expected two agent ids such as `0,1`, got `{line}`"
            )));
        };
        let id = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| syntax(format!("`{s}` is not an agent id (a whole number from 0)")))
        };
        edges.push(ListedEdge {
            line: i + 1,
            a: id(a)?,
            b: id(b)?,
        });
    }
    Ok(edges)
}

/// An undirected social graph over agents `0..n`, as sorted neighbour lists (a
/// complete graph keeps no lists: everyone's neighbours are everyone else).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialGraph {
    agents: usize,
    neighbours: Vec<Vec<u32>>,
    complete: bool,
}

impl SocialGraph {
    /// Build the graph `spec` names over `n` agents, drawing from `rng`.
    pub fn build(spec: &GraphSpec, n: usize, rng: &mut impl Rng) -> Result<Self, GraphError> {
        let graph = match spec {
            GraphSpec::Complete => return Ok(Self::complete(n)),
            GraphSpec::SmallWorld { neighbours, rewire } => {
                watts_strogatz(n, *neighbours as usize, *rewire, rng)
            }
            GraphSpec::ScaleFree { links } => barabasi_albert(n, *links as usize, rng),
            GraphSpec::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| GraphError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                from_edges(n, &parse_edge_list(&text)?)?
            }
        };
        Ok(Self::from_petgraph(&graph))
    }

    /// The complete graph over `n` agents.
    pub fn complete(n: usize) -> Self {
        Self {
            agents: n,
            neighbours: Vec::new(),
            complete: true,
        }
    }

    fn from_petgraph(graph: &UnGraph<(), ()>) -> Self {
        let n = graph.node_count();
        let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); n];
        for edge in graph.raw_edges() {
            let (a, b) = (edge.source().index(), edge.target().index());
            if a != b {
                neighbours[a].push(b as u32);
                neighbours[b].push(a as u32);
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
            list.dedup();
        }
        let complete = neighbours.iter().all(|l| l.len() + 1 == n);
        Self {
            agents: n,
            neighbours,
            complete,
        }
    }

    /// Number of agents.
    pub fn len(&self) -> usize {
        self.agents
    }

    /// Whether the graph has no agents.
    pub fn is_empty(&self) -> bool {
        self.agents == 0
    }

    /// Whether everyone is linked to everyone.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The agents linked to `agent`, in id order.
    pub fn neighbours(&self, agent: u32) -> Vec<u32> {
        if self.complete {
            return (0..self.agents as u32).filter(|&j| j != agent).collect();
        }
        self.neighbours
            .get(agent as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// Number of undirected links.
    pub fn edge_count(&self) -> usize {
        if self.complete {
            return self.agents * self.agents.saturating_sub(1) / 2;
        }
        self.neighbours.iter().map(Vec::len).sum::<usize>() / 2
    }
}

fn empty_graph(n: usize) -> UnGraph<(), ()> {
    let mut g = UnGraph::with_capacity(n, n * 2);
    for _ in 0..n {
        g.add_node(());
    }
    g
}

fn index(i: usize) -> petgraph::graph::NodeIndex {
    petgraph::graph::NodeIndex::new(i)
}

/// Watts–Strogatz small world: ring lattice of degree `k`, each link rewired with
/// probability `p` to a uniformly drawn agent (no self-links, no duplicate links).
fn watts_strogatz(n: usize, k: usize, p: f64, rng: &mut impl Rng) -> UnGraph<(), ()> {
    if k + 1 >= n {
        return complete_petgraph(n);
    }
    let mut links: std::collections::BTreeSet<(usize, usize)> = Default::default();
    let key = |a: usize, b: usize| (a.min(b), a.max(b));
    for i in 0..n {
        for j in 1..=k / 2 {
            links.insert(key(i, (i + j) % n));
        }
    }
    for j in 1..=k / 2 {
        for i in 0..n {
            let old = key(i, (i + j) % n);
            if !links.contains(&old) || rng.random::<f64>() >= p {
                continue;
            }
            // Rewire (i, i+j) to (i, w); keep the link when i already knows everyone.
            let free: Vec<usize> = (0..n)
                .filter(|&w| w != i && !links.contains(&key(i, w)))
                .collect();
            if free.is_empty() {
                continue;
            }
            let w = free[rng.random_range(0..free.len())];
            links.remove(&old);
            links.insert(key(i, w));
        }
    }
    let mut g = empty_graph(n);
    for (a, b) in links {
        g.add_edge(index(a), index(b), ());
    }
    g
}

/// Barabási–Albert: a complete core of `m + 1` agents, then each further agent links
/// to `m` distinct earlier agents drawn with probability proportional to degree.
fn barabasi_albert(n: usize, m: usize, rng: &mut impl Rng) -> UnGraph<(), ()> {
    let core = (m + 1).min(n);
    let mut g = complete_petgraph(core);
    // Every link's two ends, so a uniform draw from it is degree-proportional.
    let mut ends: Vec<usize> = Vec::with_capacity(2 * m * n);
    for e in g.raw_edges() {
        ends.push(e.source().index());
        ends.push(e.target().index());
    }
    for new in core..n {
        g.add_node(());
        let mut chosen: Vec<usize> = Vec::with_capacity(m);
        while chosen.len() < m.min(new) {
            let pick = if ends.is_empty() {
                rng.random_range(0..new)
            } else {
                ends[rng.random_range(0..ends.len())]
            };
            if !chosen.contains(&pick) {
                chosen.push(pick);
            }
        }
        for &t in &chosen {
            g.add_edge(index(new), index(t), ());
            ends.push(new);
            ends.push(t);
        }
    }
    g
}

fn complete_petgraph(n: usize) -> UnGraph<(), ()> {
    let mut g = empty_graph(n);
    for a in 0..n {
        for b in a + 1..n {
            g.add_edge(index(a), index(b), ());
        }
    }
    g
}

fn from_edges(n: usize, edges: &[ListedEdge]) -> Result<UnGraph<(), ()>, GraphError> {
    let mut g = empty_graph(n);
    for e in edges {
        for agent in [e.a, e.b] {
            if agent as usize >= n {
                return Err(GraphError::UnknownAgent {
                    line: e.line,
                    agent,
                    agents: n,
                });
            }
        }
        g.add_edge(index(e.a as usize), index(e.b as usize), ());
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn rng(seed: u64) -> Pcg64Mcg {
        Pcg64Mcg::seed_from_u64(seed)
    }

    fn is_symmetric_and_simple(g: &SocialGraph) -> bool {
        (0..g.len() as u32).all(|i| {
            let ns = g.neighbours(i);
            !ns.contains(&i)
                && ns.windows(2).all(|w| w[0] < w[1])
                && ns.iter().all(|&j| g.neighbours(j).contains(&i))
        })
    }

    #[test]
    fn edge_lists_parse_with_comments_and_report_bad_lines() {
        let edges = parse_edge_list("# a triangle\n0,1\n1 2 # spaces work\n\n2,0\n").unwrap();
        assert_eq!(edges.len(), 3);
        assert_eq!(
            edges[1],
            ListedEdge {
                line: 3,
                a: 1,
                b: 2
            }
        );
        let err = parse_edge_list("0,1\n1,x\n").unwrap_err();
        assert!(matches!(err, GraphError::Syntax { line: 2, .. }), "{err}");
        assert!(parse_edge_list("0,1,2").is_err());
        let g = from_edges(2, &parse_edge_list("0,5").unwrap()).unwrap_err();
        assert!(g.to_string().contains("agent 5 does not exist"), "{g}");
    }

    #[test]
    fn specs_are_validated() {
        for (raw, needle) in [
            (
                RawGraphSpec::SmallWorld {
                    neighbours: 3,
                    rewire: 0.1,
                },
                "even",
            ),
            (
                RawGraphSpec::SmallWorld {
                    neighbours: 4,
                    rewire: 1.5,
                },
                "probability",
            ),
            (RawGraphSpec::ScaleFree { links: 0 }, "links >= 1"),
        ] {
            let err = GraphSpec::try_from(raw).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    proptest! {
        #[test]
        fn complete_graphs_link_everyone(n in 0usize..40) {
            let g = SocialGraph::build(&GraphSpec::Complete, n, &mut rng(0)).unwrap();
            prop_assert_eq!(g.edge_count(), n * n.saturating_sub(1) / 2);
            prop_assert!(g.is_complete() && is_symmetric_and_simple(&g));
        }

        #[test]
        fn small_worlds_keep_their_link_count(n in 6usize..80, half in 1u32..3, p in 0.0f64..=1.0, seed in 0u64..1000) {
            let k = half * 2;
            let spec = GraphSpec::SmallWorld { neighbours: k, rewire: p };
            let g = SocialGraph::build(&spec, n, &mut rng(seed)).unwrap();
            prop_assert!(is_symmetric_and_simple(&g));
            prop_assert_eq!(g.edge_count(), n * k as usize / 2, "rewiring moves links, never adds or drops them");
            let again = SocialGraph::build(&spec, n, &mut rng(seed)).unwrap();
            prop_assert_eq!(&g, &again, "the same seed gives the same graph");
            if p == 0.0 {
                prop_assert!((0..n as u32).all(|i| g.neighbours(i).len() == k as usize));
            }
        }

        #[test]
        fn scale_free_graphs_grow_by_m_links_per_agent(n in 1usize..120, m in 1u32..4, seed in 0u64..1000) {
            let spec = GraphSpec::ScaleFree { links: m };
            let g = SocialGraph::build(&spec, n, &mut rng(seed)).unwrap();
            let m = m as usize;
            let core = (m + 1).min(n);
            let want = core * core.saturating_sub(1) / 2 + n.saturating_sub(core) * m;
            prop_assert!(is_symmetric_and_simple(&g));
            prop_assert_eq!(g.edge_count(), want);
            prop_assert!((0..n as u32).all(|i| n == 1 || !g.neighbours(i).is_empty()), "everyone is linked");
        }
    }
}

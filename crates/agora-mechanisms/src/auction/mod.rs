//! Auctions: lots sold one after another to persona bidders with budgets.
//!
//! Formats are sealed-bid first price, sealed-bid second price (Vickrey), an English
//! ascending clock and a Dutch descending clock. Each bidder draws a private value per
//! lot from the scenario's distributions (scaled by persona drivers, plus an optional
//! common-value component it only estimates) and holds a [`Wallet`] it can never
//! overspend. The model only chooses (bid, stay or accept, with a short reason); the
//! winner, the price and tie-breaks are computed by the [`rules`], and any invalid
//! decision falls back to not bidding, dropping out or waiting, with the reason
//! recorded.

mod dist;
mod mechanism;
mod policy;
mod prompt;
pub mod rules;
mod schema;
mod spec;
mod tables;
mod wallet;

#[cfg(test)]
mod tests;

pub use dist::ValueDist;
pub use mechanism::{Auction, ClosedLots, LotOutcome, Pending, REVEALED_BIDS, Tally};
pub use policy::{AuctionRules, BidFacts, first_price_bid, rule_backend};
pub use prompt::money;
pub use schema::answer_schema;
pub use spec::{AuctionSpec, Budget, CommonValue, Format, Lot};
pub use tables::{auction_bidders_table, auction_outcomes_table, bids_table};
pub use wallet::Wallet;

/// Task name of sealed-bid decisions in requests and `llm_calls`.
pub const TASK_BID: &str = "auction.bid";
/// Task name of English-clock decisions (stay or drop).
pub const TASK_STAY: &str = "auction.stay";
/// Task name of Dutch-clock decisions (accept or wait).
pub const TASK_ACCEPT: &str = "auction.accept";

/// The auction's entry in the mechanism registry.
pub struct AuctionDef;

impl agora_core::MechanismDef for AuctionDef {
    type Settings = AuctionSpec;
    type Mechanism = Auction;

    const KEYWORD: &'static str = "Auction";
    const NAME: &'static str = "auction";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "Lots sold one per round: sealed first or second price, English or Dutch clock.",
        about: "Two watches sold by sealed first-price bids to bidders with private values.",
        agents: 5,
        replicates: 10,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &AuctionSpec) -> u32 {
        settings.rounds()
    }

    fn drivers(settings: &AuctionSpec) -> Vec<String> {
        settings.driver_names().map(String::from).collect()
    }

    fn rule_backend(settings: &AuctionSpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn outcomes(_settings: &AuctionSpec) -> Vec<agora_core::outcome::OutcomeSource> {
        use agora_core::outcome::{Combine, OutcomeSource, OutcomeUnit};
        vec![
            // A run's revenue over all its lots; efficiency averaged over sold lots.
            OutcomeSource::number("auction_outcomes", "revenue", "revenue", OutcomeUnit::Run)
                .combined(Combine::Sum),
            OutcomeSource::number(
                "auction_outcomes",
                "efficiency",
                "efficiency",
                OutcomeUnit::Run,
            ),
            OutcomeSource::number("auction_bidders", "surplus", "surplus", OutcomeUnit::Agent)
                .combined(Combine::Sum),
        ]
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types
            .component::<Wallet>("auction.wallet")
            .component::<Tally>("auction.tally")
            .resource::<ClosedLots>("auction.closed_lots")
    }

    fn build(
        settings: &AuctionSpec,
        build: agora_core::Build<'_>,
    ) -> Result<Auction, agora_core::RunError> {
        Auction::build(settings, build)
    }
}

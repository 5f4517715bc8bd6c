//! Price research: the Van Westendorp price sensitivity meter and Gabor–Granger
//! demand curves.

mod gabor_granger;
mod van_westendorp;

pub use gabor_granger::{
    DemandPoint, GaborGranger, gabor_granger, next_price_index, wilson_interval,
};
pub use van_westendorp::{PriceCurvePoint, VanWestendorp, VanWestendorpResponse, van_westendorp};

//! placeholder

pub mod double;

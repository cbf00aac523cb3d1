//! placeholder

pub mod db;
pub mod double;

pub use db::TestDb;

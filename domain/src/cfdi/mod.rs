//! CFDI 4.0: the tax engine that turns invoice lines into SAT's amounts.
pub mod taxes;

//! `pakiti vercmp`: placeholder until the comparators land.

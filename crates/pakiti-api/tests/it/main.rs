//! Integration tests of `pakiti-api`: real host lists through every wire format, Pakiti's worked
//! examples, malformed input, listings and replies.

mod canonical;
mod examples;
mod hosts;
mod listing;
mod malformed;
mod quirks;
mod reply;
mod support;

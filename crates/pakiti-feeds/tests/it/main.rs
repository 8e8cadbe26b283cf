//! Integration tests of pakiti-feeds, one module per feed.

mod csaf;

//! Integration tests of pakiti-feeds (one binary, one module per topic).

mod oval;
mod oval_hosts;

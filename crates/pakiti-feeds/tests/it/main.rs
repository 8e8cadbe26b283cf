//! Integration tests of pakiti-feeds against real vendor files in `shared/data/`, one module
//! per feed.

mod alpine;
mod csaf;
mod debian_data;
mod debian_index;
mod debian_list;
mod debian_tracker;
mod feed_identity;
mod issue_12;
mod osv;
mod oval;
mod oval_hosts;
mod prioritisation;
mod repo;
mod repo_updates;

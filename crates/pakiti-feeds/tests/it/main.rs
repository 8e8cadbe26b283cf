//! Integration tests of pakiti-feeds against real vendor files in `shared/data/`.

mod alpine;
mod debian_data;
mod debian_index;
mod debian_list;
mod debian_tracker;
mod osv;

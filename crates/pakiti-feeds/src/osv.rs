//! Placeholder: filled by its parser work.

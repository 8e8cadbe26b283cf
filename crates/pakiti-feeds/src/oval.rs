//! OVAL definitions: the generic streaming reader and the vendor interpretations.

//! The generic streaming OVAL reader: one pass of quick-xml events into typed, compact records.
//!
//! The whole file is never held as a DOM. Definitions keep only what the advisory model needs
//! (metadata and the criteria tree); tests, objects and states keep their kind, references and
//! direct child fields; variables keep their constant values. Descriptions are skipped.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use rustc_hash::FxHashMap;

use crate::FeedError;

/// A logical operator of a `<criteria>` element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
    And,
    Or,
    /// `ONE` or `XOR`: read as OR (a superset), with a problem.
    OneOrXor,
}

/// A node of a definition's criteria tree.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Criteria {
        operator: Operator,
        negate: bool,
        children: Vec<Node>,
    },
    Criterion {
        test_ref: Box<str>,
        negate: bool,
        /// The `comment`, kept only for vendors whose comments carry meaning (Ubuntu writes
        /// the package's status there: "ignored", "end-of-life").
        comment: Option<Box<str>>,
    },
    Extend {
        definition_ref: Box<str>,
        negate: bool,
    },
}

/// A `<reference>` of a definition.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reference {
    pub(crate) source: String,
    pub(crate) ref_id: String,
    pub(crate) url: String,
}

/// A Red Hat `<resolution state="...">` with its `<component>`s.
#[derive(Clone, Debug, Default)]
pub(crate) struct Resolution {
    pub(crate) state: String,
    pub(crate) components: Vec<String>,
}

/// One `<definition>`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Definition {
    pub(crate) id: String,
    pub(crate) class: String,
    pub(crate) title: String,
    pub(crate) severity: Option<String>,
    pub(crate) cves: Vec<String>,
    pub(crate) references: Vec<Reference>,
    pub(crate) issued: Option<String>,
    pub(crate) updated: Option<String>,
    pub(crate) resolutions: Vec<Resolution>,
    pub(crate) criteria: Option<Node>,
}

/// A field (direct child element) of an object or a state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Field {
    pub(crate) name: Box<str>,
    pub(crate) value: Box<str>,
    pub(crate) operation: Option<Box<str>>,
    pub(crate) var_ref: Option<Box<str>>,
}

/// A test, object or state: its element kind (`rpminfo_test`) and what it holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Item {
    pub(crate) kind: Box<str>,
    /// Tests: `check`.
    pub(crate) check: Option<Box<str>>,
    /// Tests: `check_existence`.
    pub(crate) check_existence: Option<Box<str>>,
    /// Tests: the object reference.
    pub(crate) object_ref: Option<Box<str>>,
    /// Tests: the state references.
    pub(crate) state_refs: Vec<Box<str>>,
    /// Objects and states: the fields.
    pub(crate) fields: Vec<Field>,
}

impl Item {
    /// The first field called `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| &*f.name == name)
    }
}

/// A variable: constant values, or `None` for a computed (local/external) variable.
pub(crate) type Variable = Option<Vec<String>>;

/// A whole OVAL document, as far as pakiti needs it.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub(crate) definitions: Vec<Definition>,
    pub(crate) tests: FxHashMap<Box<str>, Item>,
    pub(crate) objects: FxHashMap<Box<str>, Item>,
    pub(crate) states: FxHashMap<Box<str>, Item>,
    pub(crate) variables: FxHashMap<Box<str>, Variable>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Definitions,
    Tests,
    Objects,
    States,
    Variables,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(std::borrow::Cow::into_owned))
}

fn is_true(v: Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "1"))
}

struct Builder {
    doc: Document,
    section: Section,
    /// Local names of the open elements.
    stack: Vec<Box<[u8]>>,
    text: String,
    def: Option<Definition>,
    criteria: Vec<Node>,
    item: Option<(Box<str>, Item)>,
    field: Option<Field>,
    variable: Option<(Box<str>, Variable)>,
    root_seen: bool,
    /// Whether criterion comments are kept (see [`Node::Criterion`]).
    keep_comments: bool,
}

/// Reads a whole document.
///
/// # Errors
/// Malformed XML, a read error, or a root element that is not `oval_definitions`.
pub(crate) fn read<R: BufRead>(input: R, expected: &'static str) -> Result<Document, FeedError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut b = Builder {
        doc: Document::default(),
        section: Section::None,
        stack: Vec::with_capacity(16),
        text: String::new(),
        def: None,
        criteria: Vec::new(),
        item: None,
        field: None,
        variable: None,
        root_seen: false,
        keep_comments: expected == "ubuntu-oval",
    };
    let mut buf = Vec::with_capacity(1 << 16);
    let xml_err = |reader: &Reader<R>, e: &dyn std::fmt::Display| FeedError::Xml {
        position: reader.error_position(),
        message: e.to_string(),
    };
    loop {
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(quick_xml::Error::Io(e)) => {
                return Err(FeedError::Io(std::io::Error::new(e.kind(), e.to_string())));
            }
            Err(e) => return Err(xml_err(&reader, &e)),
        };
        match ev {
            Event::Start(e) => {
                b.open(&e, expected)?;
                b.stack.push(e.local_name().as_ref().into());
                b.text.clear();
            }
            Event::Empty(e) => {
                b.open(&e, expected)?;
                let name: Box<[u8]> = e.local_name().as_ref().into();
                b.stack.push(name);
                b.text.clear();
                b.close();
                b.stack.pop();
            }
            Event::End(_) => {
                b.close();
                b.stack.pop();
                b.text.clear();
            }
            Event::Text(t) if b.wants_text() => {
                let s = t.decode().map_err(|e| xml_err(&reader, &e))?;
                b.text.push_str(&s);
            }
            Event::CData(t) if b.wants_text() => {
                let s = t.decode().map_err(|e| xml_err(&reader, &e))?;
                b.text.push_str(&s);
            }
            Event::GeneralRef(r) if b.wants_text() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    b.text.push(c);
                } else {
                    let name = r.decode().map_err(|e| xml_err(&reader, &e))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => b.text.push_str(s),
                        None => {
                            return Err(xml_err(&reader, &format!("unknown entity &{name};")));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !b.root_seen {
        return Err(FeedError::Format {
            expected,
            reason: "empty document".into(),
        });
    }
    Ok(b.doc)
}

impl Builder {
    fn wants_text(&self) -> bool {
        // Descriptions and notes are long and unused: skip their text.
        !matches!(
            self.stack.last().map(AsRef::as_ref),
            Some(b"description" | b"note" | b"rights")
        ) && self.stack.len() >= 3
    }

    fn parent(&self) -> &[u8] {
        self.stack.last().map_or(b"", AsRef::as_ref)
    }

    fn open(&mut self, e: &BytesStart<'_>, expected: &'static str) -> Result<(), FeedError> {
        let name = e.local_name();
        let name = name.as_ref();
        if !self.root_seen {
            if name != b"oval_definitions" {
                return Err(FeedError::Format {
                    expected,
                    reason: format!(
                        "root element is <{}>, not <oval_definitions>",
                        String::from_utf8_lossy(name)
                    ),
                });
            }
            self.root_seen = true;
            return Ok(());
        }
        if self.stack.len() == 1 {
            self.section = match name {
                b"definitions" => Section::Definitions,
                b"tests" => Section::Tests,
                b"objects" => Section::Objects,
                b"states" => Section::States,
                b"variables" => Section::Variables,
                _ => Section::None,
            };
            return Ok(());
        }
        match self.section {
            Section::Definitions => self.open_in_definition(name, e),
            Section::Tests | Section::Objects | Section::States => {
                if self.stack.len() == 2 {
                    let id = attr(e, b"id").unwrap_or_default();
                    let item = Item {
                        kind: String::from_utf8_lossy(name).into(),
                        check: attr(e, b"check").map(Into::into),
                        check_existence: attr(e, b"check_existence").map(Into::into),
                        ..Item::default()
                    };
                    self.item = Some((id.into(), item));
                } else if self.stack.len() == 3
                    && let Some((_, item)) = &mut self.item
                {
                    if self.section == Section::Tests {
                        match name {
                            b"object" => item.object_ref = attr(e, b"object_ref").map(Into::into),
                            b"state" => {
                                if let Some(s) = attr(e, b"state_ref") {
                                    item.state_refs.push(s.into());
                                }
                            }
                            _ => {}
                        }
                    } else {
                        self.field = Some(Field {
                            name: String::from_utf8_lossy(name).into(),
                            value: "".into(),
                            operation: attr(e, b"operation").map(Into::into),
                            var_ref: attr(e, b"var_ref").map(Into::into),
                        });
                    }
                }
            }
            Section::Variables => {
                if self.stack.len() == 2 {
                    let id = attr(e, b"id").unwrap_or_default();
                    let values = (name == b"constant_variable").then(Vec::new);
                    self.variable = Some((id.into(), values));
                }
            }
            Section::None => {}
        }
        Ok(())
    }

    fn open_in_definition(&mut self, name: &[u8], e: &BytesStart<'_>) {
        if self.stack.len() == 2 {
            if name == b"definition" {
                self.def = Some(Definition {
                    id: attr(e, b"id").unwrap_or_default(),
                    class: attr(e, b"class").unwrap_or_default(),
                    ..Definition::default()
                });
                self.criteria.clear();
            }
            return;
        }
        let Some(def) = &mut self.def else { return };
        match name {
            b"criteria" => self.criteria.push(Node::Criteria {
                operator: match attr(e, b"operator").as_deref() {
                    Some("OR") => Operator::Or,
                    Some("ONE" | "XOR") => Operator::OneOrXor,
                    _ => Operator::And,
                },
                negate: is_true(attr(e, b"negate")),
                children: Vec::new(),
            }),
            b"criterion" => {
                let node = Node::Criterion {
                    test_ref: attr(e, b"test_ref").unwrap_or_default().into(),
                    negate: is_true(attr(e, b"negate")),
                    comment: if self.keep_comments {
                        attr(e, b"comment").map(Into::into)
                    } else {
                        None
                    },
                };
                push_child(&mut self.criteria, node);
            }
            b"extend_definition" => {
                let node = Node::Extend {
                    definition_ref: attr(e, b"definition_ref").unwrap_or_default().into(),
                    negate: is_true(attr(e, b"negate")),
                };
                push_child(&mut self.criteria, node);
            }
            b"reference" => def.references.push(Reference {
                source: attr(e, b"source").unwrap_or_default(),
                ref_id: attr(e, b"ref_id").unwrap_or_default(),
                url: attr(e, b"ref_url").unwrap_or_default(),
            }),
            b"issued" => def.issued = attr(e, b"date"),
            b"updated" => def.updated = attr(e, b"date"),
            b"resolution" => def.resolutions.push(Resolution {
                state: attr(e, b"state").unwrap_or_default(),
                components: Vec::new(),
            }),
            _ => {}
        }
    }

    fn close(&mut self) {
        // Same convention as `open`: the number of ancestors of the closing element.
        let depth = self.stack.len().saturating_sub(1);
        match self.section {
            Section::Definitions => self.close_in_definition(depth),
            Section::Tests | Section::Objects | Section::States => {
                if depth == 3 {
                    if let (Some(f), Some((_, item))) = (self.field.take(), &mut self.item) {
                        item.fields.push(Field {
                            value: self.text.trim().into(),
                            ..f
                        });
                    }
                } else if depth == 2
                    && let Some((id, item)) = self.item.take()
                {
                    let map = match self.section {
                        Section::Tests => &mut self.doc.tests,
                        Section::Objects => &mut self.doc.objects,
                        _ => &mut self.doc.states,
                    };
                    map.insert(id, item);
                }
            }
            Section::Variables => {
                if depth == 3 && self.parent() == b"value" {
                    if let Some((_, Some(values))) = &mut self.variable {
                        values.push(self.text.trim().to_owned());
                    }
                } else if depth == 2
                    && let Some((id, v)) = self.variable.take()
                {
                    self.doc.variables.insert(id, v);
                }
            }
            Section::None => {}
        }
    }

    fn close_in_definition(&mut self, depth: usize) {
        if depth == 2 {
            if let Some(def) = self.def.take() {
                self.doc.definitions.push(def);
            }
            return;
        }
        let name: &[u8] = self.stack.last().map_or(b"", AsRef::as_ref);
        let Some(def) = &mut self.def else { return };
        let text = self.text.trim();
        match name {
            b"criteria" => {
                if let Some(node) = self.criteria.pop() {
                    if self.criteria.is_empty() {
                        def.criteria = Some(node);
                    } else {
                        push_child(&mut self.criteria, node);
                    }
                }
            }
            b"title" => def.title = text.to_owned(),
            b"severity" => def.severity = Some(text.to_owned()),
            b"cve" => def.cves.push(text.to_owned()),
            b"public_date" if def.issued.is_none() => {
                def.issued = Some(text.chars().take(10).collect());
            }
            b"component" => {
                if let Some(r) = def.resolutions.last_mut() {
                    r.components.push(text.to_owned());
                }
            }
            _ => {}
        }
    }
}

fn push_child(stack: &mut [Node], node: Node) {
    if let Some(Node::Criteria { children, .. }) = stack.last_mut() {
        children.push(node);
    }
}

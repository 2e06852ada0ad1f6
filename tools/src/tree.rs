//! `northstar dump --tree`: the B+tree structure of each tree, read page by page with the
//! low-level pager rather than through transactions.
//!
//! For every page: its id, kind, entry count and fill; for branches the separators
//! between children (child `i` holds the keys at or above separator `i`); for leaves their
//! first and last keys and overflow values. Per tree: root, depth, page counts.
//!
//! Invariants: the walk trusts nothing on disk. It follows at most [`TREE_DEPTH_MAX`]
//! levels and visits each page once, so a cycle in a damaged file ends the walk; a page
//! that does not read is shown with the reason and the walk goes on with its siblings.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use northstar::format::catalog::Descriptor;
use northstar::format::node::{CellValue, NodePage};
use northstar::format::overflow;
use northstar::format::page::PageRef;
use northstar::pager::View;
use northstar::{Error, PageId, PAGE_SIZE};
use serde_json::{json, Map, Value};

use crate::bytes;
use crate::entries::EntryFormat;
use crate::failure::{Failure, Outcome};
use crate::open;
use crate::progress::Progress;

use northstar::TREE_DEPTH_MAX;

/// One page of a tree as the walk found it.
enum Node {
    Branch {
        page: PageId,
        used_size: usize,
        children: Vec<(Vec<u8>, Node)>,
    },
    Leaf {
        page: PageId,
        used_size: usize,
        entries: usize,
        keys: Option<(Vec<u8>, Vec<u8>)>,
        overflow_values: u64,
        overflow_pages: u64,
    },
    Unreadable {
        page: PageId,
        reason: String,
    },
}

/// One whole tree: its name (as the validator names it) and root node.
struct Tree {
    name: String,
    root: Option<Node>,
}

/// Totals of one tree.
#[derive(Default)]
struct Shape {
    depth: usize,
    leaf_pages: u64,
    branch_pages: u64,
    overflow_pages: u64,
    entries: u64,
    unreadable_pages: u64,
}

/// Runs `northstar dump --tree` on the database in `path`: every tree when `keyspace` is
/// `None`, else only that named keyspace.
///
/// Errors: [`Failure::cannot_open`] as for every command; [`Failure::new`] when the
/// named keyspace does not exist or the catalog cannot be read to find it.
pub fn run(path: &Path, keyspace: Option<&str>, format: EntryFormat) -> Outcome {
    let opened = open::pages(path)?;
    let view = opened.pager.view();
    let meta = opened.meta;
    let spinner = Progress::spinner(format!("walking the trees of {}", view.path().display()));
    let mut walk = Walk {
        view: &view,
        visited: HashSet::new(),
    };
    let mut trees = Vec::new();
    let named = keyspace_roots(&view, meta.catalog_root)
        .map_err(|reason| Failure::new(format!("cannot list the keyspaces: {reason}")));
    match keyspace {
        None => {
            trees.push(walk.tree("", meta.default_root));
            trees.push(walk.tree("(catalog)", meta.catalog_root));
            // A damaged catalog is shown in its own tree; the named trees are then unknown.
            for (name, root) in named.unwrap_or_default() {
                trees.push(walk.tree(&name, root));
            }
        }
        Some(wanted) => match named?.into_iter().find(|(name, _)| name == wanted) {
            Some((name, root)) => trees.push(walk.tree(&name, root)),
            None => return Err(Error::KeyspaceNotFound(wanted.to_string()).into()),
        },
    }
    spinner.finish();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if format.json {
        let trees: Vec<Value> = trees.iter().map(|tree| tree_json(tree, format)).collect();
        let object = json!({
            "page_file": view.path(),
            "txn_id": meta.txn_id,
            "page_size": PAGE_SIZE,
            "page_count": meta.page_count,
            "trees": trees,
        });
        writeln!(out, "{object:#}")?;
    } else {
        writeln!(
            out,
            "{}: txn {}, {} pages",
            view.path().display(),
            meta.txn_id,
            meta.page_count
        )?;
        for tree in &trees {
            write_tree_text(tree, format, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

struct Walk<'v> {
    view: &'v View,
    visited: HashSet<PageId>,
}

impl Walk<'_> {
    fn tree(&mut self, name: &str, root: PageRef) -> Tree {
        let root = (!root.is_none()).then(|| self.node(root, 1));
        Tree {
            name: name.to_string(),
            root,
        }
    }

    fn node(&mut self, page_ref: PageRef, depth: usize) -> Node {
        let page = page_ref.id;
        if depth > TREE_DEPTH_MAX {
            return Node::Unreadable {
                page,
                reason: format!("tree deeper than {TREE_DEPTH_MAX} levels: a cycle"),
            };
        }
        if !self.visited.insert(page) {
            return Node::Unreadable {
                page,
                reason: "page reached a second time: a cycle or a page shared by two trees".into(),
            };
        }
        let node = match self.view.node(page_ref) {
            Ok(node) => node,
            Err(error) => {
                return Node::Unreadable {
                    page,
                    reason: error_detail(error),
                }
            }
        };
        if node.is_leaf() {
            return leaf(page, node);
        }
        let children = (0..node.count())
            .map(|index| {
                (
                    node.key(index).to_vec(),
                    self.node(node.child(index), depth + 1),
                )
            })
            .collect();
        Node::Branch {
            page,
            used_size: node.used_size(),
            children,
        }
    }
}

fn leaf(page: PageId, node: NodePage<'_>) -> Node {
    let entries = node.count();
    let keys = (entries > 0).then(|| (node.key(0).to_vec(), node.key(entries - 1).to_vec()));
    let (mut overflow_values, mut overflow_pages) = (0, 0);
    for index in 0..entries {
        if let CellValue::Overflow { len, .. } = node.value(index) {
            overflow_values += 1;
            overflow_pages += overflow::page_count_for(len as usize);
        }
    }
    Node::Leaf {
        page,
        used_size: node.used_size(),
        entries,
        keys,
        overflow_values,
        overflow_pages,
    }
}

/// What is wrong, without the file name the library's message starts with.
fn error_detail(error: Error) -> String {
    match error {
        Error::Corrupt { detail, .. } => detail,
        other => other.to_string(),
    }
}

/// Names and roots of the named keyspaces, read from the catalog's leaves.
fn keyspace_roots(view: &View, catalog_root: PageRef) -> Result<Vec<(String, PageRef)>, String> {
    let mut found = Vec::new();
    if catalog_root.is_none() {
        return Ok(found);
    }
    let mut pending = vec![(catalog_root, 1)];
    let mut visited = HashSet::new();
    while let Some((page_ref, depth)) = pending.pop() {
        let page = page_ref.id;
        if depth > TREE_DEPTH_MAX || !visited.insert(page) {
            return Err(format!("catalog page {page} is part of a cycle"));
        }
        let node = view.node(page_ref).map_err(|error| error.to_string())?;
        if !node.is_leaf() {
            pending.extend(
                (0..node.count())
                    .rev()
                    .map(|index| (node.child(index), depth + 1)),
            );
            continue;
        }
        for index in 0..node.count() {
            let name = String::from_utf8_lossy(node.key(index)).into_owned();
            let descriptor = match node.value(index) {
                CellValue::Inline(bytes) => Descriptor::decode(bytes),
                CellValue::Overflow { .. } => None,
            };
            let descriptor = descriptor.ok_or_else(|| {
                format!("catalog page {page}: entry {name:?} is not a keyspace descriptor")
            })?;
            found.push((name, descriptor.root));
        }
    }
    Ok(found)
}

fn shape(node: &Node, depth: usize, shape: &mut Shape) {
    shape.depth = shape.depth.max(depth);
    match node {
        Node::Branch { children, .. } => {
            shape.branch_pages += 1;
            for (_, child) in children {
                self::shape(child, depth + 1, shape);
            }
        }
        Node::Leaf {
            entries,
            overflow_pages,
            ..
        } => {
            shape.leaf_pages += 1;
            shape.entries += *entries as u64;
            shape.overflow_pages += overflow_pages;
        }
        Node::Unreadable { .. } => shape.unreadable_pages += 1,
    }
}

fn tree_shape(tree: &Tree) -> Shape {
    let mut totals = Shape::default();
    if let Some(root) = &tree.root {
        shape(root, 1, &mut totals);
    }
    totals
}

fn tree_label(name: &str) -> String {
    match name {
        "" => "default keyspace".to_string(),
        "(catalog)" => "catalog".to_string(),
        name => format!(
            "keyspace {}",
            bytes::show(name.as_bytes(), bytes::Encoding::Text, Some(64))
        ),
    }
}

/// `1 entry`, `2 entries`.
fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn fill_percent(used_size: usize) -> f64 {
    used_size as f64 * 100.0 / PAGE_SIZE as f64
}

fn write_tree_text(tree: &Tree, format: EntryFormat, out: &mut impl Write) -> std::io::Result<()> {
    let label = tree_label(&tree.name);
    let Some(root) = &tree.root else {
        return writeln!(out, "{label}: empty (root page 0)");
    };
    let totals = tree_shape(tree);
    let root_page = match root {
        Node::Branch { page, .. } | Node::Leaf { page, .. } | Node::Unreadable { page, .. } => page,
    };
    write!(
        out,
        "{label}: root page {root_page}, depth {}, {} in {} and {}, {}",
        totals.depth,
        counted(totals.entries, "entry", "entries"),
        counted(totals.leaf_pages, "leaf page", "leaf pages"),
        counted(totals.branch_pages, "branch page", "branch pages"),
        counted(totals.overflow_pages, "overflow page", "overflow pages"),
    )?;
    match totals.unreadable_pages {
        0 => writeln!(out)?,
        count => writeln!(out, ", {count} unreadable")?,
    }
    write_node_text(root, 1, format, out)
}

fn write_node_text(
    node: &Node,
    level: usize,
    format: EntryFormat,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let indent = "  ".repeat(level);
    let show = |key: &[u8]| bytes::show(key, format.encoding, format.width);
    match node {
        Node::Branch {
            page,
            used_size,
            children,
        } => {
            let children_count = counted(children.len() as u64, "child", "children");
            writeln!(
                out,
                "{indent}branch {page}: {children_count}, {:.1}% full",
                fill_percent(*used_size)
            )?;
            for (index, (separator, child)) in children.iter().enumerate() {
                if index > 0 {
                    writeln!(out, "{indent}  separator {}", show(separator))?;
                }
                write_node_text(child, level + 1, format, out)?;
            }
            Ok(())
        }
        Node::Leaf {
            page,
            used_size,
            entries,
            keys,
            overflow_values,
            overflow_pages,
        } => {
            let entries = counted(*entries as u64, "entry", "entries");
            write!(
                out,
                "{indent}leaf {page}: {entries}, {:.1}% full",
                fill_percent(*used_size)
            )?;
            if let Some((first, last)) = keys {
                write!(out, ", keys {} .. {}", show(first), show(last))?;
            }
            match overflow_values {
                0 => writeln!(out),
                count => writeln!(
                    out,
                    ", {} in {overflow_pages} pages",
                    counted(*count, "overflow value", "overflow values")
                ),
            }
        }
        Node::Unreadable { page, reason } => {
            writeln!(out, "{indent}page {page}: unreadable: {reason}")
        }
    }
}

fn tree_json(tree: &Tree, format: EntryFormat) -> Value {
    let totals = tree_shape(tree);
    json!({
        "name": tree.name,
        "depth": totals.depth,
        "entries": totals.entries,
        "leaf_pages": totals.leaf_pages,
        "branch_pages": totals.branch_pages,
        "overflow_pages": totals.overflow_pages,
        "unreadable_pages": totals.unreadable_pages,
        "root": tree.root.as_ref().map(|root| node_json(root, format)),
    })
}

fn node_json(node: &Node, format: EntryFormat) -> Value {
    let mut object = Map::new();
    match node {
        Node::Branch {
            page,
            used_size,
            children,
        } => {
            object.insert("page".into(), json!(page));
            object.insert("kind".into(), json!("branch"));
            object.insert("used_bytes".into(), json!(used_size));
            let children: Vec<Value> = children
                .iter()
                .enumerate()
                .map(|(index, (separator, child))| {
                    let mut entry = Map::new();
                    if index > 0 {
                        bytes::insert_json(&mut entry, "separator", separator, format.encoding);
                    }
                    entry.insert("node".into(), node_json(child, format));
                    Value::Object(entry)
                })
                .collect();
            object.insert("children".into(), Value::Array(children));
        }
        Node::Leaf {
            page,
            used_size,
            entries,
            keys,
            overflow_values,
            overflow_pages,
        } => {
            object.insert("page".into(), json!(page));
            object.insert("kind".into(), json!("leaf"));
            object.insert("used_bytes".into(), json!(used_size));
            object.insert("entries".into(), json!(entries));
            if let Some((first, last)) = keys {
                bytes::insert_json(&mut object, "first_key", first, format.encoding);
                bytes::insert_json(&mut object, "last_key", last, format.encoding);
            }
            object.insert("overflow_values".into(), json!(overflow_values));
            object.insert("overflow_pages".into(), json!(overflow_pages));
        }
        Node::Unreadable { page, reason } => {
            object.insert("page".into(), json!(page));
            object.insert("kind".into(), json!("unreadable"));
            object.insert("error".into(), json!(reason));
        }
    }
    Value::Object(object)
}

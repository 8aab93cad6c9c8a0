//! `snapshot.meta`: the layout of the `nodes` and `edges` arrays (how many numbers a row has,
//! and which one is which), the type names, and the declared counts; and the decoding of the
//! rows by that layout.

use serde_json::Value;

use crate::analyze::graph::{EdgeRow, Header, NodeRow};

/// The most fields a node or an edge may have (V8 writes 6 or 7, and 3).
const MAX_FIELDS: usize = 16;

/// Where each field stands in a row of `nodes` and of `edges`.
#[derive(Clone, Debug)]
pub struct Meta {
    pub node_stride: usize,
    pub f_type: usize,
    pub f_name: usize,
    pub f_id: usize,
    pub f_self_size: usize,
    pub f_edge_count: usize,
    /// `detachedness` (0 unknown, 1 attached, 2 detached), when the snapshot has it.
    pub f_detachedness: Option<usize>,
    pub edge_stride: usize,
    pub e_type: usize,
    pub e_name: usize,
    pub e_to: usize,
    /// `meta.location_fields`: the row length and where `object_index`, `script_id`, `line`
    /// and `column` stand (absent when the snapshot has no locations).
    pub location: Option<LocationFields>,
}

#[derive(Clone, Copy, Debug)]
pub struct LocationFields {
    pub stride: usize,
    pub object_index: usize,
    pub script_id: usize,
    pub line: usize,
    pub column: usize,
}

fn field_index(fields: &[String], name: &str, what: &str) -> Result<usize, String> {
    fields
        .iter()
        .position(|f| f == name)
        .ok_or_else(|| format!("snapshot.meta.{what} has no \"{name}\""))
}

fn strings_of(v: &Value, what: &str) -> Result<Vec<String>, String> {
    v.as_array()
        .ok_or_else(|| format!("snapshot.meta.{what} is not an array"))?
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("snapshot.meta.{what} holds a non-string"))
        })
        .collect()
}

impl Meta {
    /// Reads the parsed `snapshot` object: the row layout, and the header the graph is built
    /// from.
    pub fn from_json(snapshot: &Value) -> Result<(Meta, Header), String> {
        let meta = snapshot.get("meta").ok_or("\"snapshot\" has no \"meta\"")?;
        let node_fields = strings_of(
            meta.get("node_fields").unwrap_or(&Value::Null),
            "node_fields",
        )?;
        let edge_fields = strings_of(
            meta.get("edge_fields").unwrap_or(&Value::Null),
            "edge_fields",
        )?;
        let first = |key: &str| -> Result<Vec<String>, String> {
            let v = meta
                .get(key)
                .and_then(|v| v.get(0))
                .ok_or_else(|| format!("snapshot.meta.{key} has no type list"))?;
            strings_of(v, key)
        };
        let count = |key: &str| snapshot.get(key).and_then(Value::as_u64).unwrap_or(0);
        // A sane bound on a row's width, checked once here.
        for (what, fields) in [("node_fields", &node_fields), ("edge_fields", &edge_fields)] {
            if fields.len() > MAX_FIELDS {
                return Err(format!("unsupported {what} length {}", fields.len()));
            }
        }
        // Locations are read only when all four fields are there (they only name classes).
        let location = match meta.get("location_fields") {
            Some(v) => {
                let f = strings_of(v, "location_fields")?;
                let at = |name: &str| f.iter().position(|x| x == name);
                match (
                    at("object_index"),
                    at("script_id"),
                    at("line"),
                    at("column"),
                ) {
                    (Some(object_index), Some(script_id), Some(line), Some(column))
                        if f.len() <= MAX_FIELDS =>
                    {
                        Some(LocationFields {
                            stride: f.len(),
                            object_index,
                            script_id,
                            line,
                            column,
                        })
                    }
                    _ => None,
                }
            }
            None => None,
        };
        let layout = Meta {
            node_stride: node_fields.len(),
            f_type: field_index(&node_fields, "type", "node_fields")?,
            f_name: field_index(&node_fields, "name", "node_fields")?,
            f_id: field_index(&node_fields, "id", "node_fields")?,
            f_self_size: field_index(&node_fields, "self_size", "node_fields")?,
            f_edge_count: field_index(&node_fields, "edge_count", "node_fields")?,
            f_detachedness: node_fields.iter().position(|f| f == "detachedness"),
            edge_stride: edge_fields.len(),
            e_type: field_index(&edge_fields, "type", "edge_fields")?,
            e_name: field_index(&edge_fields, "name_or_index", "edge_fields")?,
            e_to: field_index(&edge_fields, "to_node", "edge_fields")?,
            location,
        };
        let header = Header {
            node_types: first("node_types")?,
            edge_types: first("edge_types")?,
            node_count: count("node_count"),
            edge_count: count("edge_count"),
            extra_native_bytes: count("extra_native_bytes"),
            has_detachedness: layout.f_detachedness.is_some(),
        };
        Ok((layout, header))
    }

    /// A complete row of `nodes` as a node.
    #[inline]
    pub fn node(&self, r: &[u64]) -> NodeRow {
        NodeRow {
            ty: r[self.f_type],
            name: r[self.f_name],
            id: r[self.f_id],
            self_size: r[self.f_self_size],
            edge_count: r[self.f_edge_count],
            detachedness: self
                .f_detachedness
                .map_or(0, |f| r[f].min(u8::MAX as u64) as u8),
        }
    }

    /// The fewest bytes of plain JSON that hold `header`'s counts of nodes and edges: every
    /// number takes a digit and a separator at least.
    pub fn least_bytes(&self, header: &Header) -> u64 {
        let least = |count: u64, stride: usize| count.saturating_mul(2 * stride as u64);
        least(header.node_count, self.node_stride)
            .saturating_add(least(header.edge_count, self.edge_stride))
    }

    /// A complete row of `edges` as an edge.
    #[inline]
    pub fn edge(&self, r: &[u64]) -> EdgeRow {
        let to = r[self.e_to];
        // Division by a constant is a multiplication; the two strides V8 writes get their own.
        let (ordinal, rest) = match self.node_stride {
            6 => (to / 6, to % 6),
            7 => (to / 7, to % 7),
            s => (to / s as u64, to % s as u64),
        };
        EdgeRow {
            ty: r[self.e_type],
            name_or_index: r[self.e_name],
            to_node: to,
            target: (rest == 0).then_some(ordinal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Meta;

    #[test]
    fn least_bytes_bounds_what_a_file_can_hold() {
        let snapshot = |nodes: u64, edges: u64| {
            serde_json::json!({
                "meta": {
                    "node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id"],
                    "node_types": [["hidden", "object"], "string", "number", "number", "number", "number"],
                    "edge_fields": ["type", "name_or_index", "to_node"],
                    "edge_types": [["element", "property"], "string_or_number", "node"],
                },
                "node_count": nodes,
                "edge_count": edges,
            })
        };
        let (meta, header) = Meta::from_json(&snapshot(10, 20)).unwrap();
        // "0,0,0,0,0,0," for each node, "0,0,0," for each edge.
        assert_eq!(meta.least_bytes(&header), 10 * 12 + 20 * 6);
        // A header claiming 10^12 nodes in a small file is not believed (and does not overflow).
        let (meta, header) = Meta::from_json(&snapshot(1_000_000_000_000, u64::MAX)).unwrap();
        assert_eq!(meta.least_bytes(&header), u64::MAX);
    }
}

//! Compiles the project's `.proto` files with protox (no `protoc`), generates the prost types,
//! and generates, from the same descriptors, two things prost does not give us:
//!
//! * `mesos_json.rs`: an implementation of `crate::json::MesosJson` for every message, following
//!   the JSON mapping Mesos implements (field declaration order, enum names, base64 bytes,
//!   explicit defaults written out, unknown keys ignored, required fields reported by path);
//! * `wire_schema.rs`: a table of every message's fields (number, required, sub-message) used to
//!   check required fields on protobuf input, which prost does not do for proto2;
//! * `json_stream.rs`: for every message, the key matching and per-field readers of the streaming
//!   JSON reader (`crate::json::stream`), the fast path of `MesosJson::from_json_slice`;
//! * `wire_fast.rs`: for every message, a protobuf decoder that checks required fields as it
//!   goes (`crate::wire::fast`), the fast path of `decode_checked`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

fn main() {
    let protos = [
        "proto/mesos/v1/mesos.proto",
        "proto/mesos/v1/scheduler/scheduler.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");
    let fds = match protox::compile(protos, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("{e:?}");
            panic!("the .proto files do not compile: {e}");
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let model = Model::new(&fds);
    let mut config = prost_build::Config::new();
    config.btree_map(["."]);
    let mut boxed: Vec<&String> = model.boxed.iter().collect();
    boxed.sort();
    for path in boxed {
        config.boxed(path);
    }
    config
        .compile_fds(fds.clone())
        .expect("prost code generation");

    std::fs::write(out.join("mesos_json.rs"), model.json_impls()).expect("write mesos_json.rs");
    std::fs::write(out.join("wire_schema.rs"), model.wire_schema()).expect("write wire_schema.rs");
    std::fs::write(out.join("json_stream.rs"), model.json_stream_impls())
        .expect("write json_stream.rs");
    std::fs::write(out.join("wire_fast.rs"), model.wire_fast_impls()).expect("write wire_fast.rs");
}

/// Same identifier rules as prost-build's `ident` module.
fn sanitize(ident: String) -> String {
    match ident.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        s if s.starts_with(|c: char| c.is_numeric()) => format!("_{ident}"),
        _ => ident,
    }
}

fn to_snake(s: &str) -> String {
    sanitize(s.to_snake_case())
}

fn to_upper_camel(s: &str) -> String {
    sanitize(s.to_upper_camel_case())
}

/// One message, flattened out of the descriptor tree.
struct Msg<'a> {
    fq: String,
    rust: String,
    /// Rust module holding this message's nested types (oneof enums live there).
    module: String,
    desc: &'a DescriptorProto,
    map_entry: bool,
}

struct Model<'a> {
    msgs: Vec<Msg<'a>>,
    by_fq: HashMap<String, usize>,
    /// Enum full name -> Rust path.
    enums: HashMap<String, String>,
    /// Optional message fields stored as `Option<Box<T>>` (`.pkg.Message.field`): those whose
    /// type is large inline. prost lays sub-messages out inline, so without this a `Resource`
    /// is over a kilobyte and a `TaskInfo` several, mostly unset fields, copied on every move
    /// and held by every offer, task and update.
    boxed: HashSet<String>,
}

/// Inline size above which an optional sub-message field is boxed.
const BOX_ABOVE_BYTES: usize = 96;

fn package_module(package: &str) -> String {
    // `mesos.v1` lives in `crate::v1`, `mesos.v1.scheduler` in `crate::v1::scheduler`.
    let rest = package.strip_prefix("mesos").unwrap_or(package);
    let mut m = String::from("crate");
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        m.push_str("::");
        m.push_str(&to_snake(part));
    }
    m
}

impl<'a> Model<'a> {
    fn new(fds: &'a FileDescriptorSet) -> Self {
        let mut model = Model {
            msgs: Vec::new(),
            by_fq: HashMap::new(),
            enums: HashMap::new(),
            boxed: HashSet::new(),
        };
        for file in &fds.file {
            let package = file.package();
            if !package.starts_with("mesos") {
                continue;
            }
            let module = package_module(package);
            let fq = format!(".{package}");
            for e in &file.enum_type {
                model.enums.insert(
                    format!("{fq}.{}", e.name()),
                    format!("{module}::{}", to_upper_camel(e.name())),
                );
            }
            for m in &file.message_type {
                model.add(m, &fq, &module);
            }
        }
        let mut sizes = HashMap::new();
        for i in 0..model.msgs.len() {
            let fq = model.msgs[i].fq.clone();
            model.inline_size(&fq, &mut sizes);
        }
        model
    }

    /// A rough inline size of message `fq` in bytes (as prost lays it out), deciding along the
    /// way which of its optional message fields to box.
    fn inline_size(&mut self, fq: &str, sizes: &mut HashMap<String, Option<usize>>) -> usize {
        match sizes.get(fq) {
            Some(Some(n)) => return *n,
            // Recursive: prost boxes such fields itself.
            Some(None) => return 8,
            None => {}
        }
        sizes.insert(fq.to_string(), None);
        let desc = self.msg(fq).desc;
        let mut total = 0;
        let mut oneofs: HashMap<i32, usize> = HashMap::new();
        for f in &desc.field {
            let is_msg = matches!(f.r#type(), Type::Message | Type::Group);
            let size = if f.label() == Label::Repeated {
                24
            } else if is_msg {
                let inner = self.inline_size(f.type_name(), sizes);
                let oneof = f.oneof_index.is_some() && !f.proto3_optional();
                if f.label() == Label::Optional && !oneof && inner > BOX_ABOVE_BYTES {
                    self.boxed.insert(format!("{fq}.{}", f.name()));
                    8
                } else {
                    inner + 8
                }
            } else {
                match (f.r#type(), f.label()) {
                    (Type::String | Type::Bytes, _) => 24,
                    (
                        Type::Double | Type::Int64 | Type::Uint64 | Type::Fixed64,
                        Label::Optional,
                    )
                    | (Type::Sint64 | Type::Sfixed64, Label::Optional) => 16,
                    (_, Label::Optional) => 8,
                    _ => 8,
                }
            };
            match f.oneof_index.filter(|_| !f.proto3_optional()) {
                Some(i) => {
                    let e = oneofs.entry(i).or_insert(8);
                    *e = (*e).max(size + 8);
                }
                None => total += size,
            }
        }
        total += oneofs.values().sum::<usize>();
        let total = total.max(1);
        sizes.insert(fq.to_string(), Some(total));
        total
    }

    /// Whether field `f` of message `m` is an `Option<Box<T>>`.
    fn is_boxed(&self, m: &Msg, f: &FieldDescriptorProto) -> bool {
        self.boxed.contains(&format!("{}.{}", m.fq, f.name()))
    }

    fn add(&mut self, desc: &'a DescriptorProto, parent_fq: &str, parent_module: &str) {
        let fq = format!("{parent_fq}.{}", desc.name());
        let rust = format!("{parent_module}::{}", to_upper_camel(desc.name()));
        let module = format!("{parent_module}::{}", to_snake(desc.name()));
        let map_entry = desc.options.as_ref().is_some_and(|o| o.map_entry());
        self.by_fq.insert(fq.clone(), self.msgs.len());
        self.msgs.push(Msg {
            fq: fq.clone(),
            rust,
            module: module.clone(),
            desc,
            map_entry,
        });
        for e in &desc.enum_type {
            self.enums.insert(
                format!("{fq}.{}", e.name()),
                format!("{module}::{}", to_upper_camel(e.name())),
            );
        }
        for nested in &desc.nested_type {
            self.add(nested, &fq, &module);
        }
    }

    fn msg(&self, fq: &str) -> &Msg<'a> {
        &self.msgs[*self
            .by_fq
            .get(fq)
            .unwrap_or_else(|| panic!("unknown message {fq}"))]
    }

    fn enum_path(&self, fq: &str) -> &str {
        self.enums
            .get(fq)
            .unwrap_or_else(|| panic!("unknown enum {fq}"))
    }

    fn map_entry_of(&self, f: &FieldDescriptorProto) -> Option<&Msg<'a>> {
        if f.r#type() == Type::Message && f.label() == Label::Repeated {
            let m = self.msg(f.type_name());
            if m.map_entry {
                return Some(m);
            }
        }
        None
    }

    fn wire_schema(&self) -> String {
        let mut s = String::new();
        s.push_str("/// Every message's fields, for the required-field check on protobuf input.\n");
        s.push_str("pub(crate) static MESSAGES: &[MessageSchema] = &[\n");
        for m in &self.msgs {
            let _ = writeln!(s, "    MessageSchema {{ name: {:?}, fields: &[", m.fq);
            for f in &m.desc.field {
                let sub = if f.r#type() == Type::Message || f.r#type() == Type::Group {
                    format!("Some({})", self.by_fq[f.type_name()])
                } else {
                    "None".to_string()
                };
                let _ = writeln!(
                    s,
                    "        FieldSchema {{ number: {}, name: {:?}, required: {}, repeated: {}, message: {sub} }},",
                    f.number(),
                    f.name(),
                    f.label() == Label::Required,
                    f.label() == Label::Repeated
                );
            }
            s.push_str("    ] },\n");
        }
        s.push_str("];\n\n");
        for (i, m) in self.msgs.iter().enumerate() {
            if m.map_entry {
                continue;
            }
            let _ = writeln!(
                s,
                "impl WireSchema for {} {{\n    const SCHEMA: usize = {i};\n    fn decode_complete(bytes: &[u8]) -> Option<Self> {{ fast::decode(bytes) }}\n}}",
                m.rust
            );
        }
        s
    }

    fn json_impls(&self) -> String {
        let mut s = String::new();
        let mut enums: Vec<&String> = self.enums.values().collect();
        enums.sort();
        for e in enums {
            let _ = writeln!(
                s,
                "impl ProtoEnum for {e} {{\n    fn from_name(name: &str) -> Option<i32> {{ Self::from_str_name(name).map(|v| v as i32) }}\n    fn name_of(value: i32) -> Option<&'static str> {{ Self::try_from(value).ok().map(|v| v.as_str_name()) }}\n}}\n"
            );
        }
        for m in &self.msgs {
            if m.map_entry {
                continue;
            }
            let _ = writeln!(s, "impl MesosJson for {} {{", m.rust);
            s.push_str("    fn write_json(&self, w: &mut Writer) {\n        w.begin_object();\n");
            for f in &m.desc.field {
                s.push_str(&self.write_field(m, f));
            }
            s.push_str("        w.end_object();\n    }\n\n");
            s.push_str(
                "    fn from_json_slice(bytes: &[u8]) -> Result<Self, JsonError> {\n        stream::from_slice(bytes)\n    }\n\n",
            );
            s.push_str(
                "    #[allow(unused_variables)]\n    fn read_json(v: &Value, cx: &mut ReadCx) -> Result<Self, JsonError> {\n",
            );
            s.push_str("        let obj = cx.object(v)?;\n        let mut m = Self::default();\n");
            // Missing required fields are reported as protobuf's `FindInitializationErrors`
            // does: this message's own, in declaration order, then those inside the
            // sub-messages that are set, in field-number order (hence the reading order).
            for f in m.desc.field.iter().filter(|f| f.label() == Label::Required) {
                let _ = writeln!(
                    s,
                    "        if cx.field(obj, {:?}).is_none() {{ cx.missing({:?}); }}",
                    f.name(),
                    f.name()
                );
            }
            let mut by_number: Vec<&FieldDescriptorProto> = m.desc.field.iter().collect();
            by_number.sort_by_key(|f| f.number());
            for f in by_number {
                s.push_str(&self.read_field(m, f));
            }
            s.push_str("        Ok(m)\n    }\n}\n\n");
        }
        s
    }

    /// Expression writing the value `v` (a reference) of a singular (non-repeated) field.
    fn write_value(&self, f: &FieldDescriptorProto, v: &str) -> String {
        match f.r#type() {
            Type::Double => format!("w.double(*{v})"),
            Type::Float => format!("w.double(f64::from(*{v}))"),
            Type::Int32
            | Type::Sint32
            | Type::Sfixed32
            | Type::Int64
            | Type::Sint64
            | Type::Sfixed64 => {
                format!("w.int(i64::from(*{v}))")
            }
            Type::Uint32 | Type::Fixed32 | Type::Uint64 | Type::Fixed64 => {
                format!("w.uint(u64::from(*{v}))")
            }
            Type::Bool => format!("w.bool(*{v})"),
            Type::String => format!("w.string({v})"),
            Type::Bytes => format!("w.bytes({v})"),
            Type::Message | Type::Group => format!("MesosJson::write_json({v}, w)"),
            Type::Enum => unreachable!("enums are written by write_field"),
        }
    }

    /// Code for one field of `write_json`, in declaration order.
    fn write_field(&self, m: &Msg, f: &FieldDescriptorProto) -> String {
        let name = f.name();
        let field = to_snake(name);
        let deprecated = f.options.as_ref().is_some_and(|o| o.deprecated());
        let mut s = String::new();
        if let Some(idx) = f.oneof_index.filter(|_| !f.proto3_optional()) {
            let oneof = &m.desc.oneof_decl[usize::try_from(idx).expect("small index")];
            let en = format!("{}::{}", m.module, to_upper_camel(oneof.name()));
            let variant = to_upper_camel(name);
            let _ = writeln!(
                s,
                "        if let Some({en}::{variant}(v)) = &self.{} {{",
                to_snake(oneof.name())
            );
            if f.r#type() == Type::Enum {
                let ep = self.enum_path(f.type_name());
                let _ = writeln!(s, "            if let Some(n) = enum_name::<{ep}>(*v) {{ w.field({name:?}); w.string(n); }}");
            } else {
                let _ = writeln!(
                    s,
                    "            w.field({name:?}); {};",
                    self.write_value(f, "v")
                );
            }
            s.push_str("        }\n");
            return s;
        }
        if let Some(entry) = self.map_entry_of(f) {
            let key_f = &entry.desc.field[0];
            let val_f = &entry.desc.field[1];
            let _ = writeln!(s, "        if !self.{field}.is_empty() {{");
            let _ = writeln!(s, "            w.field({name:?}); w.begin_object();");
            s.push_str("            for (k, v) in &self.");
            s.push_str(&field);
            s.push_str(" {\n");
            let key_expr = match key_f.r#type() {
                Type::String => "w.key(k)".to_string(),
                _ => "w.key(&k.to_string())".to_string(),
            };
            let _ = writeln!(s, "                {key_expr};");
            if val_f.r#type() == Type::Enum {
                let ep = self.enum_path(val_f.type_name());
                let _ = writeln!(s, "                match enum_name::<{ep}>(*v) {{ Some(n) => w.string(n), None => w.null() }}");
            } else {
                let _ = writeln!(s, "                {};", self.write_value(val_f, "v"));
            }
            s.push_str("            }\n            w.end_object();\n        }\n");
            return s;
        }
        match f.label() {
            Label::Repeated => {
                let _ = writeln!(s, "        if !self.{field}.is_empty() {{");
                let _ = writeln!(s, "            w.field({name:?}); w.begin_array();");
                let _ = writeln!(s, "            for v in &self.{field} {{");
                if f.r#type() == Type::Enum {
                    let ep = self.enum_path(f.type_name());
                    let _ = writeln!(s, "                if let Some(n) = enum_name::<{ep}>(*v) {{ w.element(); w.string(n); }}");
                } else {
                    let _ = writeln!(
                        s,
                        "                w.element(); {};",
                        self.write_value(f, "v")
                    );
                }
                s.push_str("            }\n            w.end_array();\n        }\n");
            }
            Label::Required => {
                if f.r#type() == Type::Enum {
                    let ep = self.enum_path(f.type_name());
                    let _ = writeln!(s, "        if let Some(n) = enum_name::<{ep}>(self.{field}) {{ w.field({name:?}); w.string(n); }}");
                } else {
                    let _ = writeln!(
                        s,
                        "        w.field({name:?}); {};",
                        self.write_value(f, &format!("&self.{field}"))
                    );
                }
            }
            Label::Optional => {
                let default = f.default_value.as_ref().filter(|_| !deprecated);
                if self.is_boxed(m, f) {
                    let _ = writeln!(s, "        if let Some(v) = self.{field}.as_deref() {{");
                } else {
                    let _ = writeln!(s, "        if let Some(v) = &self.{field} {{");
                }
                if f.r#type() == Type::Enum {
                    let ep = self.enum_path(f.type_name());
                    let _ = writeln!(s, "            if let Some(n) = enum_name::<{ep}>(*v) {{ w.field({name:?}); w.string(n); }}");
                } else {
                    let _ = writeln!(
                        s,
                        "            w.field({name:?}); {};",
                        self.write_value(f, "v")
                    );
                }
                s.push('}');
                if let Some(d) = default {
                    // Mesos writes unset fields that have an explicit default.
                    let lit = match f.r#type() {
                        Type::Enum => format!("w.string({d:?})"),
                        Type::String => format!("w.string({d:?})"),
                        Type::Bytes => format!("w.bytes({d:?}.as_bytes())"),
                        Type::Bool => format!("w.bool({d})"),
                        Type::Double | Type::Float => format!("w.double({})", float_literal(d)),
                        Type::Int32
                        | Type::Sint32
                        | Type::Sfixed32
                        | Type::Int64
                        | Type::Sint64
                        | Type::Sfixed64 => {
                            format!("w.int({d}i64)")
                        }
                        _ => format!("w.uint({d}u64)"),
                    };
                    let _ = write!(s, " else {{ w.field({name:?}); {lit}; }}");
                }
                s.push('\n');
            }
        }
        s
    }

    /// Expression reading a singular value from `fv` (a `&Value`) for field `f`.
    fn read_value(&self, f: &FieldDescriptorProto, name: &str) -> String {
        match f.r#type() {
            Type::Double => format!("cx.double(fv, {name:?})?"),
            Type::Float => format!("cx.double(fv, {name:?})? as f32"),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => format!("cx.int(fv, {name:?})? as i32"),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => format!("cx.int(fv, {name:?})?"),
            Type::Uint32 | Type::Fixed32 => format!("cx.uint(fv, {name:?})? as u32"),
            Type::Uint64 | Type::Fixed64 => format!("cx.uint(fv, {name:?})?"),
            Type::Bool => format!("cx.bool(fv, {name:?})?"),
            Type::String => format!("cx.string(fv, {name:?})?"),
            Type::Bytes => format!("cx.bytes(fv, {name:?})?"),
            Type::Message | Type::Group => format!("cx.message(fv, {name:?})?"),
            Type::Enum => {
                let ep = self.enum_path(f.type_name());
                format!("cx.enumeration::<{ep}>(fv, {name:?})?")
            }
        }
    }

    /// Code for one field of `read_json`.
    fn read_field(&self, m: &Msg, f: &FieldDescriptorProto) -> String {
        let name = f.name();
        let field = to_snake(name);
        let mut s = String::new();
        let _ = writeln!(s, "        if let Some(fv) = cx.field(obj, {name:?}) {{");
        if let Some(idx) = f.oneof_index.filter(|_| !f.proto3_optional()) {
            let oneof = &m.desc.oneof_decl[usize::try_from(idx).expect("small index")];
            let en = format!("{}::{}", m.module, to_upper_camel(oneof.name()));
            let variant = to_upper_camel(name);
            let rv = self.read_value(f, name);
            let _ = writeln!(s, "            cx.push_field({name:?});");
            let _ = writeln!(s, "            cx.single(fv, {name:?})?;");
            if f.r#type() == Type::Enum {
                let _ = writeln!(
                    s,
                    "            if let Some(x) = {rv} {{ m.{} = Some({en}::{variant}(x)); }}",
                    to_snake(oneof.name())
                );
            } else {
                let _ = writeln!(
                    s,
                    "            m.{} = Some({en}::{variant}({rv}));",
                    to_snake(oneof.name())
                );
            }
            let _ = writeln!(s, "            cx.pop();");
            s.push_str("        }\n");
            return s;
        }
        if let Some(entry) = self.map_entry_of(f) {
            let key_f = &entry.desc.field[0];
            let val_f = &entry.desc.field[1];
            let key_expr = match key_f.r#type() {
                Type::String => "k.clone()".to_string(),
                Type::Bool => format!("cx.map_key_bool(k, {name:?})?"),
                Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
                    format!("cx.map_key_int(k, {name:?})? as i32")
                }
                Type::Int64 | Type::Sint64 | Type::Sfixed64 => {
                    format!("cx.map_key_int(k, {name:?})?")
                }
                Type::Uint32 | Type::Fixed32 => format!("cx.map_key_uint(k, {name:?})? as u32"),
                _ => format!("cx.map_key_uint(k, {name:?})?"),
            };
            let _ = writeln!(
                s,
                "            for (k, fv) in cx.map_entries(fv, {name:?})? {{"
            );
            let _ = writeln!(s, "                cx.push_key({name:?}, k);");
            if val_f.r#type() == Type::Enum {
                let _ = writeln!(
                    s,
                    "                let v = {};",
                    self.read_value(val_f, "value")
                );
                let _ = writeln!(
                    s,
                    "                if let Some(v) = v {{ m.{field}.insert({key_expr}, v); }}"
                );
            } else {
                let _ = writeln!(
                    s,
                    "                let v = {};",
                    self.read_value(val_f, "value")
                );
                let _ = writeln!(s, "                m.{field}.insert({key_expr}, v);");
            }
            s.push_str("                cx.pop();\n            }\n        }\n");
            return s;
        }
        let rv = self.read_value(f, name);
        match f.label() {
            Label::Repeated => {
                let _ = writeln!(
                    s,
                    "            for (i, fv) in cx.elements(fv).enumerate() {{"
                );
                let _ = writeln!(s, "                cx.push_index({name:?}, i);");
                if f.r#type() == Type::Enum {
                    // Unknown names in a repeated enum are dropped.
                    let _ = writeln!(
                        s,
                        "                if let Some(x) = {rv} {{ m.{field}.push(x); }}"
                    );
                } else {
                    let _ = writeln!(s, "                m.{field}.push({rv});");
                }
                s.push_str("                cx.pop();\n            }\n");
                s.push_str("        }\n");
            }
            Label::Required => {
                let _ = writeln!(s, "            cx.push_field({name:?});");
                let _ = writeln!(s, "            cx.single(fv, {name:?})?;");
                if f.r#type() == Type::Enum {
                    let _ = writeln!(s, "            match {rv} {{ Some(x) => m.{field} = x, None => return Err(cx.unknown_enum(fv)) }}");
                } else {
                    let _ = writeln!(s, "            m.{field} = {rv};");
                }
                let _ = writeln!(s, "            cx.pop();");
                s.push_str("        }\n");
            }
            Label::Optional => {
                let _ = writeln!(s, "            cx.push_field({name:?});");
                let _ = writeln!(s, "            cx.single(fv, {name:?})?;");
                if f.r#type() == Type::Enum {
                    // Unknown names in an optional enum leave the field unset.
                    let _ = writeln!(s, "            m.{field} = {rv};");
                } else if self.is_boxed(m, f) {
                    let _ = writeln!(s, "            m.{field} = Some(Box::new({rv}));");
                } else {
                    let _ = writeln!(s, "            m.{field} = Some({rv});");
                }
                let _ = writeln!(s, "            cx.pop();");
                s.push_str("        }\n");
            }
        }
        s
    }
}

impl Model<'_> {
    /// The oneof a field belongs to: (Rust enum path, struct field, variant).
    fn oneof_of(&self, m: &Msg, f: &FieldDescriptorProto) -> Option<(String, String, String)> {
        let idx = f.oneof_index.filter(|_| !f.proto3_optional())?;
        let oneof = &m.desc.oneof_decl[usize::try_from(idx).expect("small index")];
        Some((
            format!("{}::{}", m.module, to_upper_camel(oneof.name())),
            to_snake(oneof.name()),
            to_upper_camel(f.name()),
        ))
    }

    /// The `json::stream` leaf kind reading a non-message field.
    fn leaf_kind(&self, f: &FieldDescriptorProto) -> String {
        match f.r#type() {
            Type::Double => "Double".into(),
            Type::Float => "Float".into(),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => "Int32".into(),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => "Int64".into(),
            Type::Uint32 | Type::Fixed32 => "Uint32".into(),
            Type::Uint64 | Type::Fixed64 => "Uint64".into(),
            Type::Bool => "Bool".into(),
            Type::String => "Str".into(),
            Type::Bytes => "Bytes".into(),
            Type::Enum => format!("Enum<{}>", self.enum_path(f.type_name())),
            Type::Message | Type::Group => unreachable!("messages are not leaves"),
        }
    }

    /// The `json::stream` kind converting a map key.
    fn map_key_kind(f: &FieldDescriptorProto) -> &'static str {
        match f.r#type() {
            Type::String => "KeyString",
            Type::Bool => "KeyBool",
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => "KeyInt32",
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => "KeyInt64",
            Type::Uint32 | Type::Fixed32 => "KeyUint32",
            _ => "KeyUint64",
        }
    }

    /// `impl StreamJson` for every message: key matching and one reader per field, each
    /// following the `read_json` code generated for the same field.
    fn json_stream_impls(&self) -> String {
        let mut s = String::new();
        for m in &self.msgs {
            if m.map_entry {
                continue;
            }
            let fields = &m.desc.field;
            assert!(
                fields.len() <= 128,
                "{} has more than 128 fields; widen json::stream's field masks",
                m.fq
            );
            let mut required: u128 = 0;
            let mut oneofs: Vec<u128> = vec![0; m.desc.oneof_decl.len()];
            for (i, f) in fields.iter().enumerate() {
                if f.label() == Label::Required {
                    required |= 1 << i;
                }
                if let Some(idx) = f.oneof_index.filter(|_| !f.proto3_optional()) {
                    oneofs[usize::try_from(idx).expect("small index")] |= 1 << i;
                }
            }
            oneofs.retain(|&bits| bits != 0);
            let oneofs: Vec<String> = oneofs.iter().map(|b| format!("{b:#x}")).collect();
            let _ = writeln!(s, "impl StreamJson for {} {{", m.rust);
            let _ = writeln!(s, "    const REQUIRED: u128 = {required:#x};");
            let _ = writeln!(
                s,
                "    const ONEOFS: &'static [u128] = &[{}];",
                oneofs.join(", ")
            );
            s.push_str("    fn field_index(key: &str) -> Option<u8> {\n        match key {\n");
            for (i, f) in fields.iter().enumerate() {
                let _ = writeln!(s, "            {:?} => Some({i}),", f.name());
            }
            s.push_str("            _ => None,\n        }\n    }\n");
            s.push_str(
                "    fn read_field<'de, A: MapAccess<'de>>(&mut self, index: u8, map: &mut A) -> Result<bool, A::Error> {\n        match index {\n",
            );
            for (i, f) in fields.iter().enumerate() {
                let _ = writeln!(s, "            {i} => {},", self.stream_read(m, f));
            }
            s.push_str("            _ => Err(decline()),\n        }\n    }\n}\n\n");
        }
        s
    }

    /// Expression reading field `f`'s value from `map` (see `json::stream`).
    fn stream_read(&self, m: &Msg, f: &FieldDescriptorProto) -> String {
        let field = to_snake(f.name());
        let is_msg = matches!(f.r#type(), Type::Message | Type::Group);
        if let Some((en, of, variant)) = self.oneof_of(m, f) {
            return if is_msg {
                format!("{{ let mut v = None; let set = opt_msg(map, &mut v)?; if let Some(x) = v {{ self.{of} = Some({en}::{variant}(x)); }} Ok(set) }}")
            } else {
                let k = self.leaf_kind(f);
                format!("{{ let (set, v) = one::<{k}, A>(map)?; if let Some(x) = v {{ self.{of} = Some({en}::{variant}(x)); }} Ok(set) }}")
            };
        }
        if let Some(entry) = self.map_entry_of(f) {
            let kk = Self::map_key_kind(&entry.desc.field[0]);
            let val_f = &entry.desc.field[1];
            return if matches!(val_f.r#type(), Type::Message | Type::Group) {
                format!("msg_map::<{kk}, _, A>(map, &mut self.{field})")
            } else {
                let vk = self.leaf_kind(val_f);
                format!("leaf_map::<{kk}, {vk}, A>(map, &mut self.{field})")
            };
        }
        let (msg_fn, leaf_fn) = match f.label() {
            Label::Repeated => ("rep_msg", "rep"),
            Label::Required => ("req_msg", "req"),
            Label::Optional => ("opt_msg", "opt"),
        };
        if is_msg && self.is_boxed(m, f) {
            format!("opt_box_msg(map, &mut self.{field})")
        } else if is_msg {
            format!("{msg_fn}(map, &mut self.{field})")
        } else {
            format!(
                "{leaf_fn}::<{}, A>(map, &mut self.{field})",
                self.leaf_kind(f)
            )
        }
    }

    /// prost's `encoding` module for a scalar type.
    fn prost_module(f: &FieldDescriptorProto) -> &'static str {
        match f.r#type() {
            Type::Double => "double",
            Type::Float => "float",
            Type::Int64 => "int64",
            Type::Uint64 => "uint64",
            Type::Int32 | Type::Enum => "int32",
            Type::Fixed64 => "fixed64",
            Type::Fixed32 => "fixed32",
            Type::Bool => "bool",
            Type::Uint32 => "uint32",
            Type::Sfixed32 => "sfixed32",
            Type::Sfixed64 => "sfixed64",
            Type::Sint32 => "sint32",
            Type::Sint64 => "sint64",
            Type::String | Type::Bytes | Type::Message | Type::Group => {
                unreachable!("not a scalar")
            }
        }
    }

    /// Statement merging one occurrence of a singular value of `f` (wire type `wt`, read from
    /// buffer `buf`) into the place `place` (a `&mut` expression), as prost does.
    fn wire_merge(f: &FieldDescriptorProto, place: &str, buf: &str, depth: &str) -> String {
        match f.r#type() {
            Type::Message | Type::Group => format!("message({place}, wt, &mut {buf}, {depth})?;"),
            Type::String => format!("string({place}, wt, &mut {buf})?;"),
            Type::Bytes => format!("bytes({place}, wt, &mut {buf})?;"),
            Type::Double => format!(
                "fixed_field({place}, wt, WireType::SixtyFourBit, &mut {buf}, f64::from_le_bytes)?;"
            ),
            Type::Float => format!(
                "fixed_field({place}, wt, WireType::ThirtyTwoBit, &mut {buf}, f32::from_le_bytes)?;"
            ),
            Type::Int32 | Type::Enum => {
                format!("varint_field({place}, wt, &mut {buf}, |v| v as i32)?;")
            }
            Type::Int64 => format!("varint_field({place}, wt, &mut {buf}, |v| v as i64)?;"),
            Type::Uint32 => format!("varint_field({place}, wt, &mut {buf}, |v| v as u32)?;"),
            Type::Uint64 => format!("varint_field({place}, wt, &mut {buf}, |v| v)?;"),
            Type::Bool => format!("varint_field({place}, wt, &mut {buf}, |v| v != 0)?;"),
            _ => format!(
                "scalar(::prost::encoding::{}::merge, {place}, wt, &mut {buf})?;",
                Self::prost_module(f)
            ),
        }
    }

    /// `impl FastWire` for every message: prost's decoding of each field, with the message's
    /// required fields noted as they arrive (see `wire::fast`).
    fn wire_fast_impls(&self) -> String {
        let mut s = String::new();
        for m in &self.msgs {
            if m.map_entry {
                continue;
            }
            let required: Vec<i32> = m
                .desc
                .field
                .iter()
                .filter(|f| f.label() == Label::Required)
                .map(FieldDescriptorProto::number)
                .collect();
            assert!(
                required.len() <= 64,
                "{} has more than 64 required fields; widen wire::fast's mask",
                m.fq
            );
            let bit_of = |number: i32| required.iter().position(|&n| n == number);
            let all: u64 = if required.len() == 64 {
                u64::MAX
            } else {
                (1u64 << required.len()) - 1
            };
            let _ = writeln!(s, "impl FastWire for {} {{", m.rust);
            s.push_str(
                "    fn merge_wire(&mut self, mut buf: &[u8], depth: u32) -> Option<()> {\n        if depth > MAX_DEPTH {\n            return None;\n        }\n        let mut seen: u64 = 0;\n        while !buf.is_empty() {\n            let (tag, wt) = key(&mut buf)?;\n            match tag {\n",
            );
            for f in &m.desc.field {
                let field = to_snake(f.name());
                let number = f.number();
                let body = if let Some((en, of, variant)) = self.oneof_of(m, f) {
                    format!(
                        "match &mut self.{of} {{ Some({en}::{variant}(v)) => {{ {} }} _ => {{ let mut v = Default::default(); {} self.{of} = Some({en}::{variant}(v)); }} }}",
                        Self::wire_merge(f, "v", "buf", "depth"),
                        Self::wire_merge(f, "&mut v", "buf", "depth")
                    )
                } else if let Some(entry) = self.map_entry_of(f) {
                    let key_f = &entry.desc.field[0];
                    let val_f = &entry.desc.field[1];
                    let val_default = if val_f.r#type() == Type::Enum {
                        format!("{}::default() as i32", self.enum_path(val_f.type_name()))
                    } else {
                        "Default::default()".to_string()
                    };
                    format!(
                        "let mut entry = payload(wt, &mut buf)?; let mut k = Default::default(); let mut v = {val_default}; \
                         while !entry.is_empty() {{ let (tag, wt) = key(&mut entry)?; match tag {{ 1 => {{ {} }} 2 => {{ {} }} _ => skip(wt, &mut entry)?, }} }} \
                         self.{field}.insert(k, v);",
                        Self::wire_merge(key_f, "&mut k", "entry", "depth + 1"),
                        Self::wire_merge(val_f, "&mut v", "entry", "depth + 1"),
                    )
                } else {
                    match f.label() {
                        Label::Repeated => match f.r#type() {
                            Type::Message | Type::Group => format!(
                                "messages(&mut self.{field}, {number}, wt, &mut buf, depth)?;"
                            ),
                            Type::String => {
                                format!("strings(&mut self.{field}, wt, &mut buf)?;")
                            }
                            Type::Bytes => {
                                format!("bytes_list(&mut self.{field}, wt, &mut buf)?;")
                            }
                            _ => format!(
                                "scalar(::prost::encoding::{}::merge_repeated, &mut self.{field}, wt, &mut buf)?;",
                                Self::prost_module(f)
                            ),
                        },
                        Label::Required => {
                            let bit = bit_of(number).expect("a required field has a bit");
                            format!(
                                "{} seen |= 1 << {bit};",
                                Self::wire_merge(f, &format!("&mut self.{field}"), "buf", "depth")
                            )
                        }
                        Label::Optional if self.is_boxed(m, f) => Self::wire_merge(
                            f,
                            &format!("&mut **self.{field}.get_or_insert_with(Default::default)"),
                            "buf",
                            "depth",
                        ),
                        Label::Optional => Self::wire_merge(
                            f,
                            &format!("self.{field}.get_or_insert_with(Default::default)"),
                            "buf",
                            "depth",
                        ),
                    }
                };
                let _ = writeln!(s, "                {number} => {{ {body} }}");
            }
            s.push_str("                _ => skip(wt, &mut buf)?,\n            }\n        }\n");
            let _ = writeln!(s, "        (seen == {all:#x}).then_some(())\n    }}\n}}\n");
        }
        s
    }
}

fn float_literal(d: &str) -> String {
    match d {
        "inf" => "f64::INFINITY".into(),
        "-inf" => "f64::NEG_INFINITY".into(),
        "nan" => "f64::NAN".into(),
        _ if d.contains(['.', 'e', 'E']) => format!("{d}_f64"),
        _ => format!("{d}.0_f64"),
    }
}

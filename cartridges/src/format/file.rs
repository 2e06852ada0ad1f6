//! Checking a whole cartridge file: header, section table and section CRCs, before any
//! section is read.
//!
//! Invariants:
//! - [`check_file`] either returns section ranges that lie inside the file, in table
//!   order, each starting at the aligned end of the one before, every CRC checked — or an
//!   error naming the file, the section and the offset. It never panics on any bytes.
//! - The version is checked before the CRC: a newer format may lay its header out
//!   differently, and must be refused as newer, not as damaged.

use std::ops::Range;
use std::path::Path;

use zerocopy::FromBytes;

use super::layout::{
    Header, Kind, SectionEntry, FORMAT_VERSION, HEADER_SIZE, KIND_NAME_SIZE, MAGIC, SECTIONS,
    SECTION_ALIGN, SECTION_COUNT, SECTION_ENTRY_SIZE,
};
use crate::error::{CartridgeError, Result};

/// What a checked file holds: its header, and where each section lies.
#[derive(Debug, Clone)]
pub struct FileLayout {
    /// The header.
    pub header: Header,
    /// The kind.
    pub kind: Kind,
    /// The kind name (the extractor's name for user-defined kinds).
    pub kind_name: String,
    /// Byte range of each section, in [`SECTIONS`] order.
    pub sections: [Range<usize>; SECTION_COUNT],
    /// Item count of each section, as the table says.
    pub counts: [u64; SECTION_COUNT],
}

/// CRC32C of the header's first 124 bytes.
pub fn header_crc(header: &Header) -> u32 {
    crc32c::crc32c(&zerocopy::IntoBytes::as_bytes(header)[..HEADER_SIZE - 4])
}

/// Checks the header, the section table and every section's CRC of the cartridge `bytes`
/// read from `path`.
///
/// Errors: [`CartridgeError::NotACartridge`] without the magic;
/// [`CartridgeError::NewerVersion`] when the file needs a newer reader;
/// [`CartridgeError::Corrupt`] naming the section and offset of any other damage.
pub fn check_file(path: &Path, bytes: &[u8]) -> Result<FileLayout> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(CartridgeError::NotACartridge {
            path: path.to_path_buf(),
            detail: "the file does not start with the cartridge magic".into(),
        });
    }
    let corrupt = |section, offset: usize, detail: String| {
        CartridgeError::corrupt(path, section, offset as u64, detail)
    };
    let Ok((header, _)) = Header::read_from_prefix(bytes) else {
        return Err(corrupt(
            "header",
            bytes.len(),
            format!(
                "file of {} bytes is shorter than the {HEADER_SIZE}-byte header",
                bytes.len()
            ),
        ));
    };
    if header.reader_version_min.get() > FORMAT_VERSION {
        return Err(CartridgeError::NewerVersion {
            path: path.to_path_buf(),
            found: header.format_version.get(),
            reader_min: header.reader_version_min.get(),
            supported: FORMAT_VERSION,
        });
    }
    if header_crc(&header) != header.header_crc.get() {
        return Err(corrupt(
            "header",
            HEADER_SIZE - 4,
            "header CRC does not match".into(),
        ));
    }
    let kind = Kind::from_code(header.kind.get()).ok_or_else(|| {
        corrupt(
            "header",
            16,
            format!("unknown kind code {}", header.kind.get()),
        )
    })?;
    if header.section_count.get() as usize != SECTION_COUNT {
        return Err(corrupt(
            "header",
            20,
            format!(
                "{} sections, version 1 has {SECTION_COUNT}",
                header.section_count.get()
            ),
        ));
    }
    if header.reserved.iter().any(|byte| *byte != 0) {
        return Err(corrupt("header", 116, "reserved bytes are not zero".into()));
    }
    if header.txn_from.get() > header.txn_to.get().saturating_add(1) {
        return Err(corrupt(
            "header",
            48,
            "txn range [from, to] is reversed".into(),
        ));
    }
    let kind_name = decode_kind_name(&header.kind_name)
        .ok_or_else(|| corrupt("header", 80, "kind name is not zero-padded UTF-8".into()))?;
    let (sections, counts) = check_sections(path, bytes, header.table_crc.get())?;
    if header.file_size.get() != bytes.len() as u64 {
        return Err(corrupt(
            "header",
            bytes.len(),
            format!(
                "file is {} bytes, the header says {}",
                bytes.len(),
                header.file_size.get()
            ),
        ));
    }
    Ok(FileLayout {
        header,
        kind,
        kind_name,
        sections,
        counts,
    })
}

type Sections = ([Range<usize>; SECTION_COUNT], [u64; SECTION_COUNT]);

fn check_sections(path: &Path, bytes: &[u8], table_crc: u32) -> Result<Sections> {
    let table_end = HEADER_SIZE + SECTION_COUNT * SECTION_ENTRY_SIZE;
    let Some(table) = bytes.get(HEADER_SIZE..table_end) else {
        return Err(CartridgeError::corrupt(
            path,
            "section table",
            bytes.len() as u64,
            format!("file ends at {} inside the section table", bytes.len()),
        ));
    };
    if crc32c::crc32c(table) != table_crc {
        return Err(CartridgeError::corrupt(
            path,
            "section table",
            HEADER_SIZE as u64,
            "section table CRC does not match",
        ));
    }
    let entries = <[SectionEntry]>::ref_from_bytes(table).expect("table size is a multiple");
    let mut sections: [Range<usize>; SECTION_COUNT] = Default::default();
    let mut counts = [0u64; SECTION_COUNT];
    let mut expected_offset = table_end as u64;
    for (index, (entry, id)) in entries.iter().zip(SECTIONS).enumerate() {
        let name = id.name();
        let table_offset = (HEADER_SIZE + index * SECTION_ENTRY_SIZE) as u64;
        let corrupt = |offset, detail: String| CartridgeError::corrupt(path, name, offset, detail);
        if entry.id.get() != id as u32 {
            return Err(corrupt(
                table_offset,
                format!("table entry has id {}", entry.id.get()),
            ));
        }
        let offset = entry.offset.get();
        if offset != expected_offset {
            return Err(corrupt(
                table_offset + 8,
                format!("section starts at {offset}, expected {expected_offset}"),
            ));
        }
        let end = offset
            .checked_add(entry.size.get())
            .filter(|end| *end <= bytes.len() as u64)
            .ok_or_else(|| {
                corrupt(
                    bytes.len() as u64,
                    format!(
                        "section of {} bytes at {offset} runs past the end of the {}-byte file",
                        entry.size.get(),
                        bytes.len()
                    ),
                )
            })?;
        let range = offset as usize..end as usize;
        if crc32c::crc32c(&bytes[range.clone()]) != entry.crc.get() {
            return Err(corrupt(offset, "section CRC does not match".into()));
        }
        let padded = end.next_multiple_of(SECTION_ALIGN).min(bytes.len() as u64);
        if bytes[end as usize..padded as usize]
            .iter()
            .any(|byte| *byte != 0)
        {
            return Err(corrupt(end, "padding after the section is not zero".into()));
        }
        expected_offset = end.next_multiple_of(SECTION_ALIGN);
        sections[index] = range;
        counts[index] = entry.count.get();
    }
    Ok((sections, counts))
}

fn decode_kind_name(bytes: &[u8; KIND_NAME_SIZE]) -> Option<String> {
    let len = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(KIND_NAME_SIZE);
    if bytes[len..].iter().any(|byte| *byte != 0) || len == 0 {
        return None;
    }
    std::str::from_utf8(&bytes[..len]).ok().map(str::to_string)
}

//! A tiny zip writer for tests: enough knobs to build every hostile layout the walker detects.

use std::io::Write;

/// One member as it will be written.
#[derive(Clone)]
pub struct Member {
    pub name: Vec<u8>,
    /// The bytes written after the local header (compressed if `method != 0`).
    pub data: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub uncompressed: u64,
    pub flags: u16,
    pub external: u32,
    pub made_by: u16,
    pub local_name: Option<Vec<u8>>,
    pub local_method: Option<u16>,
    /// Write the central entry pointing at member `n`'s local header instead of its own.
    pub point_at: Option<usize>,
    /// Compressed size written in the central entry instead of the real one.
    pub central_compressed: Option<u32>,
    /// Written as a local header and data only, left out of the central directory.
    pub unlisted: bool,
}

impl Member {
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Member {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            crc: super::crc32(data),
            uncompressed: data.len() as u64,
            flags: 0,
            external: 0,
            made_by: 20,
            local_name: None,
            local_method: None,
            point_at: None,
            central_compressed: None,
            unlisted: false,
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> Self {
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        Member {
            data: enc.finish().unwrap(),
            method: 8,
            ..Member::stored(name, data)
        }
    }
}

#[derive(Clone, Default)]
pub struct ZipWriter {
    pub prefix: Vec<u8>,
    pub members: Vec<Member>,
    pub zip64: bool,
    pub comment: Vec<u8>,
    /// Offsets count from the start of the file (as if adjusted with `zip -A`) instead of from
    /// the start of the zip part.
    pub absolute_offsets: bool,
    pub declared_entries: Option<u16>,
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u64le(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

impl ZipWriter {
    pub fn new(members: Vec<Member>) -> Self {
        ZipWriter {
            members,
            ..ZipWriter::default()
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let base = if self.absolute_offsets {
            0
        } else {
            self.prefix.len() as u64
        };
        let mut offsets = Vec::new();
        for m in &self.members {
            offsets.push(out.len() as u64 - base);
            let name = m.local_name.as_ref().unwrap_or(&m.name);
            out.extend_from_slice(b"PK\x03\x04");
            u16le(&mut out, if self.zip64 { 45 } else { 20 });
            u16le(&mut out, m.flags);
            u16le(&mut out, m.local_method.unwrap_or(m.method));
            u16le(&mut out, 0);
            u16le(&mut out, 0x21);
            u32le(&mut out, m.crc);
            let mut extra = Vec::new();
            if self.zip64 {
                u32le(&mut out, 0xffff_ffff);
                u32le(&mut out, 0xffff_ffff);
                u16le(&mut extra, 1);
                u16le(&mut extra, 16);
                u64le(&mut extra, m.uncompressed);
                u64le(&mut extra, m.data.len() as u64);
            } else {
                u32le(&mut out, m.data.len() as u32);
                u32le(&mut out, m.uncompressed as u32);
            }
            u16le(&mut out, name.len() as u16);
            u16le(&mut out, extra.len() as u16);
            out.extend_from_slice(name);
            out.extend_from_slice(&extra);
            out.extend_from_slice(&m.data);
        }
        let cd_start = out.len() as u64;
        for (i, m) in self.members.iter().enumerate() {
            if m.unlisted {
                continue;
            }
            let lho = offsets[m.point_at.unwrap_or(i)];
            out.extend_from_slice(b"PK\x01\x02");
            u16le(&mut out, m.made_by);
            u16le(&mut out, if self.zip64 { 45 } else { 20 });
            u16le(&mut out, m.flags);
            u16le(&mut out, m.method);
            u16le(&mut out, 0);
            u16le(&mut out, 0x21);
            u32le(&mut out, m.crc);
            let mut extra = Vec::new();
            if self.zip64 {
                u32le(&mut out, 0xffff_ffff);
                u32le(&mut out, 0xffff_ffff);
                u16le(&mut extra, 1);
                u16le(&mut extra, 24);
                u64le(&mut extra, m.uncompressed);
                u64le(&mut extra, m.data.len() as u64);
                u64le(&mut extra, lho);
            } else {
                u32le(
                    &mut out,
                    m.central_compressed.unwrap_or(m.data.len() as u32),
                );
                u32le(&mut out, m.uncompressed as u32);
            }
            u16le(&mut out, m.name.len() as u16);
            u16le(&mut out, extra.len() as u16);
            u16le(&mut out, 0);
            u16le(&mut out, 0);
            u16le(&mut out, 0);
            u32le(&mut out, m.external);
            u32le(&mut out, if self.zip64 { 0xffff_ffff } else { lho as u32 });
            out.extend_from_slice(&m.name);
            out.extend_from_slice(&extra);
        }
        let cd_size = out.len() as u64 - cd_start;
        let cd_offset = cd_start - base;
        let count = self.members.iter().filter(|m| !m.unlisted).count() as u64;
        let declared = self.declared_entries.map_or(count, u64::from);
        if self.zip64 {
            let rec = out.len() as u64 - base;
            out.extend_from_slice(b"PK\x06\x06");
            u64le(&mut out, 44);
            u16le(&mut out, 45);
            u16le(&mut out, 45);
            u32le(&mut out, 0);
            u32le(&mut out, 0);
            u64le(&mut out, declared);
            u64le(&mut out, declared);
            u64le(&mut out, cd_size);
            u64le(&mut out, cd_offset);
            out.extend_from_slice(b"PK\x06\x07");
            u32le(&mut out, 0);
            u64le(&mut out, rec);
            u32le(&mut out, 1);
        }
        out.extend_from_slice(b"PK\x05\x06");
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        let small = if self.zip64 { 0xffff } else { declared as u16 };
        u16le(&mut out, small);
        u16le(&mut out, small);
        u32le(
            &mut out,
            if self.zip64 {
                0xffff_ffff
            } else {
                cd_size as u32
            },
        );
        u32le(
            &mut out,
            if self.zip64 {
                0xffff_ffff
            } else {
                cd_offset as u32
            },
        );
        u16le(&mut out, self.comment.len() as u16);
        out.extend_from_slice(&self.comment);
        out
    }
}

//! Unpacking an archive (tar, tar.gz or zip, told apart by their first
//! bytes) into one file of the work folder, the files one after the other,
//! each hashed as it is written, so nothing holds the site in memory (and
//! 10,000 files are one file to create, not 10,000). Only files under
//! `spec.content.path` become keys (without the folder). A path out of the
//! tree, a link leading out of it, a device, two entries for one key, a key
//! S3 refuses, more than `maxFiles` or `maxBytes`: the site stalls before
//! anything is uploaded.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fetch::{Failure, WRITE_BUFFER};
use super::files::{File, check_key, limits};
use crate::api::static_site::ContentSpec;
use crate::aws::s3::{Body, Checksum};

/// Unpacks the archive file `archive` into the new file `into` (each
/// [`File`]'s body a part of it); `name` is how messages call it.
pub fn unpack(archive: &Path, into: &Path, name: &str, content: &ContentSpec) -> Result<Vec<File>, Failure> {
    let file = BufReader::with_capacity(WRITE_BUFFER, WorkFile::open(archive)?);
    unpack_from(file, into, name, content, |_| Ok(archive.to_path_buf()))
}

/// [`unpack`] of an archive as it arrives, read to its end (a stream's
/// digest is checked there). A zip's index is at its end: `zip_file` gets
/// the whole stream and returns the file of the work folder it wrote it to.
/// Gzip inflates straight from `reader`'s buffer (a network chunk), and
/// files are inflated straight into the buffer of writes to `into`.
pub fn unpack_from(
    mut reader: impl BufRead,
    into: &Path,
    name: &str,
    content: &ContentSpec,
    zip_file: impl FnOnce(&mut dyn Read) -> Result<PathBuf, Failure>,
) -> Result<Vec<File>, Failure> {
    let corrupt = |e: std::io::Error| corrupt(name, &e);
    let mut head = [0u8; 512];
    let read = read_up_to(&mut reader, &mut head).map_err(corrupt)?;
    let head = &head[..read];
    let mut whole = std::io::Cursor::new(head.to_vec()).chain(reader);
    let out = fs::File::create(into).map_err(|e| Failure::work_folder(into, &e))?;
    let mut unpacker = Unpacker {
        into,
        out,
        buffer: vec![0; WRITE_BUFFER],
        filled: 0,
        offset: 0,
        name,
        folder: content.folder(),
        content,
        files: Vec::new(),
        keys: BTreeMap::new(),
        links: Vec::new(),
        bytes: 0,
    };
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        unpacker.zip(WorkFile::open(&zip_file(&mut whole)?)?)?;
        return unpacker.finish();
    }
    let unpacked = if head.starts_with(&[0x1f, 0x8b]) {
        let inner = flate2::bufread::GzDecoder::new(&mut whole);
        unpacker.tar(Capped { inner, left: content.archive_bytes() })
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        unpacker.tar(&mut whole)
    } else {
        Err(Failure::invalid(format!("{name} is not a tar, tar.gz or zip file")))
    };
    // To its end, also after a refusal: a stream's digest is checked there,
    // and bytes that are not the artifact's are the stream's failure, not
    // the archive's.
    std::io::copy(&mut whole, &mut std::io::sink()).map_err(corrupt)?;
    unpacked?;
    unpacker.finish()
}

/// Longest GNU long-name or PAX record read.
const MAX_NAME_RECORD: u64 = 64 * 1024;

/// A reader that fails past `left` bytes: a gzip stream inflates to at most
/// what `maxBytes` allows (with a tar's headers), entries outside `path`
/// and folders included.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| std::io::Error::other("it inflates to more than spec.content.maxBytes allows"))?;
        Ok(n)
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

struct Unpacker<'a> {
    into: &'a Path,
    out: fs::File,
    /// Written to `out` when full: files are read into it, not copied into it.
    buffer: Vec<u8>,
    filled: usize,
    /// Where the next file starts in `into`.
    offset: u64,
    name: &'a str,
    /// `spec.content.path` as a prefix (`public/`).
    folder: Option<String>,
    content: &'a ContentSpec,
    files: Vec<File>,
    /// Full path in the archive -> index in `files`.
    keys: BTreeMap<String, usize>,
    /// (full path of the link, full path it names), resolved at the end.
    links: Vec<(String, String)>,
    bytes: u64,
}

impl Unpacker<'_> {
    /// Entries read raw: GNU long names and PAX paths are taken here, each
    /// at most [`MAX_NAME_RECORD`] bytes (the tar crate would read any size
    /// into memory first).
    fn tar(&mut self, reader: impl Read) -> Result<(), Failure> {
        use tar::EntryType;
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(|e| self.corrupt(&e))?.raw(true);
        let (mut long_name, mut long_link) = (None::<String>, None::<String>);
        for entry in entries {
            let mut entry = entry.map_err(|e| self.corrupt(&e))?;
            let kind = entry.header().entry_type();
            if matches!(
                kind,
                EntryType::GNULongName | EntryType::GNULongLink | EntryType::XHeader | EntryType::XGlobalHeader
            ) {
                let size = entry.header().size().map_err(|e| self.corrupt(&e))?;
                if size > MAX_NAME_RECORD {
                    return Err(Failure::invalid(format!(
                        "{}: a name record of {size} bytes: nothing was uploaded",
                        self.name
                    )));
                }
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| self.corrupt(&e))?;
                let text = |data: &[u8]| String::from_utf8_lossy(data).trim_end_matches('\0').to_string();
                match kind {
                    EntryType::GNULongName => long_name = Some(text(&data)),
                    EntryType::GNULongLink => long_link = Some(text(&data)),
                    EntryType::XHeader => {
                        for extension in tar::PaxExtensions::new(&data).flatten() {
                            match extension.key() {
                                Ok("path") => long_name = Some(text(extension.value_bytes())),
                                Ok("linkpath") => long_link = Some(text(extension.value_bytes())),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let raw = long_name.take().unwrap_or_else(|| String::from_utf8_lossy(&entry.path_bytes()).into_owned());
            let link = long_link.take();
            match kind {
                EntryType::Regular | EntryType::Continuous => {
                    let Some(path) = self.path(&raw)? else { continue };
                    self.file(path, &mut entry)?;
                }
                EntryType::Directory => {
                    self.path(&raw)?;
                }
                EntryType::Symlink | EntryType::Link => {
                    let Some(path) = self.path(&raw)? else { continue };
                    let target =
                        link.or_else(|| entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()));
                    // A symlink is relative to its folder, a hard link to the archive's root.
                    let base = if kind == EntryType::Symlink { parent(&path).to_string() } else { String::new() };
                    self.link(path, &base, &target.unwrap_or_default())?;
                }
                other => {
                    let message = format!("{}: entry {raw:?} is a {other:?}, not a file, folder or link", self.name);
                    return Err(Failure::invalid(message));
                }
            }
        }
        Ok(())
    }

    fn zip(&mut self, file: WorkFile) -> Result<(), Failure> {
        let name = self.name;
        let invalid = |e: zip::result::ZipError| match e {
            zip::result::ZipError::Io(e) => corrupt(name, &e),
            e => Failure::invalid(format!("{name} is not a valid zip: {e}")),
        };
        let mut archive = zip::ZipArchive::new(file).map_err(invalid)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(invalid)?;
            let raw = entry.name().to_string();
            let Some(path) = self.path(&raw)? else { continue };
            if entry.is_dir() {
                continue;
            }
            if entry.is_symlink() {
                let mut target = String::new();
                entry.by_ref().take(4096).read_to_string(&mut target).map_err(|e| self.corrupt(&e))?;
                let base = parent(&path).to_string();
                self.link(path, &base, &target)?;
            } else {
                self.file(path, &mut entry)?;
            }
        }
        Ok(())
    }

    /// The entry's path in the archive, normalized; `None` for a folder.
    fn path(&self, raw: &str) -> Result<Option<String>, Failure> {
        match normalize("", raw) {
            Some(path) if path.is_empty() => Ok(None),
            Some(path) => Ok(Some(path)),
            None => Err(Failure::invalid(format!(
                "{}: entry {raw:?} names a path out of the archive (absolute or through '..'): nothing was uploaded; rebuild the archive with relative paths",
                self.name
            ))),
        }
    }

    /// The key of a full path: under `path`, without it; `None` outside it.
    fn key<'p>(&self, path: &'p str) -> Option<&'p str> {
        match &self.folder {
            Some(folder) => path.strip_prefix(folder.as_str()),
            None => Some(path),
        }
    }

    fn file(&mut self, path: String, reader: &mut impl Read) -> Result<(), Failure> {
        let Some(key) = self.key(&path).map(str::to_string) else { return Ok(()) };
        self.claim(&path, &key)?;
        let (mut hash, mut size) = (Sha256::new(), 0u64);
        loop {
            if self.filled == self.buffer.len() {
                self.flush()?;
            }
            let n = reader.read(&mut self.buffer[self.filled..]).map_err(|e| self.corrupt(&e))?;
            if n == 0 {
                break;
            }
            hash.update(&self.buffer[self.filled..self.filled + n]);
            self.filled += n;
            size += n as u64;
            self.bytes += n as u64;
            limits(self.files.len() as u64, self.bytes, self.content)?;
        }
        let body = Body::File { path: self.into.to_path_buf(), offset: self.offset, len: size };
        self.offset += size;
        self.keys.insert(path, self.files.len());
        let checksum = Checksum::Sha256(hash.finalize().into());
        self.files.push(File { key, size, checksum, body: Some(body) });
        Ok(())
    }

    fn link(&mut self, path: String, base: &str, target: &str) -> Result<(), Failure> {
        let Some(named) = normalize(base, target) else {
            return Err(Failure::invalid(format!(
                "{}: link {path:?} points out of the archive ({target:?}): nothing was uploaded; rebuild it without that link",
                self.name
            )));
        };
        if let Some(key) = self.key(&path).map(str::to_string) {
            self.claim(&path, &key)?;
            self.links.push((path, named));
        }
        Ok(())
    }

    /// One entry per key; a key S3 takes; within `maxFiles`.
    fn claim(&self, path: &str, key: &str) -> Result<(), Failure> {
        check_key(key)?;
        if self.keys.contains_key(path) || self.links.iter().any(|(p, _)| p == path) {
            return Err(Failure::invalid(format!(
                "{}: {path:?} appears twice: nothing was uploaded; rebuild the archive",
                self.name
            )));
        }
        limits(self.files.len() as u64 + self.links.len() as u64 + 1, self.bytes, self.content)?;
        Ok(())
    }

    /// Links become copies of the files they name (served files only).
    fn finish(mut self) -> Result<Vec<File>, Failure> {
        self.flush()?;
        for (path, named) in std::mem::take(&mut self.links) {
            let Some(&at) = self.keys.get(&named) else {
                return Err(Failure::invalid(format!(
                    "{}: link {path:?} names {named:?}, which is not a file served from the archive: nothing was uploaded",
                    self.name
                )));
            };
            let key = self.key(&path).unwrap_or_default().to_string();
            let file = File { key, ..self.files[at].clone() };
            self.bytes += file.size;
            self.files.push(file);
        }
        limits(self.files.len() as u64, self.bytes, self.content)?;
        if self.files.is_empty() {
            let where_ = self.folder.as_ref().map_or(String::new(), |f| format!(" under spec.content.path {f:?}"));
            return Err(Failure::invalid(format!("{} holds no files{where_}: nothing to serve", self.name)));
        }
        self.files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(self.files)
    }

    fn flush(&mut self) -> Result<(), Failure> {
        let written = self.out.write_all(&self.buffer[..self.filled]);
        self.filled = 0;
        written.map_err(|e| Failure::work_folder(self.into, &e))
    }

    fn corrupt(&self, e: &std::io::Error) -> Failure {
        corrupt(self.name, e)
    }
}

/// What an error reading the archive means: the work folder's own file
/// failing is tried again later; anything else is the archive's bytes.
fn corrupt(name: &str, e: &std::io::Error) -> Failure {
    match work_folder_cause(e) {
        Some(local) => Failure::work_folder(&local.path, &local.error),
        None => Failure::invalid(format!("{name} could not be read as an archive: {e}")),
    }
}

/// A file of the work folder read as (or holding) the archive: its read
/// errors carry [`WorkFolderError`], so that readers wrapped around it (gzip,
/// tar, zip) pass on which side failed.
struct WorkFile {
    file: fs::File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("work folder {path}: {error}")]
struct WorkFolderError {
    path: PathBuf,
    error: std::io::Error,
}

impl WorkFile {
    fn open(path: &Path) -> Result<Self, Failure> {
        let file = fs::File::open(path).map_err(|e| Failure::work_folder(path, &e))?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    fn failed(&self, error: std::io::Error) -> std::io::Error {
        std::io::Error::other(WorkFolderError { path: self.path.clone(), error })
    }
}

impl Read for WorkFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                read => return read.map_err(|e| self.failed(e)),
            }
        }
    }
}

impl std::io::Seek for WorkFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(to).map_err(|e| self.failed(e))
    }
}

/// The [`WorkFolderError`] anywhere in `e`'s chain (readers may wrap it).
fn work_folder_cause(e: &std::io::Error) -> Option<&WorkFolderError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = next {
        let inner = error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if let Some(found) = inner.and_then(|i| i.downcast_ref::<WorkFolderError>()) {
            return Some(found);
        }
        next = inner.map(|i| i as &(dyn std::error::Error + 'static)).or_else(|| error.source());
    }
    None
}

/// `relative` joined onto the folder `base`, with `.` and empty parts
/// dropped; `None` when it is absolute or climbs out through `..`.
fn normalize(base: &str, relative: &str) -> Option<String> {
    if relative.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The folder of one site's pass in the work folder (removed when dropped).
pub fn workspace(work_dir: &Path, uid: &str) -> Result<tempfile::TempDir, Failure> {
    fs::create_dir_all(work_dir).map_err(|e| Failure::work_folder(work_dir, &e))?;
    tempfile::Builder::new()
        .prefix(&format!("site-{uid}-"))
        .tempdir_in(work_dir)
        .map_err(|e| Failure::work_folder(work_dir, &e))
}

/// Removes the workspaces a stopped controller left in `work_dir` (an
/// emptyDir outlives a container restart).
pub fn clear_workspaces(work_dir: &Path) {
    let Ok(entries) = fs::read_dir(work_dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("site-") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Where a workspace keeps the download (or a zip layer written whole) and
/// the one file the unpacked files are written into.
pub fn layout(workspace: &Path) -> (PathBuf, PathBuf) {
    (workspace.join("archive"), workspace.join("files"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: serde_json::Value) -> ContentSpec {
        serde_json::from_value(value).expect("spec")
    }

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, body, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            // Written raw: the builder itself refuses `..`, an archive need not.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(link) = link {
                header.set_link_name(link).expect("link");
            }
            header.set_cksum();
            builder.append(&header, *body).expect("append");
        }
        builder.into_inner().expect("tar")
    }

    fn unpacked(bytes: &[u8], content: &ContentSpec) -> Result<Vec<(String, Vec<u8>)>, String> {
        let dir = tempfile::tempdir().expect("dir");
        let (archive, files) = layout(dir.path());
        fs::write(&archive, bytes).expect("write");
        match unpack(&archive, &files, "site.tar", content) {
            Ok(found) => Ok(found
                .into_iter()
                .map(|f| match f.body {
                    Some(Body::File { path, offset, len }) => {
                        let all = fs::read(path).expect("read");
                        (f.key, all[offset as usize..(offset + len) as usize].to_vec())
                    }
                    other => panic!("{other:?}"),
                })
                .collect()),
            Err(Failure::Stall(stall)) => Err(stall.message),
            Err(Failure::Retry(why) | Failure::Local(why)) => panic!("{why}"),
        }
    }

    use tar::EntryType::{Directory, Link, Regular, Symlink};

    #[test]
    fn a_tar_gz_unpacks_nested_keys_under_the_path_and_links_as_copies() {
        let tar = tar_of(&[
            ("public/", Directory, b"", None),
            ("public/index.html", Regular, b"<h1>home</h1>", None),
            ("public/docs/index.html", Regular, b"docs", None),
            ("public/latest.html", Symlink, b"", Some("docs/index.html")),
            ("README.md", Regular, b"not served", None),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).expect("gz");
        let got = unpacked(&gz.finish().expect("gz"), &spec(serde_json::json!({"path": "public/"}))).expect("unpacked");
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["docs/index.html", "index.html", "latest.html"]);
        assert_eq!(got[2].1, b"docs");
    }

    #[test]
    fn a_zip_unpacks_nested_keys() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("index.html", options).expect("file");
        zip.write_all(b"home").expect("write");
        zip.start_file("assets/app.js", options).expect("file");
        zip.write_all(b"js").expect("write");
        let bytes = zip.finish().expect("zip").into_inner();
        let got = unpacked(&bytes, &spec(serde_json::json!({}))).expect("unpacked");
        assert_eq!(got, vec![("assets/app.js".into(), b"js".to_vec()), ("index.html".into(), b"home".to_vec())]);
    }

    /// A stream that gives its bytes, then fails (as a layer whose digest
    /// does not match fails at its end).
    struct FailsAtItsEnd(std::io::Cursor<Vec<u8>>);

    impl Read for FailsAtItsEnd {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("the layer could not be read")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_stream_that_fails_after_a_whole_archive_fails_the_unpack_and_a_refusal_still_reads_it_to_its_end() {
        let dir = tempfile::tempdir().expect("dir");
        let into = dir.path().join("unpacked");
        let whole = tar_of(&[("index.html", Regular, b"home", None)]);
        let stream = BufReader::new(FailsAtItsEnd(std::io::Cursor::new(whole)));
        let failed = unpack_from(stream, &into, "site", &spec(serde_json::json!({})), |_| unreachable!("not a zip"));
        assert!(matches!(failed, Err(Failure::Stall(s)) if s.message.contains("could not be read")));
        // A refused entry is reported only once the stream ended well.
        let mut refused = std::io::Cursor::new(tar_of(&[("../x", Regular, b"x", None)]));
        let got = unpack_from(&mut refused, &into, "site", &spec(serde_json::json!({})), |_| unreachable!("not a zip"));
        assert!(matches!(got, Err(Failure::Stall(s)) if s.message.contains("out of the archive")));
        assert_eq!(refused.position(), refused.get_ref().len() as u64, "read to its end");
    }

    #[test]
    fn a_zip_stream_is_written_whole_then_read_from_that_file() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("index.html", zip::write::SimpleFileOptions::default()).expect("file");
        zip.write_all(b"home").expect("write");
        let bytes = zip.finish().expect("zip").into_inner();
        let dir = tempfile::tempdir().expect("dir");
        let (spill, into) = layout(dir.path());
        let zip_file = |whole: &mut dyn Read| {
            std::io::copy(whole, &mut fs::File::create(&spill).expect("spill")).expect("copy");
            Ok(spill.clone())
        };
        let stream = std::io::Cursor::new(bytes.clone());
        let got = unpack_from(stream, &into, "site.zip", &spec(serde_json::json!({})), zip_file).expect("unpacked");
        assert_eq!(fs::read(&spill).expect("spilled"), bytes);
        assert_eq!((got[0].key.as_str(), got[0].size), ("index.html", 4));
    }

    #[test]
    fn a_work_folder_file_that_cannot_be_read_is_tried_again_not_blamed_on_the_archive() {
        let dir = tempfile::tempdir().expect("dir");
        let (unreadable, into) = (dir.path().join("a-folder"), dir.path().join("unpacked"));
        fs::create_dir(&unreadable).expect("folder");
        let got = unpack(&unreadable, &into, "site.tar.gz", &spec(serde_json::json!({})));
        assert!(matches!(&got, Err(Failure::Local(why)) if why.contains("a-folder")), "{:?}", got.err());
        // A zip written whole to a file the unpacker then cannot read.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("index.html", zip::write::SimpleFileOptions::default()).expect("file");
        let stream = std::io::Cursor::new(zip.finish().expect("zip").into_inner());
        let got = unpack_from(stream, &into, "site.zip", &spec(serde_json::json!({})), |_| Ok(unreadable.clone()));
        assert!(matches!(&got, Err(Failure::Local(why)) if why.contains("a-folder")), "{:?}", got.err());
        // Failing inside a tar.gz, under the gzip and tar readers.
        let tar = tar_of(&[("index.html", Regular, &[7u8; 100_000], None)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(&tar).expect("gz");
        let whole = gz.finish().expect("gz");
        let half = WorkFileFailsAt { bytes: std::io::Cursor::new(whole[..whole.len() / 2].to_vec()) };
        let got = unpack_from(BufReader::new(half), &into, "site.tar.gz", &spec(serde_json::json!({})), |_| {
            unreachable!("not a zip")
        });
        assert!(matches!(&got, Err(Failure::Local(why)) if why.contains("the-work-file")), "{:?}", got.err());
    }

    /// Gives its bytes, then fails as the work folder's file would.
    struct WorkFileFailsAt {
        bytes: std::io::Cursor<Vec<u8>>,
    }

    impl Read for WorkFileFailsAt {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.bytes.read(buf)? {
                0 => {
                    let error = std::io::Error::other("EIO");
                    Err(std::io::Error::other(WorkFolderError { path: "the-work-file".into(), error }))
                }
                n => Ok(n),
            }
        }
    }

    #[test]
    fn paths_and_links_out_of_the_tree_are_refused() {
        let any = spec(serde_json::json!({}));
        let refused = |entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]| {
            unpacked(&tar_of(entries), &any).expect_err("refused")
        };
        assert!(refused(&[("../etc/passwd", Regular, b"x", None)]).contains("out of the archive"));
        assert!(refused(&[("a/../../x", Regular, b"x", None)]).contains("out of the archive"));
        assert!(refused(&[("/etc/passwd", Regular, b"x", None)]).contains("out of the archive"));
        assert!(refused(&[("evil", Symlink, b"", Some("../../etc/passwd"))]).contains("points out"));
        assert!(refused(&[("evil", Symlink, b"", Some("/etc/passwd"))]).contains("points out"));
        assert!(refused(&[("hard", Link, b"", Some("missing.txt"))]).contains("not a file served"));
        assert!(refused(&[("a", Regular, b"1", None), ("./a", Regular, b"2", None)]).contains("twice"));
        assert!(refused(&[(".awsops/manifest.json", Regular, b"{}", None)]).contains(".awsops/"));
        assert!(refused(&[("dev", tar::EntryType::Fifo, b"", None)]).contains("not a file"));
    }

    #[test]
    fn long_names_are_read_and_a_huge_name_record_or_a_gzip_bomb_is_refused() {
        let long = format!("public/{}/index.html", "deep".repeat(40));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        builder.append_data(&mut header, &long, &b"ok"[..]).expect("a GNU long name entry");
        let got = unpacked(&builder.into_inner().expect("tar"), &spec(serde_json::json!({"path": "public"})));
        assert_eq!(got.expect("unpacked")[0].0, long.trim_start_matches("public/"));

        let record = vec![b'a'; 100 * 1024];
        let tar = tar_of(&[("././@LongLink", tar::EntryType::GNULongName, &record, None)]);
        assert!(unpacked(&tar, &spec(serde_json::json!({}))).expect_err("refused").contains("name record"));

        let zeros = vec![0u8; 4 * 1024 * 1024];
        let bomb = tar_of(&[("outside/zeros.bin", Regular, &zeros, None), ("index.html", Regular, b"x", None)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bomb).expect("gz");
        let small = spec(serde_json::json!({"maxBytes": 1024 * 1024, "maxFiles": 10, "path": "public"}));
        let message = unpacked(&gz.finish().expect("gz"), &small).expect_err("inflates too far");
        assert!(message.contains("inflates to more than"), "{message}");
    }

    #[test]
    fn limits_and_formats_are_checked_before_anything_is_uploaded() {
        let tar = tar_of(&[("a", Regular, b"12", None), ("b", Regular, b"34", None)]);
        assert!(unpacked(&tar, &spec(serde_json::json!({"maxFiles": 1}))).expect_err("files").contains("maxFiles"));
        assert!(unpacked(&tar, &spec(serde_json::json!({"maxBytes": 3}))).expect_err("bytes").contains("maxBytes"));
        assert!(unpacked(b"plain text", &spec(serde_json::json!({}))).expect_err("format").contains("not a tar"));
        let only_readme = tar_of(&[("README.md", Regular, b"x", None)]);
        let message = unpacked(&only_readme, &spec(serde_json::json!({"path": "public"}))).expect_err("empty");
        assert!(message.contains("no files under spec.content.path \"public/\""), "{message}");
    }
}
